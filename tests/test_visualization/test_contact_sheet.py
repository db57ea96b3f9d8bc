"""Findings ranking, finding tiles and the contact sheet grid."""
import numpy as np
import pytest

from acsdet.visualization import (decode_rle, make_contact_sheet, render_finding_tile, top_findings,
                                  write_contact_sheet)
from acsdet.visualization.finding_tiles import PRED_COLOR, RECIST_COLOR


def test_top_findings_rank_threshold_and_3d_ids(ct_result):
    _, result = ct_result
    found = top_findings(result['slices'], top_n=3, score_thr=0.3,
                         lesions_3d=result['lesions_3d'])
    assert [f['rank'] for f in found] == [1, 2, 3]
    assert [(f['slice_index'], f['det_rank']) for f in found] == [(2, 0), (1, 0), (3, 0)]
    assert [f['candidate'] for f in found] == [1, 1, 1]
    assert found[0]['candidate_volume_mm3'] == 1234.5
    every = top_findings(result['slices'], top_n=10, score_thr=0.0)
    assert len(every) == 5 and every[-1]['detection']['score'] == 0.2
    assert every[3]['candidate'] is None  # not grouped without lesions_3d


def test_decode_rle_accepts_str_and_bytes_counts(ct_result):
    _, result = ct_result
    rle = result['slices'][1]['detections'][0]['mask_rle']
    a = decode_rle(rle)
    b = decode_rle(dict(rle, counts=rle['counts'].encode('ascii')))
    assert a.dtype == bool and a.shape == (96, 80) and a.sum() > 100
    np.testing.assert_array_equal(a, b)


def _has_colour(img, colour, tol=30):
    return bool((np.abs(img.reshape(-1, 3).astype(int) - colour).max(1) <= tol).any())


def test_tile_zooms_on_the_box_and_draws_mask_box_recist(ct_result):
    hu, result = ct_result
    finding = top_findings(result['slices'], 1)[0]  # slice 2, box 29..47 x 39..53
    tile = render_finding_tile(hu[2], finding, tile_size=128, context=2.5, caption=False)
    assert tile.shape == (128, 128, 3) and tile.dtype == np.uint8
    assert _has_colour(tile, PRED_COLOR) and _has_colour(tile, RECIST_COLOR)
    # crop side 2.5 * 18 = 45 px around the box centre (38, 46): the tile's centre shows the
    # bright lesion (150 HU: grey 198 in soft_tissue), a corner the 40 HU tissue (grey 128)
    bare = render_finding_tile(hu[2], dict(finding, detection=dict(
        bbox=finding['detection']['bbox'], score=0.9)), tile_size=128, caption=False)
    assert abs(int(bare[64, 64, 0]) - 198) <= 2
    assert abs(int(bare[2, 2, 0]) - 128) <= 2
    # outside the slice the crop is air: on a uniform 40 HU slice, a finding at the corner
    # (crop -12..20 x -11..21) gets black borders top-left and tissue bottom-right
    corner = dict(finding, detection=dict(bbox=[0.0, 0.0, 8.0, 10.0], score=0.2))
    edge = render_finding_tile(np.full((96, 80), 40.0), corner, tile_size=64, caption=False)
    assert edge[0, 0, 0] == 0 and edge[-1, -1, 0] == 128
    with_caption = render_finding_tile(hu[2], finding, tile_size=128)
    assert with_caption.shape[0] > 128 and with_caption.shape[1] == 128
    band = with_caption[128:]
    assert band.max() > 200  # caption text


def test_contact_sheet_grid_and_tiles(ct_result, tmp_path):
    hu, result = ct_result
    found = top_findings(result['slices'], top_n=5)
    sheet = make_contact_sheet(hu, found, columns=2, tile_size=96)
    tile_h = render_finding_tile(hu[2], found[0], tile_size=96).shape[0]
    assert sheet.shape == (3 * (tile_h + 4) + 4, 2 * (96 + 4) + 4, 3)
    for i in range(5):
        r, c = divmod(i, 2)
        y, x = 4 + r * (tile_h + 4), 4 + c * 100
        cell = sheet[y:y + 96, x:x + 96]
        assert cell.std() > 10, f'tile {i} is uniform'
        assert _has_colour(cell, PRED_COLOR)
    empty_cell = sheet[4 + 2 * (tile_h + 4):, 104:200]
    assert empty_cell.std() == 0  # the 6th slot of the 3x2 grid is background
    one = make_contact_sheet(hu, found[:1], columns=4, tile_size=96)
    assert one.shape == (tile_h + 8, 104, 3)  # fewer findings than columns: one column
    none = make_contact_sheet(hu, [], tile_size=96)
    assert none.shape == (104, 104, 3) and none.max() > 150  # "no findings" text
    with pytest.raises(ValueError, match='columns must be >= 1, got 0'):
        make_contact_sheet(hu, found, columns=0)

    import cv2
    out = write_contact_sheet(str(tmp_path / 'sheet.png'), hu, found, columns=2, tile_size=96)
    back = cv2.imread(out)[:, :, ::-1]
    np.testing.assert_array_equal(back, sheet)
    assert [p.name for p in tmp_path.iterdir()] == ['sheet.png']  # no temp file left
