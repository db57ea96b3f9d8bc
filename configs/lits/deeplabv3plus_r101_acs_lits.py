# ACS paper section IV-C (Table VI): LiTS liver / tumour segmentation, DeepLabv3+ with a
# torchvision ResNet-101 (output stride 16, ASPP 6/12/18, v3+ decoder) converted as a whole
# to ACS.
#   .venv/bin/python data_prep/lits_to_json.py data/lits
#   .venv/bin/python tools/train.py configs/lits/deeplabv3plus_r101_acs_lits.py      # "ACS r."
# "ACS p." (ImageNet encoder): torchvision's resnet101 state dict file, e.g.
#   --cfg-options model.network.init_cfg.checkpoint=checkpoints/resnet101-63fe2227.pth
# Siblings deeplabv3plus_r101_3d_lits.py and deeplabv3plus_r101_2.5d_lits.py differ by
# conv_type only.
_base_ = ['../_base_/datasets/lits_liver_tumor.py', '../_base_/seg_runtime.py']

model = dict(
    type='VolumeSegmentor',
    network=dict(
        type='DeepLabV3PlusResNet3D',
        num_classes=_base_.num_classes,
        in_channels=1,
        depth=101,
        output_stride=16,
        conv_type='acs',
        init_cfg=dict(type='Pretrained', checkpoint=None)),
    # the paper names no loss for LiTS: soft Dice of liver and tumour + cross-entropy
    loss=[
        dict(type='SoftDiceLoss', ignore_background=True, loss_name='loss_dice'),
        dict(type='SegCrossEntropyLoss', loss_weight=1.0, loss_name='loss_ce'),
    ],
    # training crops 64 x 224 x 224 (dataset base); test windows 64 x 512 x 512 at a depth
    # step of 24 (overlap 0.625), as the paper
    test_cfg=_base_.lits_slide_test_cfg)

# Adam, lr 1e-3, 6000 epochs, x0.1 after 3000 and 4500 (the paper); batch 2 (dataset base;
# the paper gives none, and BatchNorm of the ASPP image pooling needs at least 2).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=6000, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=6000, by_epoch=True, milestones=[3000, 4500],
         gamma=0.1)
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=100, max_keep_ckpts=2,
                    save_best='dice/per_case/mean', rule='greater'))
