# Table IV (authors' protocol), row "3D r.": the U-Net converted to 3x3x3 convolutions and
# re-initialised with fresh kaiming-uniform kernels (the authors' `initialize` after their
# Conv3dConverter: torch's kaiming_uniform_ defaults, fan_in, leaky_relu a=0), not I3D-inflated
# from the random 2D net; mmengine sets the conv biases to 0 (theirs keep PyTorch's uniform).
_base_ = ['./authors_acs_r_poc3d.py']

model = dict(network=dict(
    conv_type='3d',
    init_cfg=dict(type='Kaiming', layer='Conv3d', a=0, mode='fan_in', nonlinearity='leaky_relu',
                  distribution='uniform')))
