# The GSP-Conv paper's tiny 3D U-Net (TinyUNet3D: widths 16-32-64-128-256, 3x3x3 convs) for
# the CPU benchmark (configs/gsp/bench/); the leaf configs set num_classes, the kernel size
# and Group Shift.  Soft Dice loss over the foreground classes, as the paper.
model = dict(
    type='VolumeSegmentor',
    network=dict(type='TinyUNet3D', in_channels=1, num_classes=2, base_channels=16,
                 channel_multipliers=(1, 2, 4, 8, 16), kernel_size=3, gs_position=None),
    loss=dict(type='SoftDiceLoss', ignore_background=True, loss_name='loss_dice'))

# the spatial groups of the benchmark's 16 x 48 x 48 volumes (stage sizes 16x48x48, 8x24x24,
# 4x12x12, 2x6x6, 1x3x3): the paper's ProSGv3 and ProSGv2 (Table 2, for 16 x 128 x 128) with
# their 8 x 8 groups of stages 4-5 scaled to the smaller grid (6 x 6, 3 x 3)
bench_sg_v3 = [(2, 2, 2), (1, 4, 4), (1, 4, 4), (1, 6, 6), (1, 3, 3)]
bench_sg_v2 = [(1, 2, 2), (1, 4, 4), (2, 4, 4), (1, 6, 6), (1, 3, 3)]
