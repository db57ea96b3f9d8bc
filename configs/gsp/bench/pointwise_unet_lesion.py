# GSP-Conv CPU benchmark, lesion set: the pointwise FCN baseline (every conv 1x1x1, no Group
# Shift; the paper's Table 1 "pointwise FCN").  docs/gsp_conv.md
_base_ = ['./unet3d_lesion.py']

model = dict(network=dict(kernel_size=1))
