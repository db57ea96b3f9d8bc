# Table VII in miniature, row "acs p.": the demo's Mask R-CNN (3 slices) with
# conv_type='acs' and the 2D pretraining's exported DenseNet-121 file.  The six rows differ in
# these two lines only; tools/analysis_tools/deeplesion_table7_mini.py runs them all.
_base_ = '../acs_maskrcnn_deeplesion_demo.py'
pretrained_2d = 'work_dirs/deeplesion_table7_mini/pretrain_2d/densenet121_2d.pth'
model = dict(backbone=dict(conv_type='acs',
                            init_cfg=dict(_delete_=True, type='Pretrained',
                                          checkpoint=pretrained_2d)))
