"""Numbers on the command line and output locations (issue 18, classes 4 and 6), met by
tools/infer.py, tools/infer_seg.py, tools/froc_eval.py and tools/browse_dataset.py.

Each tool runs in-process through its ``main(argv)``. A bad number, or an option that needs
another one, is argparse's usage error (exit 2) whose last line names the option; an option
that does not apply to the input, and an output location that cannot be written, are one
line ``error: ...`` before any work: the checkpoint passed is never opened (it does not exist),
so reaching the model would fail differently.
"""
import contextlib
import importlib.util
import json
import os
import os.path as osp
import shutil
import tempfile

import pytest

from acsdet.fileio.deeplesion_png import write_hu_png
from acsdet.testing.ct_files import phantom, write_nifti

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load(name):
    spec = importlib.util.spec_from_file_location(f'acsdet_{name}_cli_numbers',
                                                  osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


INFER, INFER_SEG, FROC, BROWSE = (_load(n) for n in ('infer', 'infer_seg', 'froc_eval',
                                                     'browse_dataset'))
TOOLS = dict(infer=INFER, infer_seg=INFER_SEG, froc_eval=FROC, browse_dataset=BROWSE)
NEVER = 'never_loaded.pth'
INFER_POS = ['cfg.py', NEVER, 'ct.nii.gz']


def usage_error(tool, argv, capsys):
    """Run ``tool.main(argv)``, expect argparse's exit 2; returns stderr's last line."""
    with pytest.raises(SystemExit) as exc:
        tool.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    lines = err.rstrip('\n').split('\n')
    assert lines[0].startswith('usage: ')
    return lines[-1]


# --------------------------------------------------------------------- class 4: numbers

@pytest.mark.parametrize('tool, argv, message', [
    ('infer', ['--batch-size', '-1'],
     "infer.py: error: argument --batch-size: must be an integer >= 1, got '-1'"),
    ('infer', ['--pixel-spacing', '0'],
     "infer.py: error: argument --pixel-spacing: must be a finite number > 0, got '0'"),
    ('infer', ['--slice-interval', '0'],
     "infer.py: error: argument --slice-interval: must be a finite number > 0, got '0'"),
    ('infer', ['--slice-interval', 'nan'],
     "infer.py: error: argument --slice-interval: must be a finite number > 0, got 'nan'"),
    ('infer', ['--score-thr', '1.5'],
     "infer.py: error: argument --score-thr: must be a number in [0, 1], got '1.5'"),
    ('infer', ['--slices', '3', '1'],
     'infer.py: error: argument --slices: FIRST must be <= LAST, got 3 1'),
    ('infer', ['--slices', '-1', '2'],
     "infer.py: error: argument --slices: must be an integer >= 0, got '-1'"),
    ('infer', ['--input-type', 'image', '--image-hu-range', '100', '-100'],
     'infer.py: error: argument --image-hu-range: LOW must be < HIGH, got 100 -100'),
    ('infer', ['--overlays', '--max-overlays', '0'],
     "infer.py: error: argument --max-overlays: must be an integer >= 1, got '0'"),
    ('infer', ['--report', '--top-n', '2.5'],
     "infer.py: error: argument --top-n: must be an integer >= 1, got '2.5'"),
    ('infer', ['--group-3d', '--group-score-thr', '-0.1'],
     "infer.py: error: argument --group-score-thr: must be a number in [0, 1], got '-0.1'"),
    ('froc_eval', ['--iou-thr', '0'],
     "froc_eval.py: error: argument --iou-thr: must be a number in (0, 1], got '0'"),
    ('froc_eval', ['--iou-thr', '1.5'],
     "froc_eval.py: error: argument --iou-thr: must be a number in (0, 1], got '1.5'"),
    ('froc_eval', ['--fp-rates', '1', '-2'],
     "froc_eval.py: error: argument --fp-rates: must be a finite number >= 0, got '-2'"),
    ('froc_eval', ['--mean-fp-rates', 'inf'],
     "froc_eval.py: error: argument --mean-fp-rates: must be a finite number >= 0, got 'inf'"),
    ('browse_dataset', ['--max-images', '0'],
     "browse_dataset.py: error: argument --max-images: must be an integer >= 1, got '0'"),
    ('browse_dataset', ['--alpha', '2'],
     "browse_dataset.py: error: argument --alpha: must be a number in [0, 1], got '2'"),
    ('browse_dataset', ['--show-interval', '-1'],
     "browse_dataset.py: error: argument --show-interval: must be a finite number >= 0, "
     "got '-1'"),
    ('browse_dataset', ['--image-hu-range', '5', '5'],
     'browse_dataset.py: error: argument --image-hu-range: LOW must be < HIGH, got 5 5'),
])
def test_bad_number_is_argparse_usage_error(tool, argv, message, capsys):
    pos = {'infer': INFER_POS, 'froc_eval': ['gt.json', 'res.json'],
           'browse_dataset': ['ann.json']}[tool]
    assert usage_error(TOOLS[tool], pos + argv, capsys) == message


@pytest.mark.parametrize('tool, argv, message', [
    ('infer', ['--group-score-thr', '0.2'],
     'infer.py: error: --group-score-thr applies only with --group-3d'),
    ('infer', ['--overlay-score-thr', '0.5'],
     'infer.py: error: --overlay-score-thr applies only with --overlays'),
    ('infer', ['--window', 'lung'],
     'infer.py: error: --window applies only with --overlays, --contact-sheet or --report'),
    ('infer', ['--finding-score-thr', '0.1', '--overlays'],
     'infer.py: error: --finding-score-thr applies only with --contact-sheet or --report'),
    ('infer', ['--image-hu-range', '-100', '100'],
     'infer.py: error: --image-hu-range applies only with --input-type image (8-bit pictures)'),
    ('froc_eval', ['--hit-rule', 'center', '--iou-thr', '0.3'],
     'froc_eval.py: error: --iou-thr applies only to --hit-rule iou and iobb (center has no '
     'threshold)'),
    ('browse_dataset', ['--split', 'val'],
     'browse_dataset.py: error: --split applies only to a CONFIG source (not a json)'),
    ('browse_dataset', ['--cfg-options', 'a=1'],
     'browse_dataset.py: error: --cfg-options applies only to a CONFIG source (not a json)'),
    ('browse_dataset', ['--not-show', '--show-interval', '1'],
     'browse_dataset.py: error: --show-interval applies only to images shown in a window (not '
     'with --not-show)'),
])
def test_option_that_needs_another_is_refused(tool, argv, message, capsys):
    pos = {'infer': INFER_POS, 'froc_eval': ['gt.json', 'res.json'],
           'browse_dataset': ['ann.json']}[tool]
    assert usage_error(TOOLS[tool], pos + argv, capsys) == message


def test_browse_image_hu_range_not_with_augment(capsys):
    assert usage_error(BROWSE, ['cfg.py', '--augment', '--image-hu-range', '0', '1'],
                       capsys) == ('browse_dataset.py: error: --image-hu-range applies only to '
                                   'the json drawn as it is (not with --augment, whose pipeline '
                                   'reads the images)')


def test_defaults_and_good_values_parse():
    args = INFER.parse_args(INFER_POS + ['--slices', '2', '2', '--batch-size', '1'])
    assert args.slices == [2, 2] and args.batch_size == 1
    assert (args.group_score_thr, args.window, args.overlay_score_thr, args.max_overlays,
            args.top_n, args.finding_score_thr) == (0.5, 'soft_tissue', 0.3, 20, 16, 0.3)
    assert args.image_hu_range == [-1024.0, 3071.0]
    args = INFER.parse_args(INFER_POS + ['--pixel-spacing', '0.8', '--slice-interval', '1'])
    assert INFER.check_input_options(args, 'png_series') is None
    assert FROC.parse_args(['g.json', 'r.json']).iou_thr == 0.5
    args = BROWSE.parse_args(['ann.json'])
    assert (args.split, args.show_interval) == ('train', 2.0)


@pytest.fixture(scope='module')
def nifti(tmp_path_factory):
    return write_nifti(str(tmp_path_factory.mktemp('ct') / 'ct.nii.gz'), phantom(depth=6))


@pytest.fixture(scope='module')
def png_image(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('png') / 'slice.png')
    write_hu_png(path, phantom(depth=1, height=64, width=64)[0])
    return path


def test_pixel_spacing_on_nifti_is_refused(nifti, tmp_path, capsys):
    """Before: silently ignored (a NIfTI has its own spacing)."""
    out = tmp_path / 'out'
    rc = INFER.main(['cfg.py', NEVER, nifti, '--out-dir', str(out), '--pixel-spacing', '0.7'])
    assert rc == 2
    assert capsys.readouterr().err == (
        f'error: --pixel-spacing applies only to png_series and image input; {nifti} is nifti '
        'input (its spacing is read from the file)\n')
    assert not out.exists()


def test_slice_interval_on_single_image_is_refused(png_image, tmp_path, capsys):
    rc = INFER.main(['cfg.py', NEVER, png_image, '--out-dir', str(tmp_path / 'out'),
                     '--slice-interval', '1'])
    assert rc == 2
    assert capsys.readouterr().err == (
        f'error: --slice-interval applies only to png_series input; {png_image} is image input '
        '(one slice)\n')


def test_explicit_input_type_is_checked_before_reading(tmp_path, capsys):
    missing = str(tmp_path / 'not_there.nii')  # not read: the option is refused first
    assert INFER.main(['cfg.py', NEVER, missing, '--input-type', 'nifti', '--out-dir',
                       str(tmp_path / 'o'), '--pixel-spacing', '1']) == 2
    assert capsys.readouterr().err == (
        f'error: --pixel-spacing applies only to png_series and image input; {missing} is '
        'nifti input (its spacing is read from the file)\n')


def test_slices_beyond_the_volume_before_the_model(nifti, tmp_path, capsys):
    assert INFER.main(['cfg.py', NEVER, nifti, '--out-dir', str(tmp_path / 'o'),
                       '--slices', '0', '9']) == 2
    assert capsys.readouterr().err == f'error: --slices 0 9 outside 0..5 of {nifti}\n'


# --------------------------------------------------------------------- class 6: outputs

def test_infer_out_dir_is_a_file(nifti, tmp_path, capsys):
    f = tmp_path / 'taken.txt'
    f.write_text('x')
    assert INFER.main(['cfg.py', NEVER, nifti, '--out-dir', str(f)]) == 2
    assert capsys.readouterr().err == f'error: --out-dir {f}: is a file, expected a folder\n'


def test_infer_out_dir_below_a_file(nifti, tmp_path, capsys):
    f = tmp_path / 'taken.txt'
    f.write_text('x')
    assert INFER.main(['cfg.py', NEVER, nifti, '--out-dir', str(f / 'sub')]) == 2
    assert capsys.readouterr().err == (f'error: --out-dir {f / "sub"}: cannot create the '
                                       f'folder: {f} is a file\n')


@pytest.mark.parametrize('taken, extra, message', [
    ('detections.json', [], '{out}/detections.json is a folder, expected a file'),
    ('report.html', ['--report'], '{out}/report.html is a folder, expected a file'),
    ('overlays', ['--overlays'], '{out}/overlays is a file, expected a folder'),
])
def test_infer_output_name_taken(nifti, tmp_path, capsys, taken, extra, message):
    out = tmp_path / 'out'
    out.mkdir()
    if taken == 'overlays':
        (out / taken).write_text('x')
    else:
        (out / taken).mkdir()
    assert INFER.main(['cfg.py', NEVER, nifti, '--out-dir', str(out), *extra]) == 2
    assert capsys.readouterr().err == f'error: --out-dir {out}: {message.format(out=out)}\n'


def test_infer_seg_output_file_is_a_folder(nifti, tmp_path, capsys):
    out = tmp_path / 'out'
    (out / 'ct_seg.json').mkdir(parents=True)
    assert INFER_SEG.main(['cfg.py', NEVER, nifti, '--out-dir', str(out)]) == 2
    assert capsys.readouterr().err == (f'error: --out-dir {out}: {out}/ct_seg.json is a '
                                       'folder, expected a file\n')


def test_froc_out_dir_is_a_file(tmp_path, capsys):
    f = tmp_path / 'taken'
    f.write_text('x')
    assert FROC.main(['gt.json', 'res.json', '--out-dir', str(f)]) == 1
    assert capsys.readouterr().err == (f'froc_eval.py: error: --out-dir {f}: is a file, '
                                       'expected a folder\n')


def test_browse_output_png_name_taken_by_a_folder(tmp_path, capsys):
    img_dir = tmp_path / 'Images_png'
    write_hu_png(str(img_dir / '000001_01_01' / '010.png'),
                 phantom(depth=1, height=64, width=64)[0])
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(dict(
        images=[dict(id=1, file_name='000001_01_01/010.png', width=64, height=64)],
        annotations=[], categories=[dict(id=1, name='lesion')])))
    out = tmp_path / 'out'
    (out / '000001_01_01_010.png').mkdir(parents=True)
    assert BROWSE.main([str(ann), '--img-dir', str(img_dir), '--output-dir', str(out),
                        '--not-show']) == 2
    assert capsys.readouterr().err == (f'error: --output-dir {out}: '
                                       f'{out}/000001_01_01_010.png is a folder, expected a '
                                       'file\n')
    assert os.listdir(out) == ['000001_01_01_010.png']  # nothing drawn


@contextlib.contextmanager
def _as_unprivileged_user():
    """Root writes into any folder, so a read-only folder is only read-only for another
    user: when the tests run as root, the tool runs with the effective uid of 'nobody'."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.fixture
def read_only_dir():
    """A folder of mode 0o555 in a folder every user can enter."""
    base = tempfile.mkdtemp(prefix='acsdet_ro_')
    os.chmod(base, 0o755)
    ro = osp.join(base, 'ro')
    os.mkdir(ro)
    with open(osp.join(ro, 'res.json'), 'w') as f:
        f.write('[]')
    os.chmod(ro, 0o555)
    yield ro
    os.chmod(ro, 0o755)
    shutil.rmtree(base)


def _read_only_cases(ro, nifti):
    denied = f'cannot write in {ro} (Permission denied)'
    return {
        'infer': (INFER, ['cfg.py', NEVER, nifti, '--out-dir', osp.join(ro, 'out')], 2,
                  f'error: --out-dir {osp.join(ro, "out")}: {denied}'),
        'infer_seg': (INFER_SEG, ['cfg.py', NEVER, nifti, '--out-dir', ro], 2,
                      f'error: --out-dir {ro}: {denied}'),
        'froc_eval': (FROC, ['gt.json', osp.join(ro, 'res.json')], 1,
                      f'froc_eval.py: error: --out-dir {ro} (default: the folder of RESULTS): '
                      f'{denied}'),
        'browse_dataset': (BROWSE, ['ann.json', '--output-dir', ro, '--not-show'], 2,
                           f'error: --output-dir {ro}: {denied}'),
    }


@pytest.mark.parametrize('name', ['infer', 'infer_seg', 'froc_eval', 'browse_dataset'])
def test_read_only_output_folder_fails_first(name, read_only_dir, nifti, capsys):
    """Before: found only when the first file was written, after all the inference."""
    tool, argv, code, message = _read_only_cases(read_only_dir, nifti)[name]
    with _as_unprivileged_user():
        rc = tool.main(argv)
    assert rc == code
    assert capsys.readouterr().err == message + '\n'
    assert sorted(os.listdir(read_only_dir)) == ['res.json']  # no probe file left
