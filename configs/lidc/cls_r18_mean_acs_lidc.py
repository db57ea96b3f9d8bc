# Table V / A1 sibling of cls_r18_acs_lidc.py: ResNet-18 converted to mean_acs ("r.").
_base_ = ['./cls_r18_acs_lidc.py']

model = dict(network=dict(conv_type='mean_acs'))
