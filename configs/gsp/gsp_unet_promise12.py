# GSP-Conv on PROMISE12 (He et al., MICCAI 2021, section 3.1): the pointwise tiny 3D U-Net
# with Group Shift at the "CSC" position and the spatial groups ProSGv3, the paper's best
# PROMISE12 setting (Table 2: 85.6 mDice), C_s = C_k = C / 2.
#   .venv/bin/python data_prep/promise12_to_json.py data/promise12
#   .venv/bin/python tools/train.py configs/gsp/gsp_unet_promise12.py
# Table 2's other spatial groups (per stage 1..5, (g_d, g_h, g_w)):
#   ProSGv1 (2,2,2) (2,2,2) (2,4,4) (1,8,8) (1,8,8)  -> gsp_unet_promise12_prosgv1.py
#   ProSGv2 (1,2,2) (1,4,4) (2,4,4) (1,8,8) (1,8,8)  -> gsp_unet_promise12_prosgv2.py
#   ProSGv3 (2,2,2) (1,4,4) (1,4,4) (1,8,8) (1,8,8)  -> this file
#   ProSGv4 (1,2,2) (2,2,2) (2,4,4) (1,8,8) (1,8,8)  -> gsp_unet_promise12_prosgv4.py
# The GS position: --cfg-options model.network.gs_position=CCS (CSC, CCS, CSCS, CSCSUpShift).
# Baselines (Table 1): unet3d_promise12.py (3x3x3, 87.3) and pointwise_unet_promise12.py
# (1x1x1 without GS, 65.5).
# Recipe (section 3): SGD, lr 0.01, poly decay with power 0.9, batch 4, Dice loss.  The
# paper gives neither the momentum nor the training length: 0.99 (nnU-Net's) and 500 epochs
# here.
_base_ = ['../_base_/datasets/promise12_prostate.py', '../_base_/seg_runtime.py']

model = dict(
    type='VolumeSegmentor',
    network=dict(
        type='GSPUNet3D', in_channels=1, num_classes=2, base_channels=16,
        channel_multipliers=(1, 2, 4, 8, 16), kernel_size=1, gs_position='CSC',
        spatial_groups='ProSGv3', shift_ratio=0.5),
    loss=dict(type='SoftDiceLoss', ignore_background=True, loss_name='loss_dice'),
    # whole volumes are tiled with training-sized windows
    test_cfg=dict(mode='slide', window=(16, 128, 128), overlap=0.5, blend='gaussian'))

max_epochs = 500
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.99, nesterov=True, weight_decay=3e-5))
param_scheduler = [
    dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_epochs, by_epoch=True)
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2,
                    save_best='dice/per_case/mean', rule='greater'),
    # visualization (seg_runtime.py): SegVisualizationHook, 3 slices of 2 volumes per validation
)
