_base_ = ['./fcn_r18_acs_lidc.py']
model = dict(network=dict(conv_type='3d'))  # 3x3x3 (stem 7x7x7), I3D-inflated if pretrained
