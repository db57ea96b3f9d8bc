# The GSP-Conv CPU benchmark's small-object twin (acsdet/data_prep/gsp_bench_volumes.py,
# docs/gsp_conv.md): the organ set's grid, spacing, texture and noise, with 1-3 small
# lesions, labels 1 = rim, 2 = core (nested, BraTS-like), each told by its intensity alone.
#   .venv/bin/python data_prep/make_gsp_bench.py data/gsp_bench
_base_ = ['./gsp_bench_organ.py']

data_root = 'data/gsp_bench/gsp_lesion/'
num_classes = 3
bench_classes = ('background', 'rim', 'core')

train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=dict(classes=bench_classes)))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=dict(classes=bench_classes)))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='DiceMetric', num_classes=num_classes, ignore_background=True),
    dict(type='SurfaceDistanceMetric', num_classes=num_classes),
]
test_evaluator = val_evaluator
