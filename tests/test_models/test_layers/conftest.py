"""The layer tests exercise the bfloat16 paths themselves (the folded conv2d routes, stock
autocast) on small shapes, which the float32 fallback for slow bfloat16 shapes
(``flat_conv.BF16_FLOAT32_FALLBACK``) would otherwise send to float32; the fallback has its
own tests (``test_bf16_float32_fallback.py``), which switch it back on."""
import pytest

from acsdet.models.layers import flat_conv


@pytest.fixture(autouse=True)
def bf16_paths_without_float32_fallback(monkeypatch):
    monkeypatch.setattr(flat_conv, 'BF16_FLOAT32_FALLBACK', False)
