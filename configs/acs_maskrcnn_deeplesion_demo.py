# The main job, CPU-sized: ACS Mask R-CNN trained and FROC-evaluated on the embedded
# DeepLesion-format demo data, in about 10 minutes on a 2-core machine.
#
#   python tools/train.py configs/acs_maskrcnn_deeplesion_demo.py
#   python tools/test.py  configs/acs_maskrcnn_deeplesion_demo.py \
#       work_dirs/acs_maskrcnn_deeplesion_demo/epoch_24.pth
#
# On first use the training dataset writes the demo data to data/deeplesion_demo/ (DeepLesion
# layout: Images_png/ + DL_info.csv, 200 series on the real key slices of
# ../shared/data/deeplesion_keyslices, 120 train / 20 val / 60 test, the test anatomy held out,
# 1-3 lesions and 1-2 look-alikes per key slice; docs/deeplesion_data.md) and converts it with
# the same code as data_prep/deeplesion_to_coco.py.  Differences from the real config, all to
# train from scratch on 2 CPU cores in minutes (docs/detector.md, "The demo"):
# * 3 slices; 256-px slices resized to 128; a soft-tissue HU window [-160, 240] instead of
#   [-1024, 2050] (the paper's window leaves 50-110 HU of lesion contrast at 3 % of the range);
# * random init (no ImageNet file offline);
# * the truncated DenseNet-121 at half width (stem 32, growth 16; blocks 6-12-24 as the paper's)
#   with GroupNorm (batch-2 BatchNorm trains poorly from scratch), a narrower neck and heads,
#   anchors scaled to the small image;
# * 24 short epochs (1440 iterations of batch 2), lr 0.02, x0.1 after epoch 18, flip only.
_base_ = './acs_maskrcnn_deeplesion.py'

num_slices = 3
image_size = 128
data_root = 'data/deeplesion_demo/'
demo_cfg = dict(num_series=200, image_size=256, seed=0)
hu_range = (-160.0, 240.0)  # soft-tissue window (the paper's: (-1024, 2050))
width = 128  # neck / RPN / RoI width (512 in the paper's model)

model = dict(
    backbone=dict(num_slices=num_slices, init_cfg=None, growth_rate=16, num_init_features=32,
                  norm_cfg=dict(type='GN', num_groups=16, requires_grad=True)),
    neck=dict(num_slices=num_slices, in_channels=[128, 256, 512], out_channels=width),
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
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, hu_range=hu_range),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackMultiSliceDetInputs'),
]
test_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, hu_range=hu_range),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='PackMultiSliceDetInputs'),
]
tta_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices, hu_range=hu_range),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(image_size, image_size), keep_ratio=True)],
        [dict(type='RandomFlip', prob=1.0, direction='horizontal'),
         dict(type='RandomFlip', prob=0.0, direction='horizontal')],
        [dict(type='PackMultiSliceDetInputs')],
    ]),
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
test_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_test.json',
                      distractor_file=data_root + 'distractors.json')

train_cfg = dict(max_epochs=24, val_interval=4)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=24, by_epoch=True, milestones=[18], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10.0))
default_hooks = dict(logger=dict(interval=20))
custom_hooks = [dict(type='FROCCurveHook')]
randomness = dict(seed=0)
