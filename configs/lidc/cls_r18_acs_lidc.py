# ACS paper section IV-B (Table V, classification): LIDC-IDRI nodule malignancy, ResNet-18
# (7x7 stem at stride 1, no max-pool, layer2 / layer4 downsampling: the authors' ClsResNet)
# converted as a whole to ACS, global average pool + linear, cross entropy on 2 classes.
#   .venv/bin/python data_prep/lidc_to_npz.py data/LIDC-IDRI data/lidc --size 64
#   .venv/bin/python tools/train.py configs/lidc/cls_r18_acs_lidc.py          # "ACS r."
# Siblings (one line each): cls_r18_{2.5d,3d,mean_acs,soft_acs}_lidc.py (conv_type) and the
# "p." rows cls_r18_*_p_lidc.py (torchvision's ImageNet resnet18 file; 3D p. I3D-inflated);
# VGG-16 (Table A4) and DenseNet-121 (Table A5): cls_vgg16_*, cls_densenet121_*.
# The table of rows and configs: docs/classification.md.
_base_ = [
    '../_base_/datasets/lidc_malignancy.py', '../_base_/schedules/schedule_adam_100e_lidc.py',
    '../_base_/cls_runtime.py'
]

model = dict(
    type='VolumeClassifier',
    network=dict(type='ClsResNet3D', depth=18, in_channels=1, conv_type='acs',
                 init_cfg=dict(type='Pretrained', checkpoint=None)),
    head=dict(type='PooledLinearClsHead', num_classes=_base_.num_classes))

# schedule (base): Adam, lr 1e-3, 100 epochs, x0.1 after 50 and 75, validation every epoch;
# batch 24 (dataset base).  The authors report the best test AUC of the run: keep the best
# checkpoint by cls/auc (on the validation split, which is the paper's evaluation split).
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2,
                    save_best='cls/auc', rule='greater'))
