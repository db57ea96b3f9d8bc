# Table IV in the ACS authors' protocol, step 1: the 2D pretraining of their proof-of-concept
# U-Net (PocUNet2D, experiments/poc/unet.py of M3DV/ACSConv) on the 2D shapes, 3 classes;
# kaiming-uniform conv weights (their `initialize`); their soft Dice loss over all classes
# (smooth 1e-2, absent classes 0); SGD, 50 epochs.  The "p." rows load its best checkpoint
# (by the authors' test Dice, their rule) without the classifier:
#   .venv/bin/python tools/train.py configs/poc/authors_unet2d_poc2d.py
# tools/analysis_tools/poc_table4.py --protocol authors runs this and the five rows.
_base_ = [
    '../_base_/datasets/poc_shapes2d_authors.py', '../_base_/schedules/schedule_sgd_50e_poc2d.py',
    '../_base_/seg_runtime.py'
]

model = dict(
    type='VolumeSegmentor',
    network=dict(
        type='PocUNet2D', in_channels=1, num_classes=3,
        # torch.nn.init.kaiming_uniform_ with its defaults (fan_in, leaky_relu a=0), as the
        # authors' `initialize`; mmengine sets the conv biases to 0 (theirs keep PyTorch's)
        init_cfg=dict(type='Kaiming', layer='Conv2d', a=0, mode='fan_in',
                      nonlinearity='leaky_relu', distribution='uniform')),
    loss=dict(type='SoftDiceLoss', smooth=1e-2, ignore_background=False, skip_absent=True,
              batch_dice=True, loss_name='loss_dice'),
    test_cfg=dict(mode='whole'))

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1,
                    save_best='dice/authors/mean', rule='greater'),
    visualization=dict(interval=10))  # images of 2 test samples every 10th validation
# a run killed between an epoch's checkpoint and its test scoring scores it on --resume
custom_hooks = [dict(type='ValidateOnResumeHook')]
randomness = dict(seed=0)
