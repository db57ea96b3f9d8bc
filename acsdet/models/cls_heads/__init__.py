"""Classification heads: features (B, C, *S) -> logits (B, K), with their loss."""
from .pooled_linear_cls_head import PooledLinearClsHead

__all__ = ['PooledLinearClsHead']
