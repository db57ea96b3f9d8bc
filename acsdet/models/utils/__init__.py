from .complexity import count_complexity
from .sync_bn_3d import AllReduceSyncBatchNorm, SyncBNDistributedDataParallel, convert_sync_bn_3d

__all__ = [
    'count_complexity', 'AllReduceSyncBatchNorm', 'SyncBNDistributedDataParallel',
    'convert_sync_bn_3d'
]
