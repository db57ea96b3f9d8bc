# 2D pretraining of the proof-of-concept U-Net (ACS paper section IV-A): UNet2D on the 2D POC
# shapes (circle / square, 48 x 48); its checkpoint is the 2D checkpoint of the "p." models:
#   .venv/bin/python data_prep/make_poc_shapes.py data/poc
#   .venv/bin/python tools/train.py configs/poc/unet2d_poc2d.py
#   .venv/bin/python tools/train.py configs/poc/acs_unet_poc3d.py --cfg-options \
#       model.network.init_cfg.checkpoint=work_dirs/unet2d_poc2d/epoch_100.pth \
#       "model.network.init_cfg.skip=[classifier]"
# (3 classes here, 6 in 3D: the 1x1 classifier is not transferred.)  Same loss and optimiser
# as the 3D configs (this project's first protocol; the authors' 2D schedule, from their
# public code, is in authors_unet2d_poc2d.py).
# tools/analysis_tools/poc_table4.py runs this and the five Table IV runs in one command.
_base_ = [
    '../_base_/datasets/poc_shapes2d.py', '../_base_/schedules/schedule_adam_100e_lidc.py',
    '../_base_/seg_runtime.py'
]

model = dict(
    type='VolumeSegmentor',
    network=dict(type='UNet2D', in_channels=1, num_classes=3, widths=(16, 32, 64, 128)),
    loss=[
        dict(type='SoftDiceLoss', ignore_background=True, loss_name='loss_dice'),
        dict(type='SegCrossEntropyLoss', loss_weight=1.0, loss_name='loss_ce'),
    ],
    test_cfg=dict(mode='whole'))

train_cfg = dict(val_interval=10)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2,
                    save_best='dice/per_case/mean', rule='greater'),
)
