# acsdet runtime defaults for classification (VolumeClassifier configs): everything of
# default_runtime.py except its detection visualizer, plus the ROC curve of every evaluation
# (ROCCurveHook: <work_dir>/roc/cls_epoch_<e>.png, also pushed to the visualizer backends).
_base_ = ['./default_runtime.py']

default_hooks = dict(
    _delete_=True,  # default_runtime's without its detection visualization hook
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='ROCCurveHook')]

# a plain mmengine Visualizer: the backends keep the scalars and the ROC pictures
visualizer = dict(_delete_=True, type='Visualizer', vis_backends=_base_.vis_backends)
