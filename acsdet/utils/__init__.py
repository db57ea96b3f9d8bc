from .safe_checkpoint import (UnsafeCheckpointError, allow_mmengine_checkpoint_types,
                              install_safe_checkpoint_loading, load_local_checkpoint,
                              read_state_dict)
from .segmentation_labels import IGNORE_INDEX
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'UnsafeCheckpointError', 'allow_mmengine_checkpoint_types',
    'install_safe_checkpoint_loading', 'load_local_checkpoint', 'read_state_dict', 'IGNORE_INDEX'
]
