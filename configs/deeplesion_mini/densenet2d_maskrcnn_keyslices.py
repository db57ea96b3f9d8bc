# The "p." pretraining of Table VII in miniature: the 2D truncated DenseNet-121 (2.5D kernels
# on one slice = a 2D network) in the demo's Mask R-CNN, trained on many single key slices.
# The premise of the paper: 2D data are plentiful (1000 generated key slices, 600 in training,
# from the training anatomy only, no look-alikes: a single slice cannot tell them apart),
# 3D data scarce (the demo's 120 training stacks).
#
#   python tools/train.py configs/deeplesion_mini/densenet2d_maskrcnn_keyslices.py
#   python tools/model_converters/export_2d_backbone.py \
#       work_dirs/densenet2d_maskrcnn_keyslices/epoch_N.pth \
#       work_dirs/deeplesion_table7_mini/pretrain_2d/densenet121_2d.pth
#
# The exported file is a torchvision DenseNet-121 state dict (features.*, RGB stem), loaded by
# the "p." rows through the same init_cfg as the ImageNet file.  tools/analysis_tools/
# deeplesion_table7_mini.py runs both steps and the six rows.
_base_ = '../acs_maskrcnn_deeplesion_demo.py'

num_slices = 1
data_root = 'data/deeplesion_keyslices_2d/'
demo_cfg = dict(num_series=1000, image_size=256, seed=1, distractors=False)

model = dict(backbone=dict(conv_type='2.5d', num_slices=num_slices),
             neck=dict(num_slices=num_slices))
train_pipeline = [dict(t, num_slices=num_slices) if t.type == 'LoadDeepLesionSlices' else t
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, num_slices=num_slices) if t.type == 'LoadDeepLesionSlices' else t
                 for t in _base_.test_pipeline]
tta_pipeline = [dict(t, num_slices=num_slices) if t.type == 'LoadDeepLesionSlices' else t
                for t in _base_.tta_pipeline]
train_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg,
                                     pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg,
                                   pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg,
                                    pipeline=test_pipeline))
val_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_test.json')
# 6 epochs over the 600 training key slices = 1800 iterations of batch 2 (a 2D step costs about
# a third of a 3-slice one)
train_cfg = dict(max_epochs=6, val_interval=6)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=6, by_epoch=True, milestones=[5], gamma=0.1)
]
