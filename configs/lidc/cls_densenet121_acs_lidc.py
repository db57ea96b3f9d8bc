# ACS paper appendix Table A5: LIDC-IDRI nodule malignancy with DenseNet-121 with the authors'
# stride-1 stem, no pool0 / norm5 (ClsDenseNet), converted to ACS ("r."); everything else as
# cls_r18_acs_lidc.py. Siblings: cls_densenet121_{2.5d,3d}_lidc.py and the "p." rows
# cls_densenet121_*_p_lidc.py (torchvision's ImageNet densenet121-a639ec97.pth).
_base_ = ['./cls_r18_acs_lidc.py']

model = dict(network=dict(_delete_=True, type='ClsDenseNet3D', in_channels=1, conv_type='acs',
                          init_cfg=dict(type='Pretrained', checkpoint=None)))
