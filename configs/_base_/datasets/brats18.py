# BraTS18 brain tumour segmentation in the GSP-Conv paper's setting (section 3): 4 MR
# modalities (flair, t1, t1ce, t2) as 4 channels; 64 x 128 x 128 (D, H, W) random crops;
# every modality z-scored over its non-zero (brain) voxels; a seeded 8:2 split.
# Labels after data_prep/brats18_to_json.py: 0 background, 1 necrotic / non-enhancing core
# (BraTS 1), 2 oedema (BraTS 2), 3 enhancing tumour (BraTS 4).
#   .venv/bin/python data_prep/brats18_to_json.py data/MICCAI_BraTS_2018_Data_Training data/brats18
# Flips and rotation are acsdet's additions (the paper names no augmentation).
_base_ = ['./volume_seg_dataloaders.py']

data_root = 'data/brats18/'
ann_file = 'brats18.json'
num_classes = 4
in_channels = 4
brats_classes = ('background', 'necrotic core', 'oedema', 'enhancing tumour')
crop_size = (64, 128, 128)

train_pipeline = [
    dict(type='LoadVolumeFromFile'),
    dict(type='NormalizeNonzeroVolume'),
    dict(type='RandomCropVolume', crop_size=crop_size, fg_prob=0.5),
    dict(type='RandomFlipVolume', prob=0.5, axes=(0, 1, 2)),
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
    dataset=dict(data_root=data_root, ann_file=ann_file, metainfo=dict(classes=brats_classes),
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file=ann_file, metainfo=dict(classes=brats_classes),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# Dice per label (dice/...) and the challenge's regions (region_dice/...: whole tumour
# WT = 1+2+3, tumour core TC = 1+3, enhancing ET = 3; region_dice/per_case/mean is the
# GSP paper's mDice over WT, TC, ET).
val_evaluator = [
    dict(type='DiceMetric', num_classes=num_classes, ignore_background=True),
    dict(type='RegionDiceMetric'),
    # HD95 / ASSD in mm per label and per region (WT / TC / ET); a missed or hallucinated
    # region scores the volume diagonal (BraTS: 373 mm)
    dict(type='SurfaceDistanceMetric', num_classes=num_classes,
         regions=dict(WT=(1, 2, 3), TC=(1, 3), ET=(3, ))),
]
test_evaluator = val_evaluator
