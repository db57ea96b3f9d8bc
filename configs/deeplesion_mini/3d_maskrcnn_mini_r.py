# Table VII in miniature, row "3d r.": the demo's Mask R-CNN (3 slices) with
# conv_type='3d' and random init.  The six rows differ in
# these two lines only; tools/analysis_tools/deeplesion_table7_mini.py runs them all.
_base_ = '../acs_maskrcnn_deeplesion_demo.py'
model = dict(backbone=dict(conv_type='3d', init_cfg=None))
