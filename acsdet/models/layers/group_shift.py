"""Group Shift (GS), the parameter-free operation of GSP-Conv.

He et al., "Group Shift Pointwise Convolution for Volumetric Medical Image Segmentation",
MICCAI 2021, section 2 and formulas (1)-(8).  The volume is cut into ``g_d x g_h x g_w`` equal
spatial groups of size ``d x h x w``; the first ``C_s`` channels are cut into as many channel
groups of ``C_g`` channels; channel group ``k`` moves every spatial group ``k`` steps forward
along the flattened spatial-group index (depth fastest, formula (2)), cyclically (formula
(4)), keeping the position inside the group (formulas (5)-(7)) and the channel (formula (8)).
The last ``C_k = C - C_s`` channels are not shifted.

Written by hand because no maintained library provides it (the authors' code is not
packaged); it is implemented as one gather per call from a cached index table, with no Python
loop over voxels or groups, and its backward pass is the inverse shift (another gather).

Sizes not divisible by the group counts (``remainder``):

* ``'pad'`` (default): the axis is zero-padded at its end up to the next multiple of the group
  count (``d = ceil(D / g_d)``), shifted, and cropped back to ``D``.  Voxels shifted into the
  padding are dropped and the positions that receive padding become 0, so the op is then a
  *partial* permutation (norm non-increasing); with divisible sizes nothing is padded.
  An axis shorter than its group count still works (``d = 1``).
* ``'keep'``: the groups tile the largest divisible block at the start of each axis
  (``d = floor(D / g_d)``) and the remaining ``D mod g_d`` trailing slices stay in place, so
  the op is always an exact permutation (invertible, norm-preserving).  Needs ``D >= g_d``.
"""
from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.registry import MODELS

__all__ = ['GroupShift', 'group_shift', 'group_shift_index', 'clear_group_shift_cache']

_REMAINDER_MODES = ('pad', 'keep')

# (src, src_valid, dst, dst_valid): src[k, p'] = input voxel read by output voxel p' of channel
# group k; dst is the inverse map (used by the backward pass and `inverse=True`).  The masks
# are None when every entry is valid.
_Tables = Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor, Optional[torch.Tensor]]


def _to_groups(groups) -> Tuple[int, int, int]:
    if isinstance(groups, int):
        groups = (groups, ) * 3
    groups = tuple(int(g) for g in groups)
    if len(groups) != 3 or min(groups) < 1:
        raise ValueError(f'GroupShift: groups must be a positive int or (g_d, g_h, g_w), '
                         f'got {groups}')
    return groups


def group_shift_index(size: Sequence[int],
                      groups: Sequence[int],
                      remainder: str = 'pad') -> _Tables:
    """Index tables of Group Shift for one spatial size (formulas (2)-(7), vectorised).

    Args:
        size (tuple[int, int, int]): (D, H, W).
        groups (tuple[int, int, int]): (g_d, g_h, g_w).
        remainder (str): ``'pad'`` or ``'keep'`` (see the module docstring). Defaults to
            ``'pad'``.

    Returns:
        tuple: ``(src, src_valid, dst, dst_valid)``. ``src`` (LongTensor): (G, D*H*W) with
        G = g_d * g_h * g_w; output voxel ``p`` (flat D, H, W index) of channel group ``k``
        takes input voxel ``src[k, p]``. ``dst`` (G, D*H*W) is the inverse map. ``src_valid``
        / ``dst_valid`` (BoolTensor (G, D*H*W) or None) flag entries that exist (False: the
        voxel comes from / goes to the zero padding of ``remainder='pad'``).
    """
    if remainder not in _REMAINDER_MODES:
        raise ValueError(f'GroupShift: remainder must be one of {_REMAINDER_MODES}, '
                         f'got {remainder!r}')
    D, H, W = (int(s) for s in size)
    gd, gh, gw = _to_groups(groups)
    G = gd * gh * gw
    N = D * H * W
    if remainder == 'pad':
        d, h, w = -(-D // gd), -(-H // gh), -(-W // gw)
    else:
        d, h, w = D // gd, H // gh, W // gw
        if min(d, h, w) == 0:
            raise ValueError(f'GroupShift: size (D, H, W)={(D, H, W)} is smaller than the '
                             f'groups {(gd, gh, gw)}; use remainder="pad"')
    # Coordinates of the grouped region (padded or truncated), formula (2)'s x, y, z.
    x = torch.arange(gd * d).view(-1, 1, 1)
    y = torch.arange(gh * h).view(1, -1, 1)
    z = torch.arange(gw * w).view(1, 1, -1)
    cur = (x // d) + (y // h) * gd + (z // w) * (gd * gh)                    # (2)
    step = torch.arange(G).view(-1, 1, 1, 1)                                 # (3)
    sfted = (cur.unsqueeze(0) + step) % G                                    # (4)
    x2 = (sfted % gd) * d + x % d                                            # (5)
    y2 = ((sfted % (gd * gh)) // gd) * h + y % h                             # (6)
    z2 = (sfted // (gd * gh)) * w + z % w                                    # (7)
    real_in = ((x < D) & (y < H) & (z < W)).expand_as(sfted)
    real_out = (x2 < D) & (y2 < H) & (z2 < W)
    keep = (real_in & real_out).reshape(G, -1)
    p_in = (x * (H * W) + y * W + z).expand_as(sfted).reshape(G, -1)
    p_out = (x2 * (H * W) + y2 * W + z2).reshape(G, -1)
    k_idx = step.expand_as(sfted).reshape(G, -1)
    k_idx, p_in, p_out = k_idx[keep], p_in[keep], p_out[keep]

    if remainder == 'keep':  # voxels outside the grouped block map to themselves
        src = torch.arange(N).repeat(G, 1)
    else:
        src = torch.full((G, N), -1, dtype=torch.long)
    dst = src.clone()
    src[k_idx, p_out] = p_in
    dst[k_idx, p_in] = p_out
    src_valid = src >= 0
    dst_valid = dst >= 0
    src_valid = None if bool(src_valid.all()) else src_valid
    dst_valid = None if bool(dst_valid.all()) else dst_valid
    return src.clamp_(min=0), src_valid, dst.clamp_(min=0), dst_valid


# Index tables shared by all Group Shift layers, least recently used first out.  Each table
# pair costs 16 * G bytes per voxel of the layer's (D, H, W), so layers with the same size
# and groups (e.g. encoder and decoder of one stage) share one copy.
_TABLE_CACHE: 'OrderedDict[tuple, _Tables]' = OrderedDict()
_TABLE_CACHE_SIZE = 16


def _cached_tables(size, groups, remainder: str, device: torch.device) -> _Tables:
    key = (tuple(int(s) for s in size), tuple(groups), remainder, str(device))
    tables = _TABLE_CACHE.get(key)
    if tables is None:
        tables = tuple(t if t is None else t.to(device)
                       for t in group_shift_index(size, groups, remainder))
        _TABLE_CACHE[key] = tables
        while len(_TABLE_CACHE) > _TABLE_CACHE_SIZE:
            _TABLE_CACHE.popitem(last=False)
    else:
        _TABLE_CACHE.move_to_end(key)
    return tables


def clear_group_shift_cache() -> None:
    """Drop the cached Group Shift index tables (e.g. to free GPU memory)."""
    _TABLE_CACHE.clear()


def _gather_shift(x: torch.Tensor, shift_channels: int, index: torch.Tensor,
                  valid: Optional[torch.Tensor]) -> torch.Tensor:
    """Apply one index table to the first ``shift_channels`` channels (one output buffer)."""
    B, C = x.shape[:2]
    G, N = index.shape
    cg = shift_channels // G
    x = x.contiguous()
    out = torch.empty_like(x)
    shifted_in = x.view(B, C, N)[:, :shift_channels].view(B, G, cg, N)
    shifted_out = out.view(B, C, N)[:, :shift_channels].view(B, G, cg, N)
    torch.gather(shifted_in, 3, index.view(1, G, 1, N).expand(B, G, cg, N), out=shifted_out)
    if valid is not None:
        shifted_out.masked_fill_(~valid.view(1, G, 1, N), 0)
    out[:, shift_channels:] = x[:, shift_channels:]
    return out


class _GroupShiftFunction(torch.autograd.Function):
    """Forward: gather with ``fwd``; backward: gather with the inverse table ``bwd``."""

    @staticmethod
    def forward(ctx, x, shift_channels, fwd, fwd_valid, bwd, bwd_valid):
        ctx.shift_channels = shift_channels
        ctx.tables = (fwd, fwd_valid, bwd, bwd_valid)
        return _gather_shift(x, shift_channels, fwd, fwd_valid)

    @staticmethod
    def backward(ctx, grad_out):
        fwd, fwd_valid, bwd, bwd_valid = ctx.tables
        # The transpose of a (partial) permutation is its inverse map; going through apply()
        # again keeps double backward working.
        grad_in = _GroupShiftFunction.apply(grad_out, ctx.shift_channels, bwd, bwd_valid, fwd,
                                            fwd_valid)
        return grad_in, None, None, None, None, None


def _shift_channels(channels: int, num_groups: int, shift_ratio: float) -> int:
    if not 0.0 <= shift_ratio <= 1.0:
        raise ValueError(f'GroupShift: shift_ratio must be in [0, 1], got {shift_ratio}')
    cg = int(channels * shift_ratio) // num_groups
    if shift_ratio > 0 and num_groups > 1 and cg == 0:
        raise ValueError(f'GroupShift: {channels} channels x shift_ratio {shift_ratio} gives '
                         f'fewer shifted channels than the {num_groups} spatial groups')
    return cg * num_groups


def group_shift(x: torch.Tensor,
                groups=(2, 2, 2),
                shift_ratio: float = 0.5,
                remainder: str = 'pad',
                inverse: bool = False,
                tables: Optional[_Tables] = None) -> torch.Tensor:
    """Functional Group Shift.

    Args:
        x (Tensor): (B, C, D, H, W).
        groups (int | tuple[int, int, int]): Spatial groups (g_d, g_h, g_w). Defaults to
            (2, 2, 2).
        shift_ratio (float): C_s / C. The number of shifted channels is
            ``C_s = floor(floor(C * shift_ratio) / G) * G`` (G = g_d * g_h * g_w), the first
            C_s channels; the other ``C_k = C - C_s`` stay put. Defaults to 0.5 (the paper's
            C_s = C_k = C / 2).
        remainder (str): ``'pad'`` or ``'keep'``, for sizes not divisible by the groups (see
            the module docstring). Defaults to ``'pad'``.
        inverse (bool): Apply the inverse shift (undoes the forward one exactly when the
            sizes are divisible or ``remainder='keep'``). Defaults to False.
        tables: Precomputed :func:`group_shift_index` output for this size, on x's device;
            by default taken from a cache shared by all calls (16 most recent sizes).

    Returns:
        Tensor: (B, C, D, H, W), same dtype and device.
    """
    if x.dim() != 5:
        raise ValueError(f'GroupShift expects (B, C, D, H, W), got shape {tuple(x.shape)}')
    groups = _to_groups(groups)
    G = groups[0] * groups[1] * groups[2]
    cs = _shift_channels(x.shape[1], G, shift_ratio)
    if cs == 0 or G == 1:
        return x.clone()
    if tables is None:
        tables = _cached_tables(x.shape[2:], groups, remainder, x.device)
    src, src_valid, dst, dst_valid = tables
    if inverse:
        src, src_valid, dst, dst_valid = dst, dst_valid, src, src_valid
    return _GroupShiftFunction.apply(x, cs, src, src_valid, dst, dst_valid)


class GroupShift(nn.Module):
    """Group Shift of GSP-Conv: a parameter-free spatial-group / channel-group shift.

    Registered as ``'GroupShift'`` in mmengine's root ``MODELS``. It has no parameters and no
    buffers (the index tables are cached per (D, H, W, groups, device) in a module-level cache
    shared by all layers, outside the state dict).

    Args:
        groups (int | tuple[int, int, int]): Spatial groups (g_d, g_h, g_w). Defaults to
            (2, 2, 2).
        shift_ratio (float): C_s / C; see :func:`group_shift`. Defaults to 0.5.
        remainder (str): ``'pad'`` or ``'keep'`` for sizes not divisible by the groups (see
            the module docstring). Defaults to ``'pad'``.

    Shape:
        x (Tensor): (B, C, D, H, W) -> (B, C, D, H, W).
    """

    def __init__(self, groups=(2, 2, 2), shift_ratio: float = 0.5,
                 remainder: str = 'pad') -> None:
        super().__init__()
        if remainder not in _REMAINDER_MODES:
            raise ValueError(f'GroupShift: remainder must be one of {_REMAINDER_MODES}, '
                             f'got {remainder!r}')
        self.groups = _to_groups(groups)
        if not 0.0 <= shift_ratio <= 1.0:
            raise ValueError(f'GroupShift: shift_ratio must be in [0, 1], got {shift_ratio}')
        self.shift_ratio = float(shift_ratio)
        self.remainder = remainder

    @property
    def num_groups(self) -> int:
        """G = g_d * g_h * g_w."""
        return self.groups[0] * self.groups[1] * self.groups[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shift. x (Tensor): (B, C, D, H, W) -> (B, C, D, H, W)."""
        return group_shift(x, self.groups, self.shift_ratio, self.remainder)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse shift. x (Tensor): (B, C, D, H, W) -> (B, C, D, H, W)."""
        return group_shift(x, self.groups, self.shift_ratio, self.remainder, inverse=True)

    def extra_repr(self) -> str:
        return (f'groups={self.groups}, shift_ratio={self.shift_ratio}, '
                f'remainder={self.remainder!r}')


MODELS.register_module('GroupShift', module=GroupShift)
