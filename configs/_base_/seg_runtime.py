# acsdet runtime defaults for semantic segmentation (VolumeSegmentor configs): everything of
# default_runtime.py except its detection visualizer (CTDetVisualizationHook and
# CTDetLocalVisualizer draw boxes on DeepLesion key slices, nothing useful for volumes).
_base_ = ['./default_runtime.py']

default_hooks = dict(
    # acsdet's SegVisualizationHook: per validation run, the first `max_samples` samples as
    # PNGs of `num_slices` axial slices (image | ground truth | prediction) under
    # <work_dir>/<timestamp>/vis_seg/epoch_<e>/; `tools/test.py --show-dir DIR` draws every
    # test sample to <work_dir>/<timestamp>/DIR/.
    visualization=dict(
        _delete_=True, type='SegVisualizationHook', interval=1, max_samples=2, num_slices=3))

# a plain mmengine Visualizer: the backends keep the scalars (vis_data/scalars.json)
visualizer = dict(_delete_=True, type='Visualizer', vis_backends=_base_.vis_backends)
