"""acsdet's registry nodes.

acsdet follows mmyolo: every node is a *child* of the matching MMDetection node, with
``locations`` naming the acsdet sub-package that fills it.  A config with
``default_scope = 'acsdet'`` therefore finds acsdet's own modules first and falls back to
mmdet's and mmengine's (``type='MaskRCNN'``, ``type='mmdet.ResNet'`` and ``type='SGD'`` all
resolve), and mmengine imports the right acsdet sub-package lazily when a type is looked up.

Why child registries rather than registering into mmdet's nodes through ``custom_imports``:
names stay namespaced (``acsdet.X`` never silently shadows ``mmdet.X``), configs need no
``custom_imports`` boiler-plate, and the fallback chain acsdet -> mmdet -> mmengine is explicit.

One exception, by design: the convolution layers of :mod:`acsdet.models.layers` are
registered in mmengine's *root* ``MODELS`` node (where mmcv keeps ``Conv2d``/``Conv3d``), so
``mmcv.cnn.build_conv_layer(dict(type='ACSConv'), ...)`` works from any scope, including
inside unmodified mmcv / mmdet modules that take a ``conv_cfg``.
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import EVALUATOR as MMDET_EVALUATOR
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import LOG_PROCESSORS as MMDET_LOG_PROCESSORS
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODEL_WRAPPERS as MMDET_MODEL_WRAPPERS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMDET_OPTIM_WRAPPER_CONSTRUCTORS
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS
from mmdet.registry import OPTIMIZERS as MMDET_OPTIMIZERS
from mmdet.registry import PARAM_SCHEDULERS as MMDET_PARAM_SCHEDULERS
from mmdet.registry import RUNNER_CONSTRUCTORS as MMDET_RUNNER_CONSTRUCTORS
from mmdet.registry import RUNNERS as MMDET_RUNNERS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISBACKENDS as MMDET_VISBACKENDS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmdet.registry import WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'acsdet'

RUNNERS = Registry('runner', parent=MMDET_RUNNERS, scope=SCOPE)
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMDET_RUNNER_CONSTRUCTORS, scope=SCOPE)
LOOPS = Registry(
    'loop', parent=MMDET_LOOPS, scope=SCOPE, locations=['acsdet.engine'])
HOOKS = Registry(
    'hook', parent=MMDET_HOOKS, scope=SCOPE,
    locations=['acsdet.engine.hooks'])

DATASETS = Registry(
    'dataset', parent=MMDET_DATASETS, scope=SCOPE,
    locations=['acsdet.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMDET_DATA_SAMPLERS, scope=SCOPE,
    locations=['acsdet.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMDET_TRANSFORMS, scope=SCOPE,
    locations=['acsdet.datasets.transforms'])

MODELS = Registry(
    'model', parent=MMDET_MODELS, scope=SCOPE, locations=['acsdet.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMDET_MODEL_WRAPPERS, scope=SCOPE,
    locations=['acsdet.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMDET_WEIGHT_INITIALIZERS, scope=SCOPE,
    locations=['acsdet.models'])

OPTIMIZERS = Registry(
    'optimizer', parent=MMDET_OPTIMIZERS, scope=SCOPE,
    locations=['acsdet.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMDET_OPTIM_WRAPPERS, scope=SCOPE,
    locations=['acsdet.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMDET_OPTIM_WRAPPER_CONSTRUCTORS,
    scope=SCOPE, locations=['acsdet.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMDET_PARAM_SCHEDULERS, scope=SCOPE,
    locations=['acsdet.engine'])

METRICS = Registry(
    'metric', parent=MMDET_METRICS, scope=SCOPE,
    locations=['acsdet.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMDET_EVALUATOR, scope=SCOPE,
    locations=['acsdet.evaluation'])

TASK_UTILS = Registry(
    'task util', parent=MMDET_TASK_UTILS, scope=SCOPE,
    locations=['acsdet.models'])

VISUALIZERS = Registry(
    'visualizer', parent=MMDET_VISUALIZERS, scope=SCOPE,
    locations=['acsdet.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMDET_VISBACKENDS, scope=SCOPE,
    locations=['acsdet.visualization'])
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMDET_LOG_PROCESSORS, scope=SCOPE,
    locations=['acsdet.engine'])
