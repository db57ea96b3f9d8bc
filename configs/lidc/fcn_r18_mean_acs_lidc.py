_base_ = ['./fcn_r18_acs_lidc.py']
model = dict(network=dict(conv_type='mean_acs'))
# Mean-ACS (appendix Table A1, "M-ACS"): the whole 2D kernel on all three views, averaged
