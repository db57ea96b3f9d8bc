# The ACS paper's proof-of-concept 2D shapes (appendix): 48 x 48 images, labels 0 background,
# 1 circle, 2 square; the 2D pretraining set of the "p." models.
# Write them first:  .venv/bin/python data_prep/make_poc_shapes.py data/poc
# The 3D POC data settings with 2D images: read whole as (1, 48, 48) (LoadVolumeFromFile with
# spatial_dims=2), already normalised (binary foreground + N(0, 0.5) noise), no augmentation
# (the appendix names none); batches of 16 images.
_base_ = ['./poc_shapes3d.py']

data_root = 'data/poc/poc_2d/'
poc_classes = ('background', 'circle', 'square')

train_pipeline = [
    dict(type='LoadVolumeFromFile', spatial_dims=2),
    dict(type='PackVolumeInputs'),
]
test_pipeline = train_pipeline

train_dataloader = dict(
    batch_size=16,
    dataset=dict(data_root=data_root, metainfo=dict(classes=poc_classes),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    dataset=dict(data_root=data_root, metainfo=dict(classes=poc_classes),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# Dice / IoU of the 2 foreground classes (per image = per case).
val_evaluator = dict(num_classes=3)
test_evaluator = val_evaluator
