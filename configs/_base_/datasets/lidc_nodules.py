# LIDC-IDRI nodule segmentation in the ACS paper's setting (section IV-B): one 48^3 crop
# (1 mm isotropic) per nodule, labels 0 background / 1 nodule, a 4:1 split by patient.
# Data: the TCIA LIDC-IDRI DICOM + XML download under data/LIDC-IDRI/, then
#   .venv/bin/python data_prep/lidc_to_npz.py data/LIDC-IDRI data/lidc
# (writes data/lidc/nodules/*.npz and data/lidc/lidc_nodules.json; docs/segmentation_data.md).
# Augmentation as the paper: random-centre cropping, random-axis rotation and flipping.
# Random-centre cropping needs context around the 48^3 window: convert with --size 64 (the
# crop below then moves the centre by up to +-8 voxels); on 48^3 crops it keeps them whole.
# Validation reads the whole converted crops.
_base_ = ['./volume_seg_dataloaders.py']

data_root = 'data/lidc/'
ann_file = 'lidc_nodules.json'
num_classes = 2
lidc_classes = ('background', 'nodule')
crop_size = (48, 48, 48)
hu_window = (-1024, 400)   # lung window, mapped to [0, 1] (the paper gives none)

train_pipeline = [
    dict(type='LoadVolumeFromFile'),
    dict(type='ClipNormalizeVolume', clip_range=hu_window, mode='minmax'),
    dict(type='RandomCropVolume', crop_size=crop_size),
    dict(type='RandomRot90Volume', prob=0.5, planes=((0, 1), (0, 2), (1, 2))),
    dict(type='RandomRotateVolume', prob=0.5, max_angle=30, planes=((0, 1), (0, 2), (1, 2))),
    dict(type='RandomFlipVolume', prob=0.5, axes=(0, 1, 2)),
    dict(type='PackVolumeInputs'),
]
test_pipeline = [
    dict(type='LoadVolumeFromFile'),
    dict(type='ClipNormalizeVolume', clip_range=hu_window, mode='minmax'),
    dict(type='PackVolumeInputs'),
]

train_dataloader = dict(
    batch_size=8,   # the paper's segmentation batch
    dataset=dict(data_root=data_root, ann_file=ann_file, metainfo=dict(classes=lidc_classes),
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file=ann_file, metainfo=dict(classes=lidc_classes),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# Table V reports Dice global: dice/global/class_1 (= dice/global/mean with one class).
val_evaluator = [
    dict(type='DiceMetric', num_classes=num_classes, ignore_background=True),
    # HD95 / ASSD in mm (SurfaceDistanceMetric: empty prediction / ground truth conventions)
    dict(type='SurfaceDistanceMetric', num_classes=num_classes),
]
test_evaluator = val_evaluator
