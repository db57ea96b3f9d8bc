# The ACS paper's proof-of-concept 3D shapes (appendix): 48^3 volumes, labels 0 background,
# 1 sphere, 2 cube, 3 cylinder, 4 cone, 5 pyramid; 100 train / 200 test volumes.
# Write them first:  .venv/bin/python data_prep/make_poc_shapes.py data/poc
# Volumes are read whole (no crop, no augmentation: the paper names none) and already
# normalised (binary foreground + N(0, 0.5) noise), so no intensity transform.
dataset_type = 'VolumeDataset'
data_root = 'data/poc/poc_3d/'
poc_classes = ('background', 'sphere', 'cube', 'cylinder', 'cone', 'pyramid')

train_pipeline = [
    dict(type='LoadVolumeFromFile'),
    dict(type='PackVolumeInputs'),
]
test_pipeline = [
    dict(type='LoadVolumeFromFile'),
    dict(type='PackVolumeInputs'),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train'),
        metainfo=dict(classes=poc_classes),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test'),
        metainfo=dict(classes=poc_classes),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# Dice and IoU of the 5 foreground classes: dice/global/mean (Dice global),
# dice/per_case/mean (the paper's Table IV Dice averaged over volumes), .../iou (mIoU).
val_evaluator = dict(type='DiceMetric', num_classes=6, ignore_background=True, with_iou=True)
test_evaluator = val_evaluator
