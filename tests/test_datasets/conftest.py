"""A small DeepLesion-format demo dataset (10 key slices of 128x128), converted to COCO."""
import pytest

from acsdet.data_prep.deeplesion_demo import prepare_demo_deeplesion


@pytest.fixture(scope='session')
def demo_deeplesion(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('deeplesion_demo'))
    return prepare_demo_deeplesion(root, num_series=10, image_size=128, seed=2)
