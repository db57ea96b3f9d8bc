# PROMISE12 prostate segmentation in the GSP-Conv paper's setting (section 3): labels
# 0 background / 1 prostate; 16 x 128 x 128 (D, H, W) random crops; every volume z-scored
# with the statistics of its own foreground (non-zero) voxels; a seeded 8:2 split.
# Data: the challenge's CaseNN.mhd / CaseNN_segmentation.mhd under data/promise12/, then
#   .venv/bin/python data_prep/promise12_to_json.py data/promise12   # data/promise12/promise12.json
# Flips and rotation are acsdet's additions (the paper names no augmentation).
_base_ = ['./volume_seg_dataloaders.py']

data_root = 'data/promise12/'
ann_file = 'promise12.json'
num_classes = 2
promise12_classes = ('background', 'prostate')
crop_size = (16, 128, 128)

train_pipeline = [
    dict(type='LoadVolumeFromFile'),
    dict(type='NormalizeNonzeroVolume'),
    dict(type='RandomCropVolume', crop_size=crop_size, fg_prob=0.5),
    dict(type='RandomFlipVolume', prob=0.5, axes=(1, 2)),
    dict(type='RandomRotateVolume', prob=0.3, max_angle=15, planes=((1, 2), )),
    dict(type='PackVolumeInputs'),
]
test_pipeline = [
    dict(type='LoadVolumeFromFile'),
    dict(type='NormalizeNonzeroVolume'),
    dict(type='PackVolumeInputs'),
]

train_dataloader = dict(
    batch_size=4,   # the paper's batch
    dataset=dict(data_root=data_root, ann_file=ann_file, metainfo=dict(classes=promise12_classes),
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file=ann_file, metainfo=dict(classes=promise12_classes),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# The paper's "mDice" = Dice of the prostate per case: dice/per_case/mean.
val_evaluator = [
    dict(type='DiceMetric', num_classes=num_classes, ignore_background=True),
    # HD95 / ASSD in mm (SurfaceDistanceMetric: empty prediction / ground truth conventions)
    dict(type='SurfaceDistanceMetric', num_classes=num_classes),
]
test_evaluator = val_evaluator
