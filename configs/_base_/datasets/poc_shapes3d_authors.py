# The 3D POC shapes as the ACS authors generated and scored them (experiments/poc/ of
# M3DV/ACSConv): the authors' orientation rule (cylinders along W, cones / pyramids along D
# with p 1/2), training batches of 4 whole 48^3 volumes, the test set scored in batches of 20.
# Write them first:
#   .venv/bin/python data_prep/make_poc_shapes.py data/poc_authors --orientation authors
# (tools/analysis_tools/poc_table4.py --protocol authors writes its own copy.)
# The authors test on the test split every epoch and report the best epoch: that is their
# protocol (model selection on the test set), kept here and named as such in the results.
_base_ = ['./poc_shapes3d.py']

data_root = 'data/poc_authors/poc_3d/'

train_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=20, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

# Table IV's Dice three ways (acsdet/evaluation/metrics/poc_table_dice_metric.py):
# dice/authors/mean (their figure: pooled per batch of 20, background in, cone out),
# dice/global/mean (the text's: 5 foreground classes, Dice global), dice/per_case/mean.
val_evaluator = dict(_delete_=True, type='PocTableDiceMetric', num_classes=6,
                     authors_classes=(0, 1, 2, 3, 5), authors_batch=20)
test_evaluator = val_evaluator
