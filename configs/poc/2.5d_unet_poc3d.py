_base_ = ['./acs_unet_poc3d.py']
model = dict(network=dict(conv_type='2.5d'))  # 1x3x3 kernels
