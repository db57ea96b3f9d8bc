"""acsdet.utils.cli_types: checked argparse types, OrderedPair, output-folder checks."""
import argparse
import os

import pytest

from acsdet.utils.cli_types import (OrderedPair, check_output_dir, finite_float,
                                    nonnegative_float, nonnegative_int, positive_float,
                                    positive_fraction, positive_int, probability)


@pytest.mark.parametrize('parse, good, bad, what', [
    (positive_int, {'1': 1, '12': 12}, ['0', '-1', '2.5', 'x', ''], 'an integer >= 1'),
    (nonnegative_int, {'0': 0, '3': 3}, ['-1', '1e3', 'nan'], 'an integer >= 0'),
    (positive_float, {'0.5': 0.5, '1e-3': 1e-3}, ['0', '-0.1', 'nan', 'inf', 'mm'],
     'a finite number > 0'),
    (nonnegative_float, {'0': 0.0, '16': 16.0}, ['-1', '-inf', 'nan'], 'a finite number >= 0'),
    (probability, {'0': 0.0, '1': 1.0, '0.3': 0.3}, ['1.01', '-0.5', 'nan'],
     'a number in [0, 1]'),
    (positive_fraction, {'1': 1.0, '0.5': 0.5}, ['0', '1.5', 'nan'], 'a number in (0, 1]'),
    (finite_float, {'-1024': -1024.0, '3071': 3071.0}, ['inf', 'nan', 'abc'],
     'a finite number'),
])
def test_types_accept_and_refuse(parse, good, bad, what):
    for text, value in good.items():
        assert parse(text) == value and type(parse(text)) is type(value)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError) as exc:
            parse(text)
        assert str(exc.value) == f'must be {what}, got {text!r}'


def _parser():
    p = argparse.ArgumentParser(prog='t')
    p.add_argument('--range', nargs=2, type=finite_float, action=OrderedPair,
                   metavar=('LOW', 'HIGH'))
    p.add_argument('--slices', nargs=2, type=nonnegative_int, action=OrderedPair,
                   strict=False, metavar=('FIRST', 'LAST'))
    p.add_argument('--n', type=positive_int)
    return p


def test_ordered_pair(capsys):
    args = _parser().parse_args(['--range', '-1', '2', '--slices', '3', '3'])
    assert args.range == [-1.0, 2.0] and args.slices == [3, 3]
    for argv, line in ((['--range', '2', '2'], 'argument --range: LOW must be < HIGH, got 2 2'),
                       (['--slices', '4', '3'],
                        'argument --slices: FIRST must be <= LAST, got 4 3'),
                       (['--n', '0'], "argument --n: must be an integer >= 1, got '0'")):
        with pytest.raises(SystemExit):
            _parser().parse_args(argv)
        assert capsys.readouterr().err.splitlines()[-1] == f't: error: {line}'
    with pytest.raises(ValueError, match='OrderedPair needs nargs=2'):
        argparse.ArgumentParser().add_argument('--x', action=OrderedPair)


def test_check_output_dir_accepts_and_creates_nothing(tmp_path):
    check_output_dir(str(tmp_path / 'new' / 'deeper'), files=['a.json'], folders=['pics'])
    check_output_dir(str(tmp_path), files=['a.json'], folders=['pics'])
    (tmp_path / 'pics').mkdir()
    check_output_dir(str(tmp_path), folders=['pics'])
    assert sorted(os.listdir(tmp_path)) == ['pics']  # no folder created, no probe file left
    assert os.listdir(tmp_path / 'pics') == []


def test_check_output_dir_refusals(tmp_path):
    f = tmp_path / 'file'
    f.write_text('x')
    with pytest.raises(ValueError, match=f'^--out {f}: is a file, expected a folder$'):
        check_output_dir(str(f), '--out')
    with pytest.raises(ValueError, match=f'^--out-dir {f}/a/b: cannot create the folder: '
                       f'{f} is a file$'):
        check_output_dir(str(f / 'a' / 'b'))
    (tmp_path / 'x.json').mkdir()
    with pytest.raises(ValueError, match=f'{tmp_path}/x.json is a folder, expected a file$'):
        check_output_dir(str(tmp_path), files=['x.json'])
    with pytest.raises(ValueError, match=f'^somewhere: {tmp_path}/file is a file, expected a '
                       'folder$'):
        check_output_dir(str(tmp_path), folders=['file'], label='somewhere')
