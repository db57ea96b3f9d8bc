"""Checkpoints that must not be loaded, on every path: the inference API (``load_detector``,
``load_segmentor`` and the tools on top of them) and the Runner (``CheckpointMatchHook``:
``tools/test.py``, ``load_from``, ``--resume``).  Both go through one check,
``acsdet.engine.hooks.checkpoint_match_hook.verify_checkpoint``: names and shapes (inference:
every tensor; Runner: at least half) and dtypes (a floating weight needs a floating tensor).
Unreadable files are one-line ``checkpoint FILE: ...`` errors from the loader itself.  Messages
asserted exactly; the table of cases is in docs/robustness.md."""
import os
import os.path as osp
import pickle
import re
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config

from acsdet.engine.hooks.checkpoint_match_hook import (CheckpointMatchHook,
                                                       CheckpointMismatchError)
from acsdet.testing import load_script
from acsdet.testing.ct_files import phantom, write_nifti
from acsdet.utils.safe_checkpoint import (CheckpointFormatError, install_safe_checkpoint_loading,
                                          load_local_checkpoint, read_state_dict)

DEMO = 'configs/acs_maskrcnn_deeplesion_demo.py'
SMOKE = 'configs/smoke/maskrcnn_r18_fpn_1xb2_3e_synthetic.py'
POC_ACS = 'configs/poc/acs_unet_poc3d.py'
ALLOWED = "only names matching ['*num_batches_tracked'] may be missing"
DTYPE_ADVICE = ('a floating weight needs a floating tensor (float16, bfloat16 and float64 are '
                'cast), an integer buffer an integer one: was the checkpoint converted to '
                'another dtype?')


def _save(path, state):
    torch.save({'state_dict': state, 'meta': {}}, str(path))
    return str(path)


def _floating(state):
    return [k for k, v in state.items() if v.is_floating_point()]


@pytest.fixture(scope='module')
def detector(repo_root, tmp_path_factory):
    """(config path, random-init state dict, its checkpoint) of the demo detector with the
    paper's BatchNorm (the demo's GroupNorm has no integer buffers; the dtype and allow-list
    rules need the BatchNorm counters)."""
    from acsdet.apis import load_detector
    folder = tmp_path_factory.mktemp('det')
    config = str(folder / 'demo_bn.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = [{osp.join(repo_root, DEMO)!r}]\n"
                "model = dict(backbone=dict(norm_cfg=dict(_delete_=True, type='BN3d', "
                "requires_grad=True)))\n")
    torch.manual_seed(0)
    model, _ = load_detector(config, None)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    path = _save(folder / 'det.pth', state)
    return config, state, path


@pytest.fixture(scope='module')
def segmentor(repo_root, tmp_path_factory):
    """(config file with a 4-8 U-Net, random-init state dict, its checkpoint) of the POC
    segmentor."""
    from acsdet.apis import load_segmentor
    folder = tmp_path_factory.mktemp('seg')
    config = str(folder / 'small_acs_unet_poc3d.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = [{osp.join(repo_root, POC_ACS)!r}]\n"
                "model = dict(network=dict(unet=dict(widths=(4, 8))))\n")
    torch.manual_seed(0)
    model, _ = load_segmentor(config, None)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return config, state, _save(folder / 'seg.pth', state)


def _not_the_model(path, owner, parts):
    return (f"checkpoint {path}: not a checkpoint of the config's model ({owner}): "
            f'{"; ".join(parts)}; inference loads every tensor ({ALLOWED}): was it saved from '
            'another architecture or config?')


# ----------------------------------------------------------------- another model's weights
def test_other_model_refused_by_load_detector(detector, segmentor, tmp_path):
    """A segmentor's checkpoint given to the detector API: refused, no random-weights run
    (mmengine alone logs "missing keys" and returns a random model)."""
    from acsdet.apis import load_detector
    config, det_state, _ = detector
    path = _save(tmp_path / 'seg_as_det.pth', segmentor[1])
    with pytest.raises(CheckpointMismatchError) as err:
        load_detector(config, path)
    needed = [k for k in det_state if not k.endswith('num_batches_tracked')]
    assert str(err.value) == _not_the_model(path, 'MaskRCNN', [
        f'{len(needed)} of its {len(det_state)} tensors are missing (e.g. '
        "'backbone.conv0.weight')"])


def test_other_model_refused_by_load_segmentor_and_infer_seg(detector, segmentor, tmp_path,
                                                              repo_root, capsys):
    """load_segmentor is strict: the detector's tensors are also named as unexpected;
    tools/infer_seg.py prints the same line and writes nothing."""
    from acsdet.apis import load_segmentor
    config, seg_state, _ = segmentor
    det_state = detector[1]
    path = _save(tmp_path / 'det_as_seg.pth', det_state)
    with pytest.raises(CheckpointMismatchError) as err:
        load_segmentor(config, path)
    needed = [k for k in seg_state if not k.endswith('num_batches_tracked')]
    first = next(iter(seg_state))
    expected = _not_the_model(path, 'VolumeSegmentor', [
        f'{len(needed)} of its {len(seg_state)} tensors are missing (e.g. {first!r})',
        f"{len(det_state)} tensors of the file are not in the model (e.g. "
        f'{next(iter(det_state))!r})'])
    assert str(err.value) == expected
    nifti = write_nifti(str(tmp_path / 'ct.nii.gz'), phantom(depth=5))
    out = tmp_path / 'out'
    tool = load_script(repo_root, 'tools/infer_seg.py')
    assert tool.main([config, path, nifti, '--out-dir', str(out)]) == 2
    assert capsys.readouterr().err == f'error: {expected}\n'
    assert not out.exists()


def test_other_model_stops_infer_before_any_output(detector, segmentor, tmp_path, repo_root,
                                                   capsys):
    """tools/infer.py: the mismatch is raised by load_detector before a slice is run or a file
    written, and the tool prints it as one ``error: <line>`` (exit 2)."""
    config = detector[0]
    path = _save(tmp_path / 'seg_as_det.pth', segmentor[1])
    nifti = write_nifti(str(tmp_path / 'ct.nii.gz'), phantom(depth=5))
    out = tmp_path / 'out'
    tool = load_script(repo_root, 'tools/infer.py')
    rc = tool.main([config, path, nifti, '--out-dir', str(out), '--no-progress'])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1, err
    line = err[len('error: '):].strip()
    assert line.startswith(f"checkpoint {path}: not a checkpoint of the config's model "
                           '(MaskRCNN): '), line
    assert not out.exists()


def test_partial_checkpoint_inference_refuses_runner_accepts(detector, tmp_path):
    """A checkpoint without the RoI head: the Runner rule (at least half, a head with another
    class count may be retrained) accepts it, the inference rule refuses it (the head would be
    random); shapes of another head are named with both shapes."""
    from mmengine.runner.checkpoint import _load_checkpoint

    from acsdet.apis import load_detector
    install_safe_checkpoint_loading()
    config, state, _ = detector
    head = [k for k in state if k.startswith('roi_head')]
    path = _save(tmp_path / 'no_head.pth', {k: v for k, v in state.items() if k not in head})
    runner = SimpleNamespace(model=load_detector(config, None)[0], _load_from=path)
    CheckpointMatchHook().after_load_checkpoint(runner, _load_checkpoint(path))
    with pytest.raises(CheckpointMismatchError) as err:
        load_detector(config, path)
    assert str(err.value) == _not_the_model(path, 'MaskRCNN', [
        f'{len(head)} of its {len(state)} tensors are missing (e.g. {head[0]!r})'])

    cls_w = 'roi_head.bbox_head.fc_cls.weight'
    other = dict(state, **{cls_w: torch.zeros(5, state[cls_w].shape[1])})
    path = _save(tmp_path / 'four_classes.pth', other)
    CheckpointMatchHook().after_load_checkpoint(runner, _load_checkpoint(path))
    with pytest.raises(CheckpointMismatchError) as err:
        load_detector(config, path)
    assert str(err.value) == _not_the_model(path, 'MaskRCNN', [
        f'1 of its {len(state)} tensors has another shape (e.g. {cls_w!r}: '
        f'(5, {state[cls_w].shape[1]}) in the file, {tuple(state[cls_w].shape)} in the model)'])


def test_allow_list_and_extra_tensors(detector, segmentor, tmp_path):
    """The allow-list: BatchNorm counters may be missing (eval mode does not use them) and the
    weights are loaded exactly; tensors the model lacks are accepted by load_detector, refused
    by the strict load_segmentor."""
    from acsdet.apis import load_detector, load_segmentor
    config, state, _ = detector
    kept = {k: v for k, v in state.items() if not k.endswith('num_batches_tracked')}
    assert len(kept) < len(state)
    path = _save(tmp_path / 'no_counters.pth', dict(kept, extra_ema_weight=torch.zeros(2)))
    model, _ = load_detector(config, path)
    got = model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in kept.items())

    seg_config, seg_state, _ = segmentor
    path = _save(tmp_path / 'seg_extra.pth', dict(seg_state, extra_ema_weight=torch.zeros(2)))
    with pytest.raises(CheckpointMismatchError) as err:
        load_segmentor(seg_config, path)
    assert str(err.value) == _not_the_model(path, 'VolumeSegmentor', [
        "1 tensor of the file is not in the model (e.g. 'extra_ema_weight')"])


# --------------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize('which', ['detector', 'segmentor'])
def test_int32_weights_refused_by_the_api(which, request, tmp_path):
    """Right names and shapes, int32 values: mmengine would cast them into the float weights
    (FROC 0.0); refused with the key and both dtypes."""
    from acsdet.apis import load_detector, load_segmentor
    config, state, _ = request.getfixturevalue(which)
    load = load_detector if which == 'detector' else load_segmentor
    path = _save(tmp_path / 'int32.pth', {k: v.to(torch.int32) for k, v in state.items()})
    with pytest.raises(CheckpointMismatchError) as err:
        load(config, path)
    floating = _floating(state)
    assert str(err.value) == (
        f'checkpoint {path}: tensor {floating[0]!r} is int32 in the checkpoint where the model '
        f'has float32 (and {len(floating) - 1} more tensors); {DTYPE_ADVICE}')


def test_int32_weights_refused_by_the_runner_hook(detector, tmp_path):
    """The Runner path (tools/test.py, load_from, --resume): CheckpointMatchHook on a runner
    stub, after mmengine's own (weights-only) loader; the model is untouched."""
    from mmengine.runner.checkpoint import _load_checkpoint

    from acsdet.apis import load_detector
    install_safe_checkpoint_loading()
    config, state, _ = detector
    key = _floating(state)[0]
    path = _save(tmp_path / 'one_int.pth', dict(state, **{key: state[key].to(torch.int32)}))
    model = load_detector(config, None)[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        CheckpointMatchHook().after_load_checkpoint(
            SimpleNamespace(model=model, _load_from=path), _load_checkpoint(path))
    assert str(err.value) == (f'checkpoint {path}: tensor {key!r} is int32 in the checkpoint '
                              f'where the model has float32; {DTYPE_ADVICE}')
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_runner_hook_unwraps_the_tta_wrapper(detector):
    """tools/test.py --tta: the model is LesionDetTTAModel(module=detector); the detector's own
    checkpoint fits it (its keys have no 'module.' prefix), another model's does not."""
    from mmengine.runner.checkpoint import _load_checkpoint

    from acsdet.apis import load_detector
    from acsdet.models.test_time_augs import LesionDetTTAModel
    config, _, path = detector
    tta = LesionDetTTAModel(module=load_detector(config, None)[0],
                            tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=5))
    runner = SimpleNamespace(model=tta, _load_from=path)
    CheckpointMatchHook().after_load_checkpoint(runner, _load_checkpoint(path))
    with pytest.raises(CheckpointMismatchError, match='does not fit MaskRCNN: only 0 of'):
        CheckpointMatchHook().after_load_checkpoint(runner, {'state_dict': {
            'other.weight': torch.zeros(2)}})


def test_numpy_value_refused(detector, tmp_path):
    """A numpy array under a weight's name: mmengine would skip it with a warning."""
    from acsdet.apis import load_detector
    from acsdet.utils.safe_checkpoint import allow_mmengine_checkpoint_types
    allow_mmengine_checkpoint_types()
    config, state, _ = detector
    key = _floating(state)[0]
    path = _save(tmp_path / 'numpy.pth', dict(state, **{key: state[key].numpy()}))
    with pytest.raises(CheckpointMismatchError) as err:
        load_detector(config, path)
    assert str(err.value) == (f'checkpoint {path}: tensor {key!r} is a numpy.ndarray in the '
                              f'checkpoint where the model has a float32 tensor; {DTYPE_ADVICE}')


@pytest.mark.parametrize('dtype', [torch.float64, torch.float16, torch.bfloat16])
def test_other_float_precision_is_cast(detector, dtype, tmp_path):
    """float64 / float16 / bfloat16 copies of a checkpoint load, cast to the model's float32;
    ``{k: v.to(dtype)}`` also turns the BatchNorm counters into floats of whole numbers, which
    are accepted for the int64 counters."""
    from acsdet.apis import load_detector
    config, state, _ = detector
    path = _save(tmp_path / f'{dtype}.pth', {k: v.to(dtype) for k, v in state.items()})
    model, _ = load_detector(config, path)
    got = model.state_dict()
    assert {v.dtype for v in got.values()} == {torch.float32, torch.int64}
    for k, v in state.items():
        torch.testing.assert_close(got[k], v.to(dtype).to(v.dtype), rtol=0, atol=0)


# ------------------------------------------------------------------------ unreadable files
def _empty(p):
    open(p, 'wb').close()


def _truncated_zip(p):
    torch.save({'state_dict': {'w': torch.ones(1000)}}, p)
    with open(p, 'rb') as f:
        data = f.read()
    with open(p, 'wb') as f:
        f.write(data[:len(data) // 2])


def _text(p):
    with open(p, 'w') as f:
        f.write('not a checkpoint\n')


def _binary(p):
    with open(p, 'wb') as f:
        f.write(b'\x00\x01binary data')


def _plain_pickle(p):
    with open(p, 'wb') as f:
        pickle.dump({'w': [1.0]}, f, protocol=4)


BAD_FILES = {
    'empty file': (_empty, 'empty file (0 bytes)'),
    'truncated zip': (_truncated_zip, 'truncated or corrupt zip archive (or not one written by '
                                      'torch.save): PytorchStreamReader failed reading zip '
                                      'archive: failed finding central directory'),
    'text file': (_text, "a text file, not a PyTorch checkpoint (it starts with "
                         "'not a checkpoint\\n')"),
    'pickled list': (lambda p: torch.save([torch.zeros(1)], p),
                     'expected a state dict, got list'),
    'dict without tensors': (lambda p: torch.save({'meta': {'epoch': 3}}, p),
                             'expected a state dict, got a dict without tensors (keys [meta])'),
    'empty state_dict': (lambda p: torch.save({'state_dict': {}, 'meta': {}}, p),
                         'expected a state dict, got a dict without tensors (keys [meta, '
                         "state_dict]; its 'state_dict' entry holds none)"),
    'directory': (os.mkdir, 'is a directory, not a checkpoint file'),
    'other binary file': (_binary,
                          'not a PyTorch checkpoint (neither a zip archive nor a torch.save '
                          "pickle; it starts with b'\\x00\\x01binary')"),
    'plain pickle': (_plain_pickle,
                     "a pickle without torch.save's header (pickle.dump?), not a PyTorch "
                     'checkpoint (Unsupported operand 149)'),
}


NO_TENSORS = ('dict without tensors', 'empty state_dict')


@pytest.mark.parametrize('kind', list(BAD_FILES))
def test_unreadable_file_is_one_line_everywhere(kind, detector, tmp_path):
    """The same line from the loader, read_state_dict (2D weights), mmengine's loader and
    CheckpointMatchHook (the Runner: tools/test.py, load_from, --resume) and load_detector.
    A dict without tensors is a readable file: the loaders return it, the whole-model checks
    refuse it (2D-weight loading names the keys it misses, see test_fcn_resnet3d.py)."""
    from mmengine.runner.checkpoint import _load_checkpoint

    from acsdet.apis import load_detector
    install_safe_checkpoint_loading()
    make, problem = BAD_FILES[kind]
    path = str(tmp_path / 'bad.pth')
    make(path)
    expected = f'checkpoint {path}: {problem}'
    runner = SimpleNamespace(model=torch.nn.Linear(2, 2), _load_from=path)
    loads = [lambda: CheckpointMatchHook().after_load_checkpoint(
                 runner, _load_checkpoint(path, map_location='cpu')),
             lambda: load_detector(detector[0], path)]
    if kind in NO_TENSORS:
        assert isinstance(load_local_checkpoint(path), dict)
        assert not any(isinstance(v, torch.Tensor) for v in read_state_dict(path).values())
    else:
        loads += [lambda: load_local_checkpoint(path, map_location='cpu'),
                  lambda: read_state_dict(path)]
    for load in loads:
        with pytest.raises(CheckpointFormatError) as err:
            load()
        assert str(err.value) == expected
    assert isinstance(err.value, ValueError) and isinstance(err.value, KeyError)


def test_unreadable_file_through_infer_seg(segmentor, tmp_path, repo_root, capsys):
    config = segmentor[0]
    path = str(tmp_path / 'empty.pth')
    _empty(path)
    nifti = write_nifti(str(tmp_path / 'ct.nii.gz'), phantom(depth=5))
    out = tmp_path / 'out'
    tool = load_script(repo_root, 'tools/infer_seg.py')
    assert tool.main([config, path, nifti, '--out-dir', str(out)]) == 2
    assert capsys.readouterr().err == f'error: checkpoint {path}: empty file (0 bytes)\n'
    assert not out.exists()


def test_good_and_legacy_checkpoints_still_load(detector, segmentor, tmp_path):
    """The checks leave good files alone: the saved checkpoints, a legacy (pre-zip)
    torch.save file and a bare state dict with a DDP prefix."""
    from acsdet.apis import load_detector, load_segmentor
    config, state, path = detector
    model, _ = load_detector(config, path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    legacy = str(tmp_path / 'legacy.pth')
    torch.save({'state_dict': state}, legacy, _use_new_zipfile_serialization=False)
    load_detector(config, legacy)
    seg_config, seg_state, _ = segmentor
    bare = str(tmp_path / 'bare.pth')
    torch.save({f'module.{k}': v for k, v in seg_state.items()}, bare)
    model, _ = load_segmentor(seg_config, bare)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in seg_state.items())


# ------------------------------------------------------------------------ tools/test.py
@pytest.mark.slow
def test_int32_weights_refused_by_test_tool(tmp_path, python_exe, repo_root):
    """End to end: tools/test.py with an int32 copy of the smoke model's own tensors stops
    before testing (mmengine alone would cast them and report a meaningless metric)."""
    from acsdet.apis import register_all_modules
    from acsdet.registry import MODELS
    from acsdet.testing import make_synthetic_coco
    register_all_modules(init_default_scope=False)
    data = tmp_path / 'data'
    make_synthetic_coco(str(data), num_train=1, num_val=1, size=64)
    cfg = Config.fromfile(osp.join(repo_root, SMOKE))
    state = MODELS.build(cfg.model).state_dict()
    path = _save(tmp_path / 'int32.pth', {k: v.to(torch.int32) for k, v in state.items()})
    out = tmp_path / 'preds.pkl'
    proc = subprocess.run(
        [python_exe, 'tools/test.py', SMOKE, path, '--work-dir', str(tmp_path / 'w'),
         '--out', str(out), '--cfg-options', f'test_dataloader.dataset.data_root={data}/',
         f'test_evaluator.ann_file={data}/annotations/val.json'],
        cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    floating = _floating(state)
    last = proc.stderr.strip().splitlines()[-1]
    assert last == ('acsdet.engine.hooks.checkpoint_match_hook.CheckpointMismatchError: '
                    f'checkpoint {path}: tensor {floating[0]!r} is int32 in the checkpoint '
                    f'where the model has float32 (and {len(floating) - 1} more tensors); '
                    f'{DTYPE_ADVICE}'), last
    assert not out.exists()
    assert not re.search(r'coco/bbox_mAP', proc.stdout + proc.stderr)


def test_rule_functions_are_one(detector):
    """model_from_config and CheckpointMatchHook use the same verify_checkpoint."""
    import acsdet.apis.model_from_config as mfc
    import acsdet.engine.hooks.checkpoint_match_hook as cmh
    assert mfc.verify_checkpoint is cmh.verify_checkpoint
    assert np.isclose(CheckpointMatchHook().min_fraction, 0.5)
