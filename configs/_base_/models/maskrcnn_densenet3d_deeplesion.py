# Mask R-CNN of the ACS paper's universal lesion detector (Table VII, Fig. 5):
# truncated DenseNet-121 with ACS / 2.5D / 3D convolutions (depth kept) -> DepthSqueezeNeck
# (D x 1 x 1 Conv3d per level, 2D top-down decoder, one stride-4 map of 512 channels)
# -> mmdet's 2D RPN / box / mask heads, one class (lesion).
# Swap the convolution with one line: model.backbone.conv_type='3d' (or '2.5d', 'acs',
# 'mean_acs', 'soft_acs'), e.g. through --cfg-options.
model = dict(
    type='MaskRCNN',
    data_preprocessor=dict(
        type='MultiSliceDetDataPreprocessor',
        mean=None,  # the pipeline already clips HU to [-1024, 2050] and normalises
        std=None,
        pad_size_divisor=32,
        pad_mask=True),
    backbone=dict(
        type='TruncatedDenseNet3D',
        conv_type='acs',
        num_slices=7,  # D: the backbone, the neck and the data loader must agree
        in_channels=1,
        out_indices=(0, 1, 2),
        frozen_stages=-1,
        norm_cfg=dict(type='BN3d', requires_grad=True),
        norm_eval=False,
        with_cp=False),  # init_cfg: None = random init; the main configs load ImageNet
    neck=dict(
        type='DepthSqueezeNeck',
        in_channels=[256, 512, 1024],
        num_slices=7,
        squeeze='conv',
        out_channels=512,
        num_outs=1),
    rpn_head=dict(
        type='RPNHead',
        in_channels=512,
        feat_channels=512,
        anchor_generator=dict(
            type='AnchorGenerator',
            # base size = stride 4, so the anchors are 16, 24, 32, 48, 96, 192 px
            scales=[4, 6, 8, 12, 24, 48],
            ratios=[0.5, 1.0, 2.0],
            strides=[4]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=512,
            featmap_strides=[4]),
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=512,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=1,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0)),
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=512,
            featmap_strides=[4]),
        mask_head=dict(
            # FCNMaskHead + Dice loss: mmdet's stock head would pass the labels as the Dice
            # loss's per-instance weights (all 0 for one class): see DiceFCNMaskHead.
            type='DiceFCNMaskHead',
            num_convs=4,
            in_channels=512,
            conv_out_channels=256,
            num_classes=1,
            loss_mask=dict(type='DiceLoss', use_sigmoid=True, activate=True,
                           loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.7,
                neg_iou_thr=0.3,
                min_pos_iou=0.3,
                match_low_quality=True,
                ignore_iof_thr=0.5),  # noisy lesions (iscrowd) are ignore regions
            sampler=dict(
                type='RandomSampler',
                num=256,
                pos_fraction=0.5,
                neg_pos_ub=-1,
                add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(
            nms_pre=2000,
            max_per_img=1000,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=True,
                ignore_iof_thr=0.5),
            sampler=dict(
                type='RandomSampler',
                num=512,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            mask_size=28,
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(
            nms_pre=1000,
            max_per_img=1000,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            score_thr=0.01,  # FROC needs the low-score tail too
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=50,
            mask_thr_binary=0.5)))
