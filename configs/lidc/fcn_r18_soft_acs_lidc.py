_base_ = ['./fcn_r18_acs_lidc.py']
model = dict(network=dict(conv_type='soft_acs'))
# Soft-ACS (appendix Table A1, "S-ACS"): the three views weighted by a learnt per-channel
# softmax (starting equal, i.e. as Mean-ACS)
