# The ACS authors' 3D proof-of-concept schedule (experiments/poc/train_3d.py, poc_config.py):
# Adam, lr 1e-3, no weight decay, 50 epochs; their MultiStepLR milestone (epoch 5000) is never
# reached, so the learning rate is constant.  The test split is scored every epoch.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = []
