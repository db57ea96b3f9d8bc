"""False positives on known look-alikes (the demo's distractors) at one FROC operating point.

Why hand-written: the quantity is specific to this project's generated data (no library
knows its look-alike boxes); it reuses the FROC matching of :mod:`.froc`.
"""
from typing import Dict, Sequence

import numpy as np

from .froc import Detections, LesionGT, lesion_hit_scores, pair_hits

__all__ = ['distractor_fp_rate']


def distractor_fp_rate(gt: LesionGT, dets: Detections,
                       distractor_boxes: Sequence[np.ndarray], fp_rate: float = 2.0,
                       hit_rule: str = 'iou', thr: float = 0.5) -> Dict[str, float]:
    """How much of a detector's FP budget goes to look-alikes, at ``fp_rate`` FPs per image.

    The operating point is the FROC's: the score threshold ``t`` at which the false
    positives (detections hitting no lesion nor ignore region under ``hit_rule`` /
    ``thr``) number ``fp_rate`` per evaluated image (all detections when there are fewer).
    A false positive scoring ``>= t`` is *on a look-alike* when its centre lies inside one of
    its image's look-alike boxes; a look-alike is *detected* when such a false positive lies
    on it.  Comparing detectors at the same FP rate makes the figures comparable whatever
    their score calibration.

    Args:
        gt (LesionGT): Lesions of the evaluated images.
        dets (Detections): Detections (``image_index`` into ``gt.image_ids``).
        distractor_boxes (Sequence[ndarray]): Per evaluated image (in ``gt.image_ids``
            order), (K_i, 4) look-alike boxes xyxy in the detections' frame.
        fp_rate (float): FPs per image of the operating point. Default: 2.0.
        hit_rule (str): Lesion hit rule, as the FROC's. Default: 'iou'.
        thr (float): Its threshold. Default: 0.5.

    Returns:
        dict: ``fp_per_image`` (all FPs at the threshold / images, ``<= fp_rate``),
        ``distractor_fp_per_image`` (FPs on look-alikes / images), ``distractor_fp_share``
        (their share of the FPs; NaN without FPs), ``distractors_detected`` (share of
        look-alikes with an FP on them; NaN without look-alikes), ``num_distractors``,
        ``score_threshold``.

    Raises:
        ValueError: ``distractor_boxes`` does not have one entry per evaluated image.
    """
    n_img = gt.num_images
    if len(distractor_boxes) != n_img:
        raise ValueError(f'distractor_fp_rate: {len(distractor_boxes)} look-alike box lists '
                         f'for {n_img} evaluated images')
    _, is_fp = lesion_hit_scores(gt, dets, hit_rule, thr)
    fp_scores = np.sort(dets.scores[is_fp])[::-1]
    budget = int(np.floor(fp_rate * n_img))
    t = fp_scores[budget - 1] if 0 < budget <= len(fp_scores) else -np.inf
    if budget == 0:
        t = np.inf
    kept = np.flatnonzero(is_fp & (dets.scores >= t))
    # ties at t may keep a few more than the budget: the FROC keeps all or none of a score
    boxes = [np.asarray(b, np.float64).reshape(-1, 4) for b in distractor_boxes]
    counts = np.array([len(b) for b in boxes])
    on_any = np.zeros(len(kept), bool)
    found = [np.zeros(c, bool) for c in counts]
    for i, det in enumerate(kept):
        img_boxes = boxes[dets.image_index[det]]
        if not len(img_boxes):
            continue
        hit = pair_hits(np.repeat(dets.boxes[det][None], len(img_boxes), 0), img_boxes,
                        'center')
        on_any[i] = hit.any()
        found[dets.image_index[det]] |= hit
    n_dis = int(counts.sum())
    return {
        'fp_per_image': len(kept) / n_img if n_img else float('nan'),
        'distractor_fp_per_image': float(on_any.sum()) / n_img if n_img else float('nan'),
        'distractor_fp_share': float(on_any.mean()) if len(kept) else float('nan'),
        'distractors_detected': (float(sum(f.sum() for f in found)) / n_dis if n_dis
                                 else float('nan')),
        'num_distractors': n_dis,
        'score_threshold': float(t),
    }
