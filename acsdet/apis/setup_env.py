"""Environment set-up shared by the tools, the tests and user scripts."""
import datetime
import warnings

from mmengine import DefaultScope

from acsdet.utils.safe_checkpoint import install_safe_checkpoint_loading


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register acsdet's (and mmdet's) modules and make checkpoints load safely.

    Importing the sub-packages fills acsdet's registries; mmdet's are filled by
    :func:`mmdet.utils.register_all_modules`.  It also installs acsdet's weights-only
    checkpoint loading (:mod:`acsdet.utils.safe_checkpoint`).

    Args:
        init_default_scope (bool): Set the default scope to ``'acsdet'`` so that registry
            look-ups start at acsdet's nodes and fall back to mmdet's and mmengine's.
            Defaults to True.
    """
    from mmdet.utils import register_all_modules as register_mmdet_modules
    register_mmdet_modules(init_default_scope=False)

    import acsdet.datasets  # noqa: F401,F811
    import acsdet.engine  # noqa: F401,F811
    import acsdet.evaluation  # noqa: F401,F811
    import acsdet.models  # noqa: F401,F811
    import acsdet.models.converters  # noqa: F401,F811
    import acsdet.visualization  # noqa: F401,F811

    install_safe_checkpoint_loading()

    if init_default_scope:
        never_created = DefaultScope.get_current_instance() is None \
            or not DefaultScope.check_instance_created('acsdet')
        if never_created:
            DefaultScope.get_instance('acsdet', scope_name='acsdet')
            return
        current_scope = DefaultScope.get_current_instance()
        if current_scope.scope_name != 'acsdet':
            warnings.warn('The current default scope '
                          f'"{current_scope.scope_name}" is not "acsdet", '
                          '`register_all_modules` will force the current'
                          'default scope to be "acsdet". If this is not '
                          'expected, please set `init_default_scope=False`.')
            # avoid name conflict
            new_instance_name = f'acsdet-{datetime.datetime.now()}'
            DefaultScope.get_instance(new_instance_name, scope_name='acsdet')
