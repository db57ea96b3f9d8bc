# GSP-Conv CPU benchmark, organ set: the pointwise FCN with Group Shift at "CSC", the spatial
# groups bench_sg_v3 (the paper's ProSGv3 scaled to 16 x 48 x 48), C_s = C_k = C / 2.  The other
# positions, groups and ratios: --cfg-options model.network.gs_position=CCS (or spatial_groups,
# shift_ratio, gs_in_encoder); tools/analysis_tools/gsp_tables.py runs them all.
_base_ = ['./pointwise_unet_organ.py']

model = dict(network=dict(gs_position='CSC', spatial_groups={{_base_.bench_sg_v3}},
                          shift_ratio=0.5))
