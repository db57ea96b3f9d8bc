# Table IV in the ACS authors' protocol, row "ACS r.": their proof-of-concept U-Net
# (PocUNet2D, 6 classes) converted to ACS convolutions, PyTorch's default initialisation (the
# authors do not re-initialise it), trained on the 3D shapes of their generator with their
# soft Dice loss (all 6 classes, smooth 1e-2, absent classes 0); Adam 1e-3, batch 4, 50
# epochs, constant lr; the test split scored every epoch (their protocol; the table reports
# the best and the last epoch).
#   .venv/bin/python tools/train.py configs/poc/authors_acs_r_poc3d.py
# Siblings: authors_acs_p_poc3d.py (+ 2D weights), authors_3d_r_poc3d.py (conv_type='3d' +
# kaiming re-initialisation), authors_2.5d_r_poc3d.py, authors_2.5d_p_poc3d.py.
_base_ = [
    '../_base_/datasets/poc_shapes3d_authors.py', '../_base_/schedules/schedule_adam_50e_poc.py',
    '../_base_/seg_runtime.py'
]

conv_type = 'acs'

model = dict(
    type='VolumeSegmentor',
    network=dict(
        type='ConvertedUNet3D',
        unet=dict(type='PocUNet2D', in_channels=1, num_classes=6),
        conv_type=conv_type,
        i3d_inflate=False),
    loss=dict(type='SoftDiceLoss', smooth=1e-2, ignore_background=False, skip_absent=True,
              batch_dice=True, loss_name='loss_dice'),
    test_cfg=dict(mode='whole'))

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    # every epoch (a killed run resumes from its last epoch: tools/train.py --resume)
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1,
                    save_best='dice/authors/mean', rule='greater'),
    visualization=dict(interval=10))  # images of 2 test samples every 10th validation
# a run killed between an epoch's checkpoint and its test scoring scores it on --resume
custom_hooks = [dict(type='ValidateOnResumeHook')]
randomness = dict(seed=0)
