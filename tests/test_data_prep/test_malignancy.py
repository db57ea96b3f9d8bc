"""The paper's malignancy label: mode of the ratings (ties: the lower), 3 left out."""
import pytest

from acsdet.data_prep import malignancy_label, malignancy_mode


@pytest.mark.parametrize('ratings,mode,label', [
    ([1], 1, 0), ([2, 2, 4], 2, 0), ([4, 5, 5, 1], 5, 1), ([2, 4], 2, 0), ([4, 5], 4, 1),
    ([3, 3, 4], 3, None), ([2, 3, 4], 2, 0), ([0, 5], 5, 1), ([0, 0], None, None), ([], None, None),
])
def test_mode_and_label(ratings, mode, label):
    assert malignancy_mode(ratings) == mode
    assert malignancy_label(ratings) == label


def test_bad_rating():
    with pytest.raises(ValueError, match=r'ratings must be in 1..5 \(0: not rated\), got \[6\]'):
        malignancy_mode([2, 6])
