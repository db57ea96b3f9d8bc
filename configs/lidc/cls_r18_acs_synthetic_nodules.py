# CPU-sized end-to-end run of the LIDC classifier (issue 17) on the generated malignancy-like
# nodules (smooth "benign" against lobulated / spiculated "malignant": synthetic, see
# docs/classification.md): ACS ResNet-18 "r.", as cls_r18_acs_lidc.py, on 16^3 crops at 1.5 mm
# (24 mm fields of view, drawn from 20^3 volumes with a +-2 voxel centre shift; nodules of
# 3-6 mm radius) and a short schedule, so the whole run fits in 20 minutes on a 2-core CPU.
#   .venv/bin/python data_prep/make_synthetic_nodules.py data/synthetic_nodules_cpu --num 400 \
#       --size 20 --spacing 1.5 --radius-mm 3 6
#   .venv/bin/python tools/train.py configs/lidc/cls_r18_acs_synthetic_nodules.py
_base_ = ['./cls_r18_acs_lidc.py']

data_root = 'data/synthetic_nodules_cpu/'
crop_size = (16, 16, 16)
hu_window = (-1024, 400)
max_epochs = 40

train_pipeline = [
    dict(type='LoadVolumeFromFile', with_label=False),
    dict(type='ClipNormalizeVolume', clip_range=hu_window, mode='minmax'),
    dict(type='CenterCropVolume', crop_size=crop_size, max_shift=2),
    dict(type='RandomRot90Volume', prob=0.75, planes=((0, 1), (0, 2), (1, 2))),
    dict(type='RandomFlipVolume', prob=0.5, axes=(0, 1, 2)),
    dict(type='PackVolumeInputs'),
]
test_pipeline = [
    dict(type='LoadVolumeFromFile', with_label=False),
    dict(type='ClipNormalizeVolume', clip_range=hu_window, mode='minmax'),
    dict(type='CenterCropVolume', crop_size=crop_size),
    dict(type='PackVolumeInputs'),
]
train_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[25, 35],
         gamma=0.1)
]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=1, max_keep_ckpts=1))
randomness = dict(seed=0)
