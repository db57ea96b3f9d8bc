_base_ = ['./deeplabv3plus_r101_acs_lits.py']
model = dict(network=dict(conv_type='3d'))  # 3x3x3 (stem 7x7x7), I3D-inflated if pretrained
