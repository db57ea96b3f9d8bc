# The GSP-Conv paper's pointwise FCN without Group Shift on BraTS18 (Table 1: 79.6 mDice):
# the tiny 3D U-Net with 1x1x1 convolutions only (see gsp_unet_brats18.py).
_base_ = ['./gsp_unet_brats18.py']

model = dict(network=dict(type='TinyUNet3D', kernel_size=1, gs_position=None))
