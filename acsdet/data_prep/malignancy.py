"""LIDC-IDRI malignancy labels as the ACS paper defines them (section IV-B, Table V's AUC):
the mode of the readers' ratings 1-5; nodules whose mode is 3 (indeterminate) are left out;
1 / 2 -> benign (0), 4 / 5 -> malignant (1).

A tie between ratings (e.g. two readers say 2, two say 4) is broken toward the lower rating,
the first value of ``pandas.Series.mode()`` (the authors read a precomputed
``malignancy_mode`` column whose rule their code does not show).  Ratings of 0 (a reader who
gave none) are not counted.
"""
from collections import Counter
from typing import Optional, Sequence

__all__ = ['malignancy_mode', 'malignancy_label']


def malignancy_mode(ratings: Sequence[int]) -> Optional[int]:
    """The most frequent rating in 1..5 (ties: the lowest), None without one.

    Raises:
        ValueError: a rating outside 0..5 (0 = not rated).
    """
    values = [int(r) for r in ratings]
    bad = [r for r in values if not 0 <= r <= 5]
    if bad:
        raise ValueError(f'malignancy ratings must be in 1..5 (0: not rated), got {bad}')
    counts = Counter(r for r in values if r > 0)
    if not counts:
        return None
    top = max(counts.values())
    return min(r for r, n in counts.items() if n == top)


def malignancy_label(ratings: Sequence[int]) -> Optional[int]:
    """0 (benign: mode 1 or 2), 1 (malignant: mode 4 or 5), or None (mode 3, or no rating:
    left out)."""
    mode = malignancy_mode(ratings)
    if mode is None or mode == 3:
        return None
    return int(mode >= 4)
