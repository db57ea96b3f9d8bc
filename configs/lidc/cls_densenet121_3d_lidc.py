# Table A5 sibling of cls_densenet121_acs_lidc.py: converted to 3d ("r.").
_base_ = ['./cls_densenet121_acs_lidc.py']

model = dict(network=dict(conv_type='3d'))
