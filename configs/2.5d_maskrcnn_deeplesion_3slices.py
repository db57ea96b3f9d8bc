# 2.5D Mask R-CNN with 3 input slices: the ACS 3-slice config with one line changed.
_base_ = './acs_maskrcnn_deeplesion_3slices.py'
model = dict(backbone=dict(conv_type='2.5d'))
