# 3D Mask R-CNN (I3D-inflated ImageNet DenseNet-121), 7 slices: "3D p. I3D" of Table VII.
_base_ = './acs_maskrcnn_deeplesion.py'
model = dict(backbone=dict(conv_type='3d'))
