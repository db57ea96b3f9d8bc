# Table IV (authors' protocol), row "ACS p.": "ACS r." with every tensor of the 2D pretraining
# (authors_unet2d_poc2d.py, its best checkpoint) loaded except the classifier's (3 classes in
# 2D, 6 in 3D).  poc_table4.py --protocol authors links that checkpoint to the path below; by
# hand: --cfg-options model.network.init_cfg.checkpoint=work_dirs/<2d run>/best_....pth
_base_ = ['./authors_acs_r_poc3d.py']

model = dict(network=dict(init_cfg=dict(
    type='Pretrained', checkpoint='work_dirs/poc_table4_authors/unet2d_best.pth',
    skip=('classifier', ))))
