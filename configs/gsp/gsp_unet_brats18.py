# GSP-Conv on BraTS18 (He et al., MICCAI 2021, section 3.2): the pointwise tiny 3D U-Net with
# Group Shift at "CSC" (the best position on BraTS18, 81.2 mDice) and the BraTS spatial
# groups, per stage 1..5: (2,2,2) (2,2,2) (2,2,2) (4,4,4) (5,5,5); C_s = C_k = C / 2.
# With 64 x 128 x 128 crops stage 5 is 4 x 8 x 8: GroupShift's 'pad' rule pads its depth to 5.
#   .venv/bin/python data_prep/brats18_to_json.py data/MICCAI_BraTS_2018_Data_Training data/brats18
#   .venv/bin/python tools/train.py configs/gsp/gsp_unet_brats18.py
# Baselines (Table 1): unet3d_brats18.py (3x3x3, 80.5) and pointwise_unet_brats18.py
# (1x1x1 without GS, 79.6).  Other positions: --cfg-options model.network.gs_position=CCS.
# Recipe (section 3): SGD, lr 0.01, poly decay with power 0.9, batch 4, Dice loss; momentum
# and training length are not given: 0.99 and 300 epochs here.
# Labels are BraTS 1 / 2 / 4 remapped to 1 / 2 / 3; Dice per label and of the WT / TC / ET
# regions of Table 1 (best checkpoint by their mean, the paper's mDice).
_base_ = ['../_base_/datasets/brats18.py', '../_base_/seg_runtime.py']

model = dict(
    type='VolumeSegmentor',
    network=dict(
        type='GSPUNet3D', in_channels=4, num_classes=4, base_channels=16,
        channel_multipliers=(1, 2, 4, 8, 16), kernel_size=1, gs_position='CSC',
        spatial_groups='BraTSSG', shift_ratio=0.5),
    loss=dict(type='SoftDiceLoss', ignore_background=True, loss_name='loss_dice'),
    test_cfg=dict(mode='slide', window=(64, 128, 128), overlap=0.5, blend='gaussian'))

max_epochs = 300
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
                    save_best='region_dice/per_case/mean', rule='greater'),
)
