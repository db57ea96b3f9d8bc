# 3D (I3D-inflated) Mask R-CNN with 9 input slices: the ACS 9-slice config with one line changed.
_base_ = './acs_maskrcnn_deeplesion_9slices.py'
model = dict(backbone=dict(conv_type='3d'))
