# DeepLesion multi-slice key-slice samples: D slices around the key slice, thickness-normalised
# to 2 mm, HU clipped to [-1024, 2050] and scaled to [0, 1], resized to 512, packed (1, D, H, W).
# Produce the annotations with data_prep/deeplesion_to_coco.py (docs/deeplesion_data.md).
num_slices = 7
dataset_type = 'DeepLesionDataset'
data_root = 'data/DeepLesion/'
backend_args = None

train_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(512, 512), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomShiftScaleRotate', prob=0.5),
    dict(type='PackMultiSliceDetInputs'),
]
test_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(512, 512), keep_ratio=True),
    dict(type='PackMultiSliceDetInputs'),
]
# Test-time augmentation (tools/test.py --tta): each key slice as is and flipped left-right;
# LesionDetTTAModel maps the flipped view's boxes and masks back and merges the two by NMS.
tta_model = dict(
    type='LesionDetTTAModel',
    tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=50))
tta_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=num_slices),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(512, 512), keep_ratio=True)],
        [dict(type='RandomFlip', prob=1.0, direction='horizontal'),
         dict(type='RandomFlip', prob=0.0, direction='horizontal')],
        [dict(type='PackMultiSliceDetInputs')],
    ]),
]

# Batch size per GPU: 2 (the paper does not give its batch size; lr 0.02 in
# schedules/schedule_20e_paper.py is mmdet's reference for 8 GPUs x 2 images).
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/deeplesion_train.json',
        data_prefix=dict(img='Images_png/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=2),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/deeplesion_val.json',
        data_prefix=dict(img='Images_png/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
# the validation loader on the official test split
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], ann_file='annotations/deeplesion_test.json'))

# FROC as in the DeepLesion literature (sensitivity at 0.5..16 FPs per image, mean of 0.5-4).
val_evaluator = dict(type='FROCMetric', ann_file=data_root + 'annotations/deeplesion_val.json')
test_evaluator = dict(type='FROCMetric', ann_file=data_root + 'annotations/deeplesion_test.json')
