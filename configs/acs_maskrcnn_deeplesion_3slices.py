# ACS Mask R-CNN with 3 input slices (D must agree in the backbone, the neck and the loader).
_base_ = './acs_maskrcnn_deeplesion.py'
num_slices = 3
model = dict(backbone=dict(num_slices=num_slices), neck=dict(num_slices=num_slices))
train_pipeline = [dict(t, num_slices=num_slices) if t.type == 'LoadDeepLesionSlices' else t
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, num_slices=num_slices) if t.type == 'LoadDeepLesionSlices' else t
                 for t in _base_.test_pipeline]
tta_pipeline = [dict(t, num_slices=num_slices) if t.type == 'LoadDeepLesionSlices' else t
                for t in _base_.tta_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
