# The 2D POC shapes (circle / square, 48 x 48) as the ACS authors trained and scored their 2D
# pretraining (experiments/poc/train_2d.py of M3DV/ACSConv): batches of 64, the test split
# scored every epoch in batches of 64; their figure averages circle and background (their
# channel order square, circle, background; ``dice[1:]``).
# Write them first:
#   .venv/bin/python data_prep/make_poc_shapes.py data/poc_authors --orientation authors
_base_ = ['./poc_shapes2d.py']

data_root = 'data/poc_authors/poc_2d/'

train_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='PocTableDiceMetric', num_classes=3,
                     authors_classes=(0, 1), authors_batch=64)
test_evaluator = val_evaluator
