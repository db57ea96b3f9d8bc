_base_ = ['./fcn_r18_acs_lidc.py']
model = dict(network=dict(conv_type='2.5d'))  # 1x3x3 (stem 1x7x7) kernels
