# acsdet runtime defaults (mmdet's, with acsdet's registry scope).
default_scope = 'acsdet'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # acsdet's DetVisualizationHook: DeepLesion 16-bit PNGs read as HU (8-bit images as is),
    # GT + predictions drawn in a CT window; `tools/test.py --show-dir DIR` turns it on.
    visualization=dict(type='CTDetVisualizationHook', score_thr=0.3))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches nccl to gloo on machines without CUDA
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
# no fixed `name`: the Runner names the visualizer after the run (config + timestamp).  A
# fixed name makes a second Runner in the same process reuse the first one's visualizer,
# and with it the first run's vis_data folder.
visualizer = dict(
    type='CTDetLocalVisualizer', vis_backends=vis_backends, window='soft_tissue', alpha=0.5)
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
