# ACS paper appendix Table A4: LIDC-IDRI nodule malignancy with VGG-16-BN with the authors' two
# max-pools (ClsVGG), converted to ACS ("r."); everything else as cls_r18_acs_lidc.py. Siblings:
# cls_vgg16_{2.5d,3d}_lidc.py and the "p." rows cls_vgg16_*_p_lidc.py (torchvision's ImageNet
# vgg16_bn-6c64b313.pth).
_base_ = ['./cls_r18_acs_lidc.py']

model = dict(network=dict(_delete_=True, type='ClsVGG3D', in_channels=1, conv_type='acs',
                          init_cfg=dict(type='Pretrained', checkpoint=None)))
