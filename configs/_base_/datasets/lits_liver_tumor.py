# LiTS liver / tumour segmentation in the ACS paper's setting (section IV-C): labels
# 0 background, 1 liver, 2 tumour; HU clipped to [-200, 250] and mapped to [0, 1];
# 64 x 224 x 224 random-centre training crops, random-axis flips and rotation.
# Data: data/lits/ with volume-N.nii / segmentation-N.nii, then
#   .venv/bin/python data_prep/lits_to_json.py data/lits        # writes data/lits/lits.json
# Random-scale resampling (the paper gives no range; ours is scale_range below): a window
# 1 / min-ratio larger than the crop is cut first, so that only it is resampled, then the
# training crop is taken from the scaled window.  Testing uses whole volumes: set the
# model's test_cfg=dict(mode='slide', window=(64, 512, 512), overlap=0.625) (a depth step
# of 24 as the paper) -- see lits_slide_test_cfg below.
_base_ = ['./volume_seg_dataloaders.py']

data_root = 'data/lits/'
ann_file = 'lits.json'
num_classes = 3
lits_classes = ('background', 'liver', 'tumour')
crop_size = (64, 224, 224)
scale_range = (0.8, 1.25)
# the window scaled before the final crop: at least crop_size / scale_range[0], so that the
# strongest zoom-out still fills the crop (change both together)
scale_window = (80, 280, 280)
hu_window = (-200, 250)
lits_slide_test_cfg = dict(mode='slide', window=(64, 512, 512), overlap=0.625,
                           blend='constant', sw_batch_size=1)

train_pipeline = [
    dict(type='LoadVolumeFromFile'),
    dict(type='ClipNormalizeVolume', clip_range=hu_window, mode='minmax'),
    dict(type='RandomCropVolume', crop_size=scale_window, fg_prob=0.5),
    dict(type='RandomScaleVolume', ratio_range=scale_range, prob=1.0),
    dict(type='RandomCropVolume', crop_size=crop_size, fg_prob=0.5),
    dict(type='RandomFlipVolume', prob=0.5, axes=(0, 1, 2)),
    dict(type='RandomRotateVolume', prob=0.5, max_angle=15, planes=((1, 2), )),
    dict(type='PackVolumeInputs'),
]
test_pipeline = [
    dict(type='LoadVolumeFromFile'),
    dict(type='ClipNormalizeVolume', clip_range=hu_window, mode='minmax'),
    dict(type='PackVolumeInputs'),
]

train_dataloader = dict(
    batch_size=2,
    dataset=dict(data_root=data_root, ann_file=ann_file, metainfo=dict(classes=lits_classes),
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file=ann_file, metainfo=dict(classes=lits_classes),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# Dice global and Dice per case of liver (class_1) and tumour (class_2), the paper's Table VI.
val_evaluator = [
    dict(type='DiceMetric', num_classes=num_classes, ignore_background=True),
    # HD95 / ASSD in mm (SurfaceDistanceMetric: empty prediction / ground truth conventions)
    dict(type='SurfaceDistanceMetric', num_classes=num_classes),
]
test_evaluator = val_evaluator
