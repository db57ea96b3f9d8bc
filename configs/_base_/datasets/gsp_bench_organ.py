# The GSP-Conv CPU benchmark's large-object set (acsdet/data_prep/gsp_bench_volumes.py,
# docs/gsp_conv.md): 16 x 48 x 48 volumes at (2.5, 1, 1) mm, label 1 = a target organ between
# two unlabelled neighbours of the same intensity and texture (PROMISE12's property: the
# target is large and told from its surroundings by shape and position, not by intensity).
# 40 train / 20 test volumes; write them first:
#   .venv/bin/python data_prep/make_gsp_bench.py data/gsp_bench
# Whole volumes, no intensity transform (the generator's scale is fixed); random W flips only
# (an H flip would swap the anterior and posterior neighbours).
dataset_type = 'VolumeDataset'
data_root = 'data/gsp_bench/gsp_organ/'
num_classes = 2
bench_classes = ('background', 'organ')

train_pipeline = [
    dict(type='LoadVolumeFromFile'),
    dict(type='RandomFlipVolume', prob=0.5, axes=(2, )),
    dict(type='PackVolumeInputs'),
]
test_pipeline = [
    dict(type='LoadVolumeFromFile'),
    dict(type='PackVolumeInputs'),
]

train_dataloader = dict(
    batch_size=4,  # the GSP-Conv paper's batch
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=dict(img_path='train'),
                 metainfo=dict(classes=bench_classes), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=dict(img_path='test'),
                 metainfo=dict(classes=bench_classes), test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# mDice = dice/per_case/mean (the paper's: Dice per volume, foreground classes); HD95 / ASSD
# in mm from the files' spacing.
val_evaluator = [
    dict(type='DiceMetric', num_classes=num_classes, ignore_background=True),
    dict(type='SurfaceDistanceMetric', num_classes=num_classes),
]
test_evaluator = val_evaluator
