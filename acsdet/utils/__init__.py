from .safe_checkpoint import (UnsafeCheckpointError, allow_mmengine_checkpoint_types,
                              install_safe_checkpoint_loading, load_local_checkpoint,
                              read_state_dict)
from .segmentation_labels import IGNORE_INDEX

__all__ = [
    'UnsafeCheckpointError', 'allow_mmengine_checkpoint_types',
    'install_safe_checkpoint_loading', 'load_local_checkpoint', 'read_state_dict', 'IGNORE_INDEX'
]
