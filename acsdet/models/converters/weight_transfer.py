"""2D -> 3D weight transfer: the one door through which 2D (ImageNet, torchvision, or a
project-trained 2D network's) weights enter a 3D model, for detection and segmentation alike.

mmengine's ``PretrainedInit`` loads a checkpoint with ``load_state_dict(strict=False)``: it
cannot rename torchvision's DenseNet keys, inflate a 2D kernel (Cout, Cin, K, K) to the
(Cout, Cin, K, K, K) of a 3D convolution, nor reduce an RGB stem to the single CT channel, so
it would silently skip exactly the tensors that matter.  These few rules are what no library
offers for this mapping.

Rules, applied per tensor of the target model (:func:`adapt_2d_state_dict`):

1. Same shape: copied as is (ACS and 2.5D convolutions store 2D kernels, so all their weights).
2. Stem reduction: a source kernel with 3 input channels and a target with 1 is **summed over the
   RGB axis**.  A grey CT slice fed to the 2D network as three identical channels gives
   ``sum_c w_c * x = (sum_c w_c) * x``: the summed 1-channel kernel gives exactly the same
   response (checked numerically in the tests).
3. I3D inflation: a 4D source and a 5D target (3D convolution) is repeated ``D_k`` times along a
   new depth axis and divided by ``D_k`` (:func:`acsdet.models.layers.inflate_2d_weight`), so a
   volume made of identical slices gives the 2D response.  With ``inflate=False`` such kernels
   (and their biases) keep their own initialisation instead (the "3D r." kernels).
4. Anything else is a shape mismatch, left as initialised.

Models take the file through ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` and apply it
in ``init_weights()`` (:func:`split_pretrained_init_cfg` takes that entry out of the
``init_cfg`` mmengine sees), so building a model for testing or inference never reads it.
"""
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from mmengine.logging import print_log
from torch import Tensor, nn

from acsdet.models.layers import inflate_2d_weight
from acsdet.utils.safe_checkpoint import read_state_dict

__all__ = [
    'load_2d_weights', 'adapt_2d_state_dict', 'rename_legacy_densenet_keys',
    'split_pretrained_init_cfg', 'REQUIRE_MODES', 'WRAPPER_PREFIXES'
]

#: Prefixes stripped when every key of a checkpoint has one: the checkpoint of a whole
#: ``VolumeSegmentor`` (``network.``; ``backbone.`` before the layout of issue 13).
WRAPPER_PREFIXES = ('network.', 'backbone.')

#: How complete the transfer must be: ``'none'`` logs what did not load (ImageNet into a
#: detection backbone), ``'parts'`` needs every target part (a ``key_map`` value) that the file
#: fills to be filled completely, ``'all'`` needs the whole model (outside ``skip``).
REQUIRE_MODES = ('none', 'parts', 'all')

# torchvision's hub files for DenseNet still use 'denselayer1.norm.1'; in-memory models use
# 'denselayer1.norm1' (see torchvision.models.densenet._load_state_dict).
_LEGACY_DENSENET_KEY = re.compile(
    r'^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.'
    r'(?:weight|bias|running_mean|running_var))$')
_PRETRAINED_KEYS = {'type', 'checkpoint', 'skip'}


def rename_legacy_densenet_keys(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Rename torchvision's legacy DenseNet keys (``denselayer1.norm.1.weight`` ->
    ``denselayer1.norm1.weight``); other keys are kept.

    Args:
        state_dict (dict[str, Tensor]): A state dict.

    Returns:
        dict[str, Tensor]: A new dict with the renamed keys.
    """
    out = {}
    for key, value in state_dict.items():
        match = _LEGACY_DENSENET_KEY.match(key)
        out[match.group(1) + match.group(2) if match else key] = value
    return out


def split_pretrained_init_cfg(
        init_cfg: Optional[Union[dict, List[dict]]], owner: str = 'model'
) -> Tuple[Optional[dict], Optional[Union[dict, List[dict]]]]:
    """Take the ``Pretrained`` entry out of an ``init_cfg``.

    Args:
        init_cfg (dict | list[dict] | None): As :class:`mmengine.model.BaseModule`'s.
        owner (str): Named in errors. Defaults to ``'model'``.

    Returns:
        tuple: ``(pretrained, rest)``: ``dict(checkpoint=..., skip=(...))`` or None (no entry,
        or ``checkpoint=None``: the "r." models), and the other entries (or None).

    Raises:
        ValueError: A ``Pretrained`` entry with keys other than ``type`` / ``checkpoint`` /
            ``skip``, or two of them.
    """
    if init_cfg is None:
        return None, None
    cfgs = [init_cfg] if isinstance(init_cfg, dict) else list(init_cfg)
    pretrained, rest = [], []
    for cfg in cfgs:
        (pretrained if cfg.get('type') == 'Pretrained' else rest).append(cfg)
    if len(pretrained) > 1:
        raise ValueError(f'{owner}: init_cfg has {len(pretrained)} Pretrained entries; '
                         'give one checkpoint')
    found = None
    if pretrained:
        unknown = sorted(set(pretrained[0]) - _PRETRAINED_KEYS)
        if unknown:
            raise ValueError(f'{owner}: init_cfg Pretrained takes {sorted(_PRETRAINED_KEYS)}, '
                             f'got unknown keys {unknown}')
        if pretrained[0].get('checkpoint') is not None:
            found = dict(checkpoint=pretrained[0]['checkpoint'],
                         skip=tuple(pretrained[0].get('skip', ()) or ()))
    return found, (rest or None)


def _skipped(key: str, skip: Sequence[str]) -> bool:
    """``key`` is one of the modules ``skip`` names or inside one (``'cls'`` matches
    ``cls.weight``, not ``cls2.weight``)."""
    return any(key == p or key.startswith(p + '.') for p in skip)


def adapt_2d_state_dict(
        state_dict: Dict[str, Tensor], target_state: Dict[str, Tensor], inflate: bool = True
) -> Tuple[Dict[str, Tensor], List[str], List[str], List[str]]:
    """Map a 2D state dict onto the shapes of a 3D model's state dict (rules in the module doc).

    Args:
        state_dict (dict[str, Tensor]): Source (2D) tensors, already renamed to target names.
        target_state (dict[str, Tensor]): The target model's ``state_dict()`` (or the part of
            it to fill).
        inflate (bool): Rule 3 (I3D inflation); False keeps 3D kernels (and their biases) as
            initialised. Defaults to True.

    Returns:
        tuple: ``(adapted, missing, unexpected, mismatched)``: the tensors to load, the target
        keys absent from the source (kernels kept by ``inflate=False`` are not missing), the
        source keys absent from the target, and ``'key: src shape -> target shape'`` strings
        for tensors no rule could map.
    """
    adapted: Dict[str, Tensor] = {}
    mismatched: List[str] = []
    kept: List[str] = []
    for key, target in target_state.items():
        if key not in state_dict:
            continue
        src = state_dict[key]
        if src.shape != target.shape and src.dim() >= 4 and target.dim() >= 4 \
                and src.shape[1] == 3 and target.shape[1] == 1:
            src = src.sum(dim=1, keepdim=True)  # rule 2: RGB stem -> 1 channel
        if src.dim() == 4 and target.dim() == 5 and src.shape[:2] == target.shape[:2] \
                and src.shape[2:] == target.shape[3:]:
            if not inflate:
                kept.append(key)
                continue
            src = inflate_2d_weight(src, target.shape[2])  # rule 3: I3D inflation
        if src.shape != target.shape:
            mismatched.append(f'{key}: {tuple(state_dict[key].shape)} -> {tuple(target.shape)}')
            continue
        adapted[key] = src.to(dtype=target.dtype)
    for key in kept:  # the bias of a kept kernel stays with it
        adapted.pop(key[:-len('weight')] + 'bias' if key.endswith('weight') else key, None)
    missing = [k for k in target_state
               if k not in state_dict and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in state_dict if k not in target_state]
    return adapted, missing, unexpected, mismatched


def _summary(keys: List[str], limit: int = 8) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


def _rename(state: Dict[str, Tensor], key_map: Dict[str, str]
            ) -> Tuple[Dict[str, Tensor], List[str]]:
    """Rename each key by the first source prefix of ``key_map`` it starts with; keys that
    match none are returned apart."""
    renamed, unmatched = {}, []
    for key, value in state.items():
        src = next((p for p in key_map if key.startswith(p)), None)
        if src is None:
            unmatched.append(key)
        else:
            renamed[key_map[src] + key[len(src):]] = value
    return renamed, unmatched


def load_2d_weights(module: nn.Module,
                    checkpoint: str,
                    key_map: Optional[Dict[str, str]] = None,
                    require: str = 'none',
                    skip: Sequence[str] = (),
                    target_keys: Optional[Iterable[str]] = None,
                    inflate: bool = True,
                    expected_unused: Iterable[str] = ()) -> Dict[str, List[str]]:
    """Load a 2D checkpoint into ``module`` (2D or converted to 3D) with the rules above.

    Args:
        module (nn.Module): The target model.
        checkpoint (str): A local ``.pth`` (loaded weights-only) or any URI mmengine's
            ``CheckpointLoader`` knows (``torchvision://densenet121`` needs a reachable hub):
            a state dict, or a dict with ``'state_dict'`` / ``'model'``; ``module.`` (DDP) and
            a :data:`WRAPPER_PREFIXES` prefix every key has are stripped
            (:func:`acsdet.utils.read_state_dict`), torchvision's legacy DenseNet names
            renamed.
        key_map (dict[str, str] | None): Checkpoint key prefix -> target prefix, the first
            match wins (``''`` matches every key); keys matching none are unused. None: names
            as they are. Defaults to None.
        require (str): One of :data:`REQUIRE_MODES`. Defaults to ``'none'``.
        skip (Sequence[str]): Target module names left out on both sides (they keep their
            initialisation), e.g. a classifier trained for another number of classes.
            Defaults to ().
        target_keys (Iterable[str] | None): The target keys a 2D checkpoint can fill (a
            converted network's 2D ``state_dict`` keys: Soft-ACS view logits, which exist in
            3D only, are then not missing). None: every key of ``module``. Defaults to None.
        inflate (bool): I3D-inflate 2D kernels into 3D ones (rule 3). Defaults to True.
        expected_unused (Iterable[str]): Regular expressions of checkpoint keys known to have
            no target (the layers a truncated network lacks): logged at INFO, not as a
            warning. Defaults to ().

    Returns:
        dict[str, list[str]]: ``loaded`` (keys), ``parts`` (target prefixes filled, with
        ``require='parts'``), ``missing``, ``unexpected`` and ``mismatched``.

    Raises:
        ValueError: ``require`` is unknown.
        KeyError: ``require='all'``: a key missing, unexpected or of another shape;
            ``require='parts'``: nothing to load, or a filled part incomplete; the message
            names the file and the keys.
    """
    if require not in REQUIRE_MODES:
        raise ValueError(f'load_2d_weights: require must be one of {REQUIRE_MODES}, got '
                         f'{require!r}')
    name = type(module).__name__
    state = rename_legacy_densenet_keys(read_state_dict(checkpoint, WRAPPER_PREFIXES))
    renamed, unexpected = _rename(state, key_map or {'': ''})
    renamed = {k: v for k, v in renamed.items() if not _skipped(k, skip)}
    own = module.state_dict()
    if target_keys is not None:
        wanted = set(target_keys)
        own = {k: v for k, v in own.items() if k in wanted}
    own = {k: v for k, v in own.items() if not _skipped(k, skip)}
    parts: List[str] = []
    if require == 'parts':
        unexpected += [k for k in renamed if k not in own]
        renamed = {k: v for k, v in renamed.items() if k in own}
        parts = [p for p in dict.fromkeys((key_map or {'': ''}).values())
                 if any(k.startswith(p) for k in renamed)]
        own = {k: v for k, v in own.items() if any(k.startswith(p) for p in parts)}
    adapted, missing, unused, mismatched = adapt_2d_state_dict(renamed, own, inflate)
    unexpected += unused
    if require == 'all' and (missing or unexpected or mismatched) or \
            require == 'parts' and (not parts or missing or mismatched):
        targets = list(dict.fromkeys((key_map or {'': ''}).values()))
        what = name if require == 'all' else f'{name} (parts {targets})'
        extra = f'unexpected keys {unexpected[:5]}, ' if require == 'all' else ''
        raise KeyError(f'{checkpoint}: not a 2D checkpoint of {what}: missing keys '
                       f'{missing[:5]}, {extra}other shapes {mismatched[:5]}')
    module.load_state_dict(adapted, strict=False)
    print_log(f'{name}: loaded {len(adapted)} 2D tensors'
              f'{" (" + ", ".join(parts) + ")" if parts else ""} from {checkpoint}',
              logger='current')
    if require == 'none':
        patterns = [re.compile(p) for p in expected_unused]
        known = [k for k in unexpected if any(p.match(k) for p in patterns)]
        unknown = [k for k in unexpected if k not in known]
        if known:
            print_log(f'{name}: {len(known)} checkpoint tensors not used by design '
                      f'(truncated network): {_summary(known)}', logger='current')
        if unknown:
            print_log(f'{name}: unexpected keys in {checkpoint}: {_summary(unknown)}',
                      logger='current', level=30)
        if missing:
            print_log(f'{name}: keys missing from {checkpoint} (left as initialised): '
                      f'{_summary(missing)}', logger='current', level=30)
        if mismatched:
            print_log(f'{name}: shape mismatch, not loaded: {_summary(mismatched)}',
                      logger='current', level=30)
        unexpected = unknown
    return dict(loaded=sorted(adapted), parts=parts, missing=missing, unexpected=unexpected,
                mismatched=mismatched)
