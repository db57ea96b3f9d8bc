# The ACS paper's LIDC-IDRI schedule (section IV-B): Adam, lr 1e-3, 100 epochs, lr x0.1 after
# epochs 50 and 75 (the authors' code: no weight decay on Adam).  Validation every epoch (the
# paper reports the best epoch).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=100, by_epoch=True, milestones=[50, 75], gamma=0.1)
]
