# GSP-Conv CPU benchmark, organ set: the 3D FCN baseline (tiny 3D U-Net, 3x3x3 convolutions;
# the paper's Table 1 "3D FCN").  docs/gsp_conv.md; all runs: tools/analysis_tools/gsp_tables.py
#   .venv/bin/python data_prep/make_gsp_bench.py data/gsp_bench
#   .venv/bin/python tools/train.py configs/gsp/bench/unet3d_organ.py
_base_ = [
    '../../_base_/datasets/gsp_bench_organ.py', '../../_base_/models/tiny_unet3d_gspbench.py',
    '../../_base_/schedules/schedule_adam_80e_gspbench.py', '../../_base_/seg_runtime.py'
]

model = dict(network=dict(num_classes=2))

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=80, max_keep_ckpts=1, save_best=None))
