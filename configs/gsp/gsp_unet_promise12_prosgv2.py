# GSP-Conv on PROMISE12 with Table 2's spatial groups ProSGv2 (see gsp_unet_promise12.py).
_base_ = ['./gsp_unet_promise12.py']

model = dict(network=dict(spatial_groups='ProSGv2'))
