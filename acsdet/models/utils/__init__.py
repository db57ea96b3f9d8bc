from .sync_bn_3d import AllReduceSyncBatchNorm, SyncBNDistributedDataParallel, convert_sync_bn_3d

__all__ = ['AllReduceSyncBatchNorm', 'SyncBNDistributedDataParallel', 'convert_sync_bn_3d']
