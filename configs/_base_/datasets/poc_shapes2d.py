# The ACS paper's proof-of-concept 2D shapes (appendix): 48 x 48 images, labels 0 background,
# 1 circle, 2 square; the 2D pretraining set of the "p." models.
# Write them first:  .venv/bin/python data_prep/make_poc_shapes.py data/poc
# Images are read whole as (1, 48, 48) (LoadVolumeFromFile with spatial_dims=2), already
# normalised (binary foreground + N(0, 0.5) noise), no augmentation (the appendix names none).
dataset_type = 'VolumeDataset'
data_root = 'data/poc/poc_2d/'
poc2d_classes = ('background', 'circle', 'square')

train_pipeline = [
    dict(type='LoadVolumeFromFile', spatial_dims=2),
    dict(type='PackVolumeInputs'),
]
test_pipeline = [
    dict(type='LoadVolumeFromFile', spatial_dims=2),
    dict(type='PackVolumeInputs'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train'),
        metainfo=dict(classes=poc2d_classes),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test'),
        metainfo=dict(classes=poc2d_classes),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# Dice / IoU of the 2 foreground classes (per image = per case).
val_evaluator = dict(type='DiceMetric', num_classes=3, ignore_background=True, with_iou=True)
test_evaluator = val_evaluator
