# The ACS authors' 2D proof-of-concept schedule (experiments/poc/train_2d.py, poc_config.py):
# SGD, lr 0.01, momentum 0.9, weight decay 1e-4, 50 epochs.  Their milestones are
# [25, 37.5] (0.5 and 0.75 of 50): PyTorch's MultiStepLR compares milestones with integer
# epochs, so 37.5 never fires and the only decay (x0.1) is after epoch 25, as here.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=50, by_epoch=True, milestones=[25], gamma=0.1)
]
