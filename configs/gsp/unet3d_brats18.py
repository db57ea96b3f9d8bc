# The GSP-Conv paper's 3D FCN baseline on BraTS18 (Table 1: 80.5 mDice): the same tiny 3D
# U-Net with 3x3x3 convolutions and no Group Shift (see gsp_unet_brats18.py).
_base_ = ['./gsp_unet_brats18.py']

model = dict(network=dict(type='TinyUNet3D', kernel_size=3, gs_position=None))
