# The ACS paper's DeepLesion schedule: momentum SGD, lr 0.02, 20 epochs, lr x0.1 at epochs 10
# and 13.  The paper does not state its batch size; lr 0.02 is mmdet's reference for a total
# batch of 16 (8 GPUs x 2 images), hence auto_scale_lr's base_batch_size below: with
# --auto-scale-lr, another total batch rescales the lr linearly.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=20, by_epoch=True, milestones=[10, 13], gamma=0.1)
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))

auto_scale_lr = dict(enable=False, base_batch_size=16)
