"""Convert a 2D model (any ``nn.Module`` tree) into a 3D one (paper Table II).

========================================  ==================================================
2D module                                 3D module
========================================  ==================================================
``nn.Conv2d`` (and subclasses) K x K      ``ACSConv`` / ``Conv2_5d`` / ``InflatedConv3d`` /
                                          ``MeanACSConv`` / ``SoftACSConv`` (``conv=``)
``nn.ConvTranspose2d``                    ``nn.ConvTranspose3d`` (see :func:`convert_2d_to_3d`)
``nn.BatchNorm2d`` / ``nn.InstanceNorm2d``  ``nn.BatchNorm3d`` / ``nn.InstanceNorm3d``
``LayerNorm2d`` (channel LayerNorm)       ``ChannelLayerNorm3d``
``SyncBatchNorm``, ``GroupNorm``,         unchanged (they accept any number of dimensions)
``LayerNorm`` (last dim), activations
``{Max,Avg}Pool2d`` K x K                 ``{Max,Avg}Pool3d`` K x K x K (1 x K x K with
                                          ``keep_depth``)
``Adaptive{Max,Avg}Pool2d`` (h, w)        ``Adaptive{Max,Avg}Pool3d`` (1, h, w) ((None, h, w)
                                          with ``keep_depth``)
``nn.Upsample`` bilinear / nearest        ``nn.Upsample`` trilinear / nearest
``nn.Dropout2d``                          ``nn.Dropout3d``
``{Zero,Constant,Reflection,              their 3D versions (depth padded like height)
Replication}Pad2d``
========================================  ==================================================

Hand-written because no maintained library converts arbitrary module trees (the authors'
``acsconv`` package is unmaintained and handles neither strides per axis, nor transposed convs,
nor mmcv modules).
"""
import warnings
from typing import Callable, List, Optional, Tuple

import torch
import torch.nn as nn

from acsdet.models.layers import (CONV_TYPES, ChannelLayerNorm3d, InflatedConv3d, check_conv_type,
                                  inflate_2d_weight)
from acsdet.models.layers.conv_args import to_kernel_size

__all__ = ['convert_2d_to_3d', 'ConversionError']

_CONVERTED = tuple(CONV_TYPES.values()) + (ChannelLayerNorm3d, )
#: 2D-only modules without a 3D counterpart here (their names do not say "2d").
_NOT_CONVERTIBLE = (nn.PixelShuffle, nn.PixelUnshuffle, nn.Fold, nn.Unfold)
#: Conv2d subclasses whose forward only adds empty-tensor handling (nothing is lost).
_PLAIN_CONV2D_FORWARDS = {'mmcv.cnn.bricks.wrappers.Conv2d'}


_TRANSPOSED_DEPTH_ERROR = (
    'cannot convert {} ({}) with conv={!r}: a transposed ACS / 2.5D kernel has depth 1 and '
    'cannot upsample depth; use keep_depth=True or conv="3d"')


class ConversionError(ValueError):
    """A module of the model has no 3D conversion; the message names its path."""


def _pair(value) -> Tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class _Converter:

    def __init__(self, conv: str, keep_depth: bool, i3d_inflate: bool) -> None:
        self.conv, self.keep_depth, self.i3d_inflate = conv, keep_depth, i3d_inflate
        self.lost_forwards: List[str] = []
        #: (module, its class before the swap) of each :data:`FORWARD_3D_CLASSES` swap
        self.class_swaps: List[Tuple[nn.Module, type]] = []

    # -- helpers -------------------------------------------------------------------------
    def depth(self, h_value, keep_value):
        """Depth value of a per-axis argument: ``keep_value`` with keep_depth, else H's."""
        return keep_value if self.keep_depth else h_value

    @staticmethod
    def _share(dst: nn.Module, src: nn.Module, names) -> None:
        """Reuse ``src``'s parameters / buffers (same objects) in ``dst``."""
        for name in names:
            value = getattr(src, name, None)
            if value is None:
                continue
            if isinstance(value, nn.Parameter):
                setattr(dst, name, value)
            elif name in dst._buffers:
                dst._buffers[name] = value

    # -- per-type conversions ------------------------------------------------------------
    def conv2d(self, m: nn.Conv2d, path: str) -> nn.Module:
        k = to_kernel_size(m.kernel_size)
        cls_name = f'{type(m).__module__}.{type(m).__qualname__}'
        if type(m) is not nn.Conv2d and cls_name not in _PLAIN_CONV2D_FORWARDS and (
                type(m).forward is not nn.Conv2d.forward
                or type(m)._conv_forward is not nn.Conv2d._conv_forward):
            self.lost_forwards.append(f'{path} ({type(m).__name__})')
        (sh, sw), (dh, dw) = _pair(m.stride), _pair(m.dilation)
        if isinstance(m.padding, str):
            if m.padding == 'same' and k % 2 == 0:
                raise ConversionError(f'cannot convert {path} ({type(m).__name__}): '
                                      "padding='same' with an even kernel")
            ph, pw = (0, 0) if m.padding == 'valid' else (dh * (k - 1) // 2, dw * (k - 1) // 2)
        else:
            ph, pw = _pair(m.padding)
        dd = dh
        stride = (self.depth(sh, 1), sh, sw)
        padding = (self.depth(ph, dd * (k - 1) // 2), ph, pw)
        dilation = (dd, dh, dw)
        cls = CONV_TYPES[self.conv]
        kwargs = {}
        if m.padding_mode != 'zeros':
            if cls is not InflatedConv3d:
                raise ConversionError(f'cannot convert {path} ({type(m).__name__}): '
                                      f'padding_mode={m.padding_mode!r} needs conv="3d"')
            kwargs['padding_mode'] = m.padding_mode
        new = cls(m.in_channels, m.out_channels, k, stride, padding, dilation, m.groups,
                  m.bias is not None, device=m.weight.device, dtype=m.weight.dtype, **kwargs)
        if cls is InflatedConv3d:
            if self.i3d_inflate:
                with torch.no_grad():
                    new.weight.copy_(inflate_2d_weight(m.weight, k))
                    if m.bias is not None:
                        new.bias.copy_(m.bias)
            new.weight.requires_grad_(m.weight.requires_grad)
            if m.bias is not None:
                new.bias.requires_grad_(m.bias.requires_grad)
        else:
            self._share(new, m, ('weight', 'bias'))
        return new

    def conv_transpose2d(self, m: nn.ConvTranspose2d, path: str) -> nn.Module:
        k = to_kernel_size(m.kernel_size)
        (sh, sw), (ph, pw) = _pair(m.stride), _pair(m.padding)
        (dh, dw), (oh, ow) = _pair(m.dilation), _pair(m.output_padding)
        if m.padding_mode != 'zeros':
            raise ConversionError(f'cannot convert {path} ({type(m).__name__}): '
                                  f'padding_mode={m.padding_mode!r}')
        inflate = self.conv == '3d'
        if inflate:  # K x K x K kernel, depth like height (or "same" and stride 1)
            kd = k
            depth = (1, dh * (k - 1) // 2, dh, 0) if self.keep_depth else (sh, ph, dh, oh)
        elif self.keep_depth:  # (1, K, K) kernel: the 2D weight unchanged
            kd, depth = 1, (1, 0, 1, 0)
        else:
            raise ConversionError(_TRANSPOSED_DEPTH_ERROR.format(path, type(m).__name__,
                                                                 self.conv))
        new = nn.ConvTranspose3d(m.in_channels, m.out_channels, (kd, k, k),
                                 (depth[0], sh, sw), (depth[1], ph, pw), (depth[3], oh, ow),
                                 m.groups, m.bias is not None, (depth[2], dh, dw),
                                 device=m.weight.device, dtype=m.weight.dtype)
        with torch.no_grad():
            if not inflate:
                new.weight.copy_(m.weight.unsqueeze(2))
            elif self.i3d_inflate:
                new.weight.copy_(inflate_2d_weight(m.weight, k))
            if m.bias is not None and (self.i3d_inflate or not inflate):
                new.bias.copy_(m.bias)
        new.weight.requires_grad_(m.weight.requires_grad)
        if m.bias is not None:
            new.bias.requires_grad_(m.bias.requires_grad)
        return new

    def norm(self, m: nn.Module, cls) -> nn.Module:
        new = cls(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats,
                  device=_device(m), dtype=_dtype(m))
        self._share(new, m, ('weight', 'bias', 'running_mean', 'running_var',
                             'num_batches_tracked'))
        return new

    def layer_norm_2d(self, m: nn.LayerNorm) -> nn.Module:
        new = ChannelLayerNorm3d(m.normalized_shape, m.eps, m.elementwise_affine,
                                 device=_device(m), dtype=_dtype(m))
        self._share(new, m, ('weight', 'bias'))
        return new

    def pool(self, m: nn.Module, path: str) -> nn.Module:
        (kh, kw), (sh, sw) = _pair(m.kernel_size), _pair(m.stride)
        ph, pw = _pair(m.padding)
        kernel = (self.depth(kh, 1), kh, kw)
        stride = (self.depth(sh, 1), sh, sw)
        padding = (self.depth(ph, 0), ph, pw)
        if isinstance(m, nn.MaxPool2d):
            dh, dw = _pair(m.dilation)
            return nn.MaxPool3d(kernel, stride, padding, (self.depth(dh, 1), dh, dw),
                                m.return_indices, m.ceil_mode)
        return nn.AvgPool3d(kernel, stride, padding, m.ceil_mode, m.count_include_pad,
                            m.divisor_override)

    def adaptive_pool(self, m: nn.Module) -> nn.Module:
        h, w = _pair(m.output_size)
        size = (None if self.keep_depth else 1, h, w)
        if isinstance(m, nn.AdaptiveMaxPool2d):
            return nn.AdaptiveMaxPool3d(size, m.return_indices)
        return nn.AdaptiveAvgPool3d(size)

    def upsample(self, m: nn.Upsample, path: str) -> nn.Module:
        mode = {'bilinear': 'trilinear'}.get(m.mode, m.mode)
        if mode not in ('trilinear', 'nearest', 'nearest-exact'):
            raise ConversionError(f'cannot convert {path} ({type(m).__name__}): mode '
                                  f'{m.mode!r} has no 3D counterpart')
        if m.size is not None:
            if self.keep_depth or not isinstance(m.size, int):
                raise ConversionError(f'cannot convert {path} ({type(m).__name__}): a fixed '
                                      f'output size {m.size!r} has no known depth')
            return nn.Upsample(size=(m.size, ) * 3, mode=mode, align_corners=m.align_corners)
        sh, sw = _pair(m.scale_factor)
        return nn.Upsample(scale_factor=(self.depth(sh, 1.0), sh, sw), mode=mode,
                           align_corners=m.align_corners,
                           recompute_scale_factor=m.recompute_scale_factor)

    def pad(self, m: nn.Module) -> nn.Module:
        left, right, top, bottom = m.padding
        pads = (left, right, top, bottom, self.depth(top, 0), self.depth(bottom, 0))
        if isinstance(m, nn.ReflectionPad2d):
            return nn.ReflectionPad3d(pads)
        if isinstance(m, nn.ReplicationPad2d):
            return nn.ReplicationPad3d(pads)
        return nn.ConstantPad3d(pads, getattr(m, 'value', 0.0))

    # -- dispatch ------------------------------------------------------------------------
    def replacement(self, m: nn.Module, path: str) -> Optional[nn.Module]:
        """The 3D module replacing ``m``; None when ``m`` is kept (its children are then
        converted); raises :class:`ConversionError` when it cannot be converted."""
        from .torchvision_3d import FORWARD_3D_CLASSES
        if isinstance(m, _CONVERTED):
            return None
        if isinstance(m, nn.Conv2d):
            return self.conv2d(m, path)
        if isinstance(m, nn.ConvTranspose2d):
            return self.conv_transpose2d(m, path)
        if isinstance(m, nn.BatchNorm2d):
            return self.norm(m, nn.BatchNorm3d)
        if isinstance(m, nn.InstanceNorm2d):
            return self.norm(m, nn.InstanceNorm3d)
        if isinstance(m, nn.LayerNorm) and type(m).__name__ == 'LayerNorm2d':
            return self.layer_norm_2d(m)
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            return self.pool(m, path)
        if isinstance(m, (nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d)):
            return self.adaptive_pool(m)
        if isinstance(m, nn.Upsample):
            return self.upsample(m, path)
        if isinstance(m, nn.Dropout2d):
            return nn.Dropout3d(m.p, m.inplace)
        if isinstance(m, (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d,
                          nn.ReplicationPad2d)):
            return self.pad(m)
        if type(m) in FORWARD_3D_CLASSES:
            self.class_swaps.append((m, type(m)))
            m.__class__ = FORWARD_3D_CLASSES[type(m)]
            return None
        if isinstance(m, _NOT_CONVERTIBLE) or ('2d' in type(m).__name__.lower()
                                                and next(m.children(), None) is None):
            # a leaf module named "...2d..." is 2D-specific; containers are walked instead
            raise ConversionError(
                f'cannot convert {path} ({type(m).__name__}): no 3D counterpart; replace it '
                'before converting, or convert the sub-modules around it')
        return None


def _device(m: nn.Module):
    t = next(iter(list(m.parameters()) + list(m.buffers())), None)
    return None if t is None else t.device


def _dtype(m: nn.Module):
    t = next(iter(m.parameters()), None)
    return None if t is None else t.dtype


def _walk(module: nn.Module, path: str, visit: Callable, errors: List[str],
          replaced: List[Tuple[nn.Module, str, nn.Module]]) -> None:
    """Replace ``module``'s descendants by ``visit``'s results, recording each replacement
    ``(parent, name, old child)`` in ``replaced`` (for :func:`_undo`) and each failure in
    ``errors``."""
    for name, child in module.named_children():
        child_path = f'{path}.{name}' if path else name
        try:
            new = visit(child, child_path)
        except ConversionError as err:
            errors.append(str(err))
            continue
        except ValueError as err:  # e.g. a non-square kernel
            errors.append(f'cannot convert {child_path} ({type(child).__name__}): {err}')
            continue
        if new is None:
            _walk(child, child_path, visit, errors, replaced)
        else:
            new.train(child.training)
            setattr(module, name, new)
            replaced.append((module, name, child))


def _undo(replaced: List[Tuple[nn.Module, str, nn.Module]],
          class_swaps: List[Tuple[nn.Module, type]]) -> None:
    """Put back every replaced child and swapped class, last change first."""
    for parent, name, old in reversed(replaced):
        setattr(parent, name, old)
    for module, cls in reversed(class_swaps):
        module.__class__ = cls


def _raise_errors(errors: List[str], note: str = '') -> None:
    more = f'; and {len(errors) - 5} more' if len(errors) > 5 else ''
    raise ConversionError('convert_2d_to_3d: ' + '; '.join(errors[:5]) + more + note)


def convert_2d_to_3d(model: nn.Module,
                     conv: str = 'acs',
                     keep_depth: bool = False,
                     i3d_inflate: bool = True) -> nn.Module:
    """Convert a 2D model into a 3D one taking (B, C, D, H, W) input, in place.

    Modules are replaced as in the module docstring's table, recursively; the 2D weights are
    reused unchanged by ACS / 2.5D / Mean-ACS / Soft-ACS convs (the very same ``Parameter``
    objects, so the parameter count is the 2D model's, plus ``Cout x 3`` view logits per
    Soft-ACS conv) and I3D-inflated by ``'3d'`` convs; normalisation layers keep their
    parameters and running statistics; training mode and ``requires_grad`` are preserved.

    Functional 2D calls inside a module's ``forward`` (``F.adaptive_avg_pool2d``,
    ``F.interpolate(size=x.shape[-2:])``, ``F.max_pool2d``...) cannot be seen, so they are not
    converted.  torchvision's ``DenseNet``, ``DeepLabV3``, ``FCN`` and ``ASPPPooling`` get a 3D
    ``forward`` (:mod:`acsdet.models.converters.torchvision_3d`); for other models convert the
    sub-modules that have no such calls (e.g. a trunk) and write the 3D glue around them.

    Args:
        model (nn.Module): The 2D model; modified in place.
        conv (str): ``'acs'``, ``'2.5d'``, ``'3d'``, ``'mean_acs'`` or ``'soft_acs'``.
            Defaults to ``'acs'``.
        keep_depth (bool): Use stride 1 and window 1 along depth in every conv and pool, and
            "same" depth padding ``dilation * (K - 1) // 2`` in convs, so the depth is kept
            (detection backbones: 2 x 2 pooling -> 1 x 2 x 2); adaptive pools keep depth too.
            Otherwise depth is treated like height. Defaults to False.
        i3d_inflate (bool): For ``conv='3d'``: initialise the K x K x K kernels by I3D
            inflation of the 2D ones; False keeps their fresh random initialisation (the
            "3D r." baseline). Defaults to True.

    Returns:
        nn.Module: The converted model (``model`` itself, unless ``model`` is itself a
        convertible leaf such as an ``nn.Conv2d``).

    Raises:
        ConversionError: Some modules cannot be converted; the message lists every such
            module by path. The model is left unchanged in that case.
        ValueError: ``conv`` is unknown.
    """
    check_conv_type(conv, 'convert_2d_to_3d')
    # dry run on a copy-free pass: collect every error before touching the model
    checker = _Converter(conv, keep_depth, i3d_inflate)
    errors: List[str] = []
    _check(model, '', checker, errors)
    if errors:
        _raise_errors(errors)
    converter = _Converter(conv, keep_depth, i3d_inflate)
    root = converter.replacement(model, type(model).__name__)
    if root is not None:
        root.train(model.training)
        model = root
    else:
        # the dry run should have found every failure; one it missed must not leave a
        # half-converted model behind: undo the replacements made so far, then raise
        replaced: List[Tuple[nn.Module, str, nn.Module]] = []
        _walk(model, '', converter.replacement, errors, replaced)
        if errors:
            _undo(replaced, converter.class_swaps)
            _raise_errors(errors, ' (found during conversion; the model was left unchanged)')
    if converter.lost_forwards:
        warnings.warn('convert_2d_to_3d: the custom forward of these Conv2d subclasses is '
                      f'replaced by {CONV_TYPES[conv].__name__}: ' +
                      ', '.join(converter.lost_forwards))
    return model


def _check(module: nn.Module, path: str, checker: _Converter, errors: List[str]) -> None:
    """Report the modules that would fail to convert, without modifying anything."""
    from .torchvision_3d import FORWARD_3D_CLASSES

    def visit(m, p):
        if type(m) in FORWARD_3D_CLASSES:  # class swap: check children only
            return None
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and not isinstance(m, _CONVERTED):
            _check_conv(m, p, checker)
            return nn.Identity()  # checked; do not descend
        checker.replacement(m, p)
        return None

    def walk(mod, prefix):
        for name, child in mod.named_children():
            child_path = f'{prefix}.{name}' if prefix else name
            try:
                new = visit(child, child_path)
            except ConversionError as err:
                errors.append(str(err))
                continue
            except ValueError as err:
                errors.append(f'cannot convert {child_path} ({type(child).__name__}): {err}')
                continue
            if new is None:
                walk(child, child_path)

    try:
        root_new = visit(module, type(module).__name__)
    except (ConversionError, ValueError) as err:
        errors.append(str(err))
        return
    if root_new is None:
        walk(module, path)


def _check_conv(m: nn.Module, path: str, checker: _Converter) -> None:
    """Validate a conv without allocating its 3D replacement."""
    to_kernel_size(m.kernel_size)
    if isinstance(m, nn.ConvTranspose2d):
        if m.padding_mode != 'zeros':
            raise ConversionError(f'cannot convert {path} ({type(m).__name__}): '
                                  f'padding_mode={m.padding_mode!r}')
        if not (checker.conv == '3d' or checker.keep_depth):
            raise ConversionError(_TRANSPOSED_DEPTH_ERROR.format(path, type(m).__name__,
                                                                 checker.conv))
        return
    if isinstance(m.padding, str) and m.padding == 'same' and m.kernel_size[0] % 2 == 0:
        raise ConversionError(f'cannot convert {path} ({type(m).__name__}): '
                              "padding='same' with an even kernel")
    if m.padding_mode != 'zeros' and checker.conv != '3d':
        raise ConversionError(f'cannot convert {path} ({type(m).__name__}): '
                              f'padding_mode={m.padding_mode!r} needs conv="3d"')
