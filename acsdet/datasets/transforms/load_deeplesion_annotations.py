"""mmdet's ``LoadAnnotations`` plus the RECIST diameters of each lesion."""
import numpy as np
from mmdet.datasets.transforms import LoadAnnotations

from acsdet.registry import TRANSFORMS

__all__ = ['LoadDeepLesionAnnotations']


@TRANSFORMS.register_module()
class LoadDeepLesionAnnotations(LoadAnnotations):
    """Load boxes, labels, masks (mmdet's ``LoadAnnotations``) and RECIST points.

    Adds ``gt_recists`` (N, 8) float32 (``x1, y1, x2, y2`` long axis, ``x3, y3, x4, y4`` short
    axis, 0-based pixels, one row per instance in the order of ``gt_bboxes``) and
    ``recist_base_matrix``, the ``homography_matrix`` at load time.  Geometric transforms
    (mmdet's ``Resize``/``RandomFlip`` and :class:`RandomShiftScaleRotate`) record their
    geometry in ``homography_matrix``; :class:`PackMultiSliceDetInputs` maps the points with it,
    so the RECIST points follow every transform that moves the boxes.

    Args:
        with_recist (bool): Load RECIST points. Default: True.
        **kwargs: ``LoadAnnotations`` args (``with_bbox=True``, ``with_label=True``,
            ``with_mask=False``, ``poly2mask=True``, ...).
    """

    def __init__(self, with_recist: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.with_recist = with_recist

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        if self.with_recist:
            recists = []
            for inst in results.get('instances', []):
                r = inst.get('recist')
                if r is None or len(r) != 8:
                    raise KeyError(f'{results.get("img_path")}: an instance lacks an 8-number '
                                   f'"recist" (got {r!r})')
                recists.append(r)
            results['gt_recists'] = np.asarray(recists, np.float32).reshape(-1, 8)
            base = results.get('homography_matrix')
            results['recist_base_matrix'] = (np.eye(3, dtype=np.float32) if base is None
                                             else np.asarray(base, np.float32).copy())
        return results

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f', with_recist={self.with_recist})'
