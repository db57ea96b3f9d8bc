# ACS proof of concept (paper section IV-A, Table IV): a 2D U-Net converted as a whole to
# ACS convolutions, trained on the 3D POC shapes with Dice + cross-entropy, Dice validation.
#   .venv/bin/python data_prep/make_poc_shapes.py data/poc
#   .venv/bin/python tools/train.py configs/poc/acs_unet_poc3d.py
# "p." (2D-pretrained) run: add
#   --cfg-options model.network.init_cfg.checkpoint=work_dirs/<2d run>/epoch_N.pth
# (a checkpoint of the same UNet2D, e.g. trained on poc_2d; keys may carry 'network.'), and
#   "model.network.init_cfg.skip=[classifier]" when it has another number of classes.
# Siblings: 3d_unet_poc3d.py, 2.5d_unet_poc3d.py differ by conv_type only.
_base_ = [
    '../_base_/datasets/poc_shapes3d.py', '../_base_/schedules/schedule_adam_100e_lidc.py',
    '../_base_/seg_runtime.py'
]

conv_type = 'acs'

model = dict(
    type='VolumeSegmentor',
    network=dict(
        type='ConvertedUNet3D',
        unet=dict(type='UNet2D', in_channels=1, num_classes=6, widths=(16, 32, 64, 128)),
        conv_type=conv_type,
        init_cfg=dict(type='Pretrained', checkpoint=None)),
    loss=[
        dict(type='SoftDiceLoss', ignore_background=True, loss_name='loss_dice'),
        dict(type='SegCrossEntropyLoss', loss_weight=1.0, loss_name='loss_ce'),
    ],
    # 48^3 volumes fit whole; for larger ones use
    # test_cfg=dict(mode='slide', window=(48, 48, 48), overlap=0.5, blend='gaussian')
    test_cfg=dict(mode='whole'))

# The paper's LIDC recipe (section IV-B, the schedule base): Adam, lr 1e-3, 100 epochs, x0.1 at
# 50 and 75; validation every 10 epochs.
train_cfg = dict(val_interval=10)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2,
                    save_best='dice/per_case/mean', rule='greater'),
    # visualization (seg_runtime.py): SegVisualizationHook, 3 slices of 2 volumes per validation
)
