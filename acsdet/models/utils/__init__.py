from .batch_inputs import stack_inputs
from .complexity import count_complexity
from .sync_bn_3d import AllReduceSyncBatchNorm, SyncBNDistributedDataParallel, convert_sync_bn_3d

__all__ = [
    'stack_inputs', 'count_complexity', 'AllReduceSyncBatchNorm', 'SyncBNDistributedDataParallel',
    'convert_sync_bn_3d'
]
