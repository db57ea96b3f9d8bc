# ACS paper section IV-B (Table V, segmentation): LIDC-IDRI nodules, ResNet-18 FCN (stride-1
# stem, no max-pool, FCN decoder with two x2 upsamplings) converted as a whole to ACS.
#   .venv/bin/python data_prep/lidc_to_npz.py data/LIDC-IDRI data/lidc --size 64
#   .venv/bin/python tools/train.py configs/lidc/fcn_r18_acs_lidc.py          # "ACS r."
# "ACS p." (ImageNet encoder): torchvision's resnet18 state dict file, e.g.
#   --cfg-options model.network.init_cfg.checkpoint=checkpoints/resnet18-f37072fd.pth
# Siblings fcn_r18_3d_lidc.py (I3D inflation of the same weights with a 2D checkpoint: "3D p.
# I3D"), fcn_r18_2.5d_lidc.py, and the appendix's variants (Table A1) fcn_r18_mean_acs_lidc.py
# and fcn_r18_soft_acs_lidc.py differ by conv_type only.
_base_ = [
    '../_base_/datasets/lidc_nodules.py', '../_base_/schedules/schedule_adam_100e_lidc.py',
    '../_base_/seg_runtime.py'
]

model = dict(
    type='VolumeSegmentor',
    network=dict(
        type='FCNResNet3D',
        num_classes=_base_.num_classes,
        in_channels=1,
        depth=18,
        conv_type='acs',
        init_cfg=dict(type='Pretrained', checkpoint=None)),
    # the paper (and the authors' code): soft Dice over the softmax of both classes
    loss=dict(type='SoftDiceLoss', ignore_background=False, loss_name='loss_dice'),
    # 48^3 nodule crops are tested whole (sizes divisible by 4)
    test_cfg=dict(mode='whole'))

# schedule (base): Adam, lr 1e-3, 100 epochs, x0.1 after 50 and 75, validation every epoch;
# batch 8 (dataset base). Keep the best Dice global checkpoint (Table V).
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2,
                    save_best='dice/global/mean', rule='greater'))
