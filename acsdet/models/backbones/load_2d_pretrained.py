"""Load 2D (ImageNet) weights into a model whose convolutions were made 3D.

mmengine's ``PretrainedInit`` loads a checkpoint with ``load_state_dict(strict=False)``: it
cannot rename torchvision's DenseNet keys, inflate a 2D kernel (Cout, Cin, K, K) to the
(Cout, Cin, K, K, K) of a 3D convolution, nor reduce an RGB stem to the single CT channel, so
it would silently skip exactly the tensors that matter.  These few rules are what no library
offers for this mapping.

Rules, applied per tensor of the target model:

1. Same shape: copied as is (ACS and 2.5D convolutions store 2D kernels, so all their weights).
2. Stem reduction: a source kernel with 3 input channels and a target with 1 is **summed over the
   RGB axis**.  A grey CT slice fed to the 2D network as three identical channels gives
   ``sum_c w_c * x = (sum_c w_c) * x``: the summed 1-channel kernel gives exactly the same
   response (checked numerically in the tests).
3. I3D inflation: a 4D source and a 5D target (3D convolution) is repeated ``D_k`` times along a
   new depth axis and divided by ``D_k`` (:func:`acsdet.models.layers.inflate_2d_weight`), so a
   volume made of identical slices gives the 2D response.
4. Anything else is reported as a shape mismatch and left as initialised.

Missing and unexpected keys are reported through mmengine's logger.
"""
import re
from typing import Dict, Iterable, List, Tuple

from mmengine.logging import print_log
from torch import Tensor, nn

__all__ = ['load_2d_pretrained', 'adapt_2d_state_dict', 'rename_legacy_densenet_keys']

# torchvision's hub files for DenseNet still use 'denselayer1.norm.1'; in-memory models use
# 'denselayer1.norm1' (see torchvision.models.densenet._load_state_dict).
_LEGACY_DENSENET_KEY = re.compile(
    r'^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.'
    r'(?:weight|bias|running_mean|running_var))$')


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


def _strip_prefixes(state_dict: Dict[str, Tensor],
                    prefixes: Iterable[str]) -> Tuple[Dict[str, Tensor], List[str]]:
    """For each prefix in turn: when some keys start with it, keep only those, stripped.

    Returns the new dict and the dropped keys (with the prefixes seen so far)."""
    dropped: List[str] = []
    for prefix in prefixes:
        if any(k.startswith(prefix) for k in state_dict):
            dropped += [k for k in state_dict if not k.startswith(prefix)]
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items()
                          if k.startswith(prefix)}
    return state_dict, dropped


def adapt_2d_state_dict(
        state_dict: Dict[str, Tensor], target_state: Dict[str, Tensor]
) -> Tuple[Dict[str, Tensor], List[str], List[str], List[str]]:
    """Map a 2D state dict onto the shapes of a 3D model's state dict (rules in the module doc).

    Args:
        state_dict (dict[str, Tensor]): Source (2D) tensors, already renamed to target names.
        target_state (dict[str, Tensor]): The target model's ``state_dict()``.

    Returns:
        tuple: ``(adapted, missing, unexpected, mismatched)``: the tensors to load, the target
        keys absent from the source, the source keys absent from the target, and
        ``'key: src shape -> target shape'`` strings for tensors no rule could map.
    """
    from acsdet.models.layers import inflate_2d_weight

    adapted: Dict[str, Tensor] = {}
    mismatched: List[str] = []
    for key, target in target_state.items():
        if key not in state_dict:
            continue
        src = state_dict[key]
        if src.shape != target.shape and src.dim() >= 4 and target.dim() >= 4 \
                and src.shape[1] == 3 and target.shape[1] == 1:
            src = src.sum(dim=1, keepdim=True)  # rule 2: RGB stem -> 1 channel
        if src.dim() == 4 and target.dim() == 5 and src.shape[:2] == target.shape[:2] \
                and src.shape[2:] == target.shape[3:]:
            src = inflate_2d_weight(src, target.shape[2])  # rule 3: I3D inflation
        if src.shape != target.shape:
            mismatched.append(f'{key}: {tuple(state_dict[key].shape)} -> {tuple(target.shape)}')
            continue
        adapted[key] = src.to(dtype=target.dtype)
    missing = [k for k in target_state
               if k not in state_dict and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in state_dict if k not in target_state]
    return adapted, missing, unexpected, mismatched


def _summary(keys: List[str], limit: int = 8) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


def load_2d_pretrained(module: nn.Module,
                       checkpoint: str,
                       prefixes: Iterable[str] = ('module.', 'backbone.'),
                       expected_unused: Iterable[str] = (),
                       rename_densenet: bool = False) -> Dict[str, List[str]]:
    """Load a 2D checkpoint into ``module`` with the rules of this file.

    Args:
        module (nn.Module): The 3D model (e.g. a converted backbone).
        checkpoint (str): A local path, or any URI mmengine's ``CheckpointLoader`` knows
            (``torchvision://densenet121`` needs a reachable model hub).
        prefixes (Iterable[str]): Key prefixes stripped in turn when present (keys without a
            present prefix are dropped and reported as unexpected).
            Defaults to ``('module.', 'backbone.')``.
        expected_unused (Iterable[str]): Regular expressions of source keys that are known not to
            be used (e.g. the layers a truncated network lacks); they are logged at INFO level
            instead of as a warning. Defaults to ().
        rename_densenet (bool): Apply :func:`rename_legacy_densenet_keys`. Defaults to False.

    Returns:
        dict[str, list[str]]: ``missing``, ``unexpected`` and ``mismatched`` keys.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu', logger='current')
    if not isinstance(ckpt, dict):
        raise TypeError(f'{checkpoint}: expected a state dict, got {type(ckpt).__name__}')
    for wrapper in ('state_dict', 'model'):
        if wrapper in ckpt and isinstance(ckpt[wrapper], dict):
            ckpt = ckpt[wrapper]
            break
    state_dict, dropped = _strip_prefixes(dict(ckpt), prefixes)
    if rename_densenet:
        state_dict = rename_legacy_densenet_keys(state_dict)
    adapted, missing, unexpected, mismatched = adapt_2d_state_dict(state_dict,
                                                                   module.state_dict())
    module.load_state_dict(adapted, strict=False)

    unused_patterns = [re.compile(p) for p in expected_unused]
    unexpected = dropped + unexpected
    known = [k for k in unexpected if any(p.match(k) for p in unused_patterns)]
    unknown = [k for k in unexpected if k not in known]
    name = type(module).__name__
    print_log(f'{name}: loaded {len(adapted)} tensors from {checkpoint}', logger='current')
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
    return dict(missing=missing, unexpected=unknown, mismatched=mismatched)
