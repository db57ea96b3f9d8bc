# The main job, CPU-sized: ACS Mask R-CNN trained and FROC-evaluated on the embedded
# DeepLesion-format demo data, in minutes on a 2-core machine.
#
#   python tools/train.py configs/acs_maskrcnn_deeplesion_demo.py
#   python tools/test.py  configs/acs_maskrcnn_deeplesion_demo.py \
#       work_dirs/acs_maskrcnn_deeplesion_demo/epoch_20.pth
#
# On first use the training dataset writes the demo data to data/deeplesion_demo/ (DeepLesion
# layout: Images_png/ + DL_info.csv, 60 key slices from the real key slices in
# ../shared/data/deeplesion_keyslices, 1/2/5 mm slice intervals) and converts it with the same
# code as data_prep/deeplesion_to_coco.py.  Differences from the real config, all for speed:
# 3 slices, 256-px slices resized to 128, random init (no ImageNet file offline), a narrower
# neck and heads, anchors scaled to the small image, 20 short epochs (about 5 minutes).
_base_ = './acs_maskrcnn_deeplesion.py'

num_slices = 3
image_size = 128
data_root = 'data/deeplesion_demo/'
demo_cfg = dict(num_series=60, image_size=256, seed=0)
width = 128  # neck / RPN / RoI width (512 in the paper's model)

model = dict(
    backbone=dict(num_slices=num_slices, init_cfg=None),
    neck=dict(num_slices=num_slices, out_channels=width),
    rpn_head=dict(
        in_channels=width, feat_channels=width,
        # anchors 8, 12, 16, 24, 48 px on the stride-4 map (lesions are 8-24 px here)
        anchor_generator=dict(scales=[2, 3, 4, 6, 12])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=width),
        bbox_head=dict(in_channels=width, fc_out_channels=256),
        mask_roi_extractor=dict(out_channels=width),
        mask_head=dict(num_convs=2, in_channels=width, conv_out_channels=64)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=200)))

train_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomShiftScaleRotate', prob=0.5),
    dict(type='PackMultiSliceDetInputs'),
]
test_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='PackMultiSliceDetInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(type='DeepLesionDemoDataset', demo_cfg=demo_cfg, data_root=data_root,
                 pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(type='DeepLesionDemoDataset', demo_cfg=demo_cfg, data_root=data_root,
                 pipeline=test_pipeline))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(type='DeepLesionDemoDataset', demo_cfg=demo_cfg, data_root=data_root,
                 pipeline=test_pipeline))
val_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_test.json')

train_cfg = dict(max_epochs=20, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='MultiStepLR', begin=0, end=20, by_epoch=True, milestones=[14, 18], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.01), clip_grad=dict(max_norm=10.0))
default_hooks = dict(logger=dict(interval=5))
custom_hooks = [dict(type='FROCCurveHook')]
randomness = dict(seed=0)
