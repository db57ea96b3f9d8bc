_base_ = ['./acs_unet_poc3d.py']
model = dict(network=dict(conv_type='3d'))  # I3D-inflated 3x3x3 kernels
