_base_ = ['./deeplabv3plus_r101_acs_lits.py']
model = dict(network=dict(conv_type='2.5d'))  # 1x3x3 (stem 1x7x7) kernels
