# The GSP-Conv CPU benchmark's schedule (docs/gsp_conv.md): 80 epochs of the 40 training
# volumes at batch 4 = 800 Adam steps, lr 1e-3 with the paper's poly decay (power 0.9).  The
# paper trains with SGD lr 0.01 for an unstated length; Adam converges in the few hundred
# steps a CPU run allows for all three network kinds alike.  One evaluation, of the final
# model, on the test split: no checkpoint is selected on it.
max_epochs = 80
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_epochs, by_epoch=True)
]
