# LIDC-IDRI nodule malignancy classification in the ACS paper's setting (section IV-B, Table
# V's AUC): one crop per nodule, label = the mode of the readers' ratings, 1-2 benign (0) /
# 4-5 malignant (1), nodules of mode 3 left out; a 4:1 split (by patient: one patient's
# nodules stay on one side).  Data: the TCIA LIDC-IDRI DICOM + XML download, then
#   .venv/bin/python data_prep/lidc_to_npz.py data/LIDC-IDRI data/lidc --size 64
# (data/lidc/lidc_nodules.json: the segmentation configs read the same file).
# Crops and augmentation as the authors' code (M3DV/ACSConv experiments/lidc/): a 48^3 crop
# whose centre moves by up to +-5 voxels per axis, random 90-degree rotations and flips;
# the test crop is centred.  HU window (-1024, 400) mapped to [0, 1] (the authors map it to
# [-1, 0]: the same up to a shift).
dataset_type = 'VolumeClsDataset'
data_root = 'data/lidc/'
ann_file = 'lidc_nodules.json'
num_classes = 2
malignancy_classes = ('benign', 'malignant')
crop_size = (48, 48, 48)
hu_window = (-1024, 400)

train_pipeline = [
    dict(type='LoadVolumeFromFile', with_label=False),
    dict(type='ClipNormalizeVolume', clip_range=hu_window, mode='minmax'),
    dict(type='CenterCropVolume', crop_size=crop_size, max_shift=5),
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

train_dataloader = dict(
    batch_size=24,   # the paper's classification batch
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file=ann_file,
                 split_key='training', label_key='malignancy_label',
                 metainfo=dict(classes=malignancy_classes), pipeline=train_pipeline,
                 # the paper's data-scale study (Fig. 4): 0.25 / 0.5 / 0.75 of the training
                 # nodules, with max_epochs scaled by 1 / fraction (docs/classification.md)
                 subset_fraction=1.0))
val_dataloader = dict(
    batch_size=24,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file=ann_file,
                 split_key='validation', label_key='malignancy_label',
                 metainfo=dict(classes=malignancy_classes), test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# Table V's AUC: cls/auc (scikit-learn's roc_auc_score); accuracy, sensitivity and
# specificity at 0.5 beside it; ROCCurveHook (cls_runtime.py) draws the curve.
val_evaluator = dict(type='BinaryClsMetric')
test_evaluator = val_evaluator
