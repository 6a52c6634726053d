"""The hints file format (parse, check, write), its rasterisation, the plane normalisation and the
torch-free sRGB twin."""
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from colorclass.color import lab_to_rgb, rgb_to_lab
from colorclass.hints import srgb
from colorclass.hints.points import (
    AB_SCALE,
    MAX_HINTS,
    MAX_HINTS_FILE_BYTES,
    Hint,
    hint_maps,
    hint_planes,
    hints_to_json,
    hints_to_planes,
    parse_hints,
    read_hints_file,
)
from colorclass.support.errors import ColorclassError, InputFileError


def test_hex_colours_become_lab_chroma_at_their_own_lightness():
    hints = parse_hints('[{"x": 1, "y": 2, "colour": "#FF0000"}, {"x": 0, "y": 0, "colour": "#c83c1e", "size": 5},'
                        ' {"x": 4, "y": 4, "color": "#808080"}]', width=5, height=5)
    assert hints[0].x == 1 and hints[0].y == 2 and hints[0].size == 1
    np.testing.assert_allclose(hints[0].ab, (80.0923, 67.2028), atol=1e-3)   # scikit-image rgb2lab of red
    np.testing.assert_allclose(hints[1].ab, (53.9957, 48.0324), atol=1e-3)
    assert hints[1].size == 5
    np.testing.assert_allclose(hints[2].ab, (0.0, 0.0), atol=0.01)


def test_ab_pairs_and_parsed_objects_are_accepted():
    data = [{"x": 3, "y": 0, "colour": [12.5, -40]}, {"x": 0, "y": 6, "colour": [-128, 127], "size": 31}]
    assert parse_hints(data, width=4, height=7) == [Hint(3, 0, (12.5, -40.0), 1), Hint(0, 6, (-128.0, 127.0), 31)]
    assert parse_hints(json.dumps(data).encode(), width=4, height=7) == parse_hints(data, width=4, height=7)
    assert parse_hints("[]", width=1, height=1) == []


def _entries(bad: dict) -> str:
    good = [{"x": 0, "y": 0, "colour": "#000000"}] * 3
    return json.dumps(good + [bad])


@pytest.mark.parametrize("bad, expected", [
    ({"x": 900, "y": 0, "colour": "#ff0000"},
     "hints.json entry 3: x=900 is outside the photo (width 640); x must be in 0..639"),
    ({"x": 0, "y": 480, "colour": "#ff0000"}, "entry 3: y=480 is outside the photo (height 480)"),
    ({"x": -1, "y": 0, "colour": "#ff0000"}, "entry 3: x=-1 is outside the photo"),
    ({"x": 1.5, "y": 0, "colour": "#ff0000"}, "entry 3: x=1.5 is not a whole number"),
    ({"x": 1.0, "y": 0, "colour": "#ff0000"}, "entry 3: x=1.0 is not a whole number"),
    ({"x": True, "y": 0, "colour": "#ff0000"}, "entry 3: x=true is not a whole number"),
    ({"x": 0, "y": "3", "colour": "#ff0000"}, 'entry 3: y="3" is not a whole number'),
    ({"x": 0, "y": 0}, 'entry 3: missing "colour"'),
    ({"y": 0, "colour": "#ff0000"}, 'entry 3: missing "x"'),
    ({"x": 0, "y": 0, "colour": "#ff0000", "szie": 3}, 'entry 3: unknown key "szie"'),
    ({"x": 0, "y": 0, "colour": "#ff00"}, 'entry 3: colour="#ff00" is not a "#rrggbb" hex colour'),
    ({"x": 0, "y": 0, "colour": "#gg0000"}, 'entry 3: colour="#gg0000" is not a "#rrggbb"'),
    ({"x": 0, "y": 0, "colour": "red"}, 'entry 3: colour="red" is not a "#rrggbb"'),
    ({"x": 0, "y": 0, "colour": [200, 0]}, "entry 3: colour=[200, 0] is outside the Lab chroma range"),
    ({"x": 0, "y": 0, "colour": [0, -128.5]}, "entry 3: colour=[0, -128.5] is outside the Lab chroma range"),
    ({"x": 0, "y": 0, "colour": [1, 2, 3]}, 'entry 3: colour=[1, 2, 3] must be "#rrggbb" or [a, b]'),
    ({"x": 0, "y": 0, "colour": [True, 2]}, "entry 3: colour=[true, 2] must be"),
    ({"x": 0, "y": 0, "colour": "#ff0000", "size": 0}, "entry 3: size=0 is outside the point sizes 1..31"),
    ({"x": 0, "y": 0, "colour": "#ff0000", "size": 32}, "entry 3: size=32 is outside"),
    ({"x": 0, "y": 0, "colour": "#ff0000", "size": 2.5}, "entry 3: size=2.5 is not a whole number"),
])
def test_bad_entries_are_named_by_index_and_value(bad, expected):
    with pytest.raises(InputFileError) as e:
        parse_hints(_entries(bad), width=640, height=480)
    message = str(e.value)
    assert expected in message and "\n" not in message
    assert message.startswith("hints.json entry 3:")


@pytest.mark.parametrize("text, expected", [
    ("[{", "hints.json: not valid JSON"),
    ('{"x": 1}', "hints.json: expected a JSON list of points, got dict"),
    ("3", "expected a JSON list of points, got int"),
    ("[5]", "hints.json entry 0: 5 is not an object"),
    ('[{"x": 0, "y": 0, "colour": [NaN, 0]}]', "entry 0: colour=[NaN, 0] is not a pair of finite numbers"),
    ('[{"x": 0, "y": 0, "colour": [0, Infinity]}]', "is not a pair of finite numbers"),
    ('[{"x": NaN, "y": 0, "colour": "#000000"}]', "entry 0: x=NaN is not a whole number"),
    (b"\xff\xfe\x00[", "hints.json:"),
    ("[" * 100000, "hints.json:"),
])
def test_malformed_files_raise_one_line_errors(text, expected):
    with pytest.raises(ColorclassError) as e:
        parse_hints(text, width=10, height=10)
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_at_most_max_hints_points():
    ok = [{"x": 0, "y": 0, "colour": [0, 0]}] * MAX_HINTS
    assert len(parse_hints(ok, width=1, height=1)) == MAX_HINTS
    with pytest.raises(InputFileError, match=f"{MAX_HINTS + 1} points, more than the limit of {MAX_HINTS}"):
        parse_hints(ok + ok[:1], width=1, height=1)


def test_read_hints_file_checks_existence_and_size(tmp_path):
    path = tmp_path / "h.json"
    path.write_text('[{"x": 2, "y": 1, "colour": [10, 20], "size": 3}]')
    assert read_hints_file(path, width=3, height=2) == [Hint(2, 1, (10.0, 20.0), 3)]
    with pytest.raises(InputFileError, match=r"h\.json entry 0: x=2 is outside the photo \(width 2\)"):
        read_hints_file(path, width=2, height=2)
    with pytest.raises(InputFileError, match="does not exist"):
        read_hints_file(tmp_path / "missing.json", width=3, height=2)
    with pytest.raises(InputFileError, match="is a folder"):
        read_hints_file(tmp_path, width=3, height=2)
    big = tmp_path / "big.json"
    big.write_text("[" + " " * MAX_HINTS_FILE_BYTES + "]")
    with pytest.raises(InputFileError, match="larger than the 1 MB limit"):
        read_hints_file(big, width=3, height=2)


def test_json_round_trip():
    hints = [Hint(3, 4, (12.25, -40.5), 1), Hint(0, 0, (-128.0, 127.0), 7), Hint(9, 2, (0.0, 0.01), 31)]
    text = hints_to_json(hints)
    assert parse_hints(text, width=10, height=5) == hints
    assert hints_to_json([]) == "[]\n" and parse_hints(hints_to_json([]), width=1, height=1) == []
    from_hex = parse_hints('[{"x": 1, "y": 1, "colour": "#3a7bd5"}]', width=2, height=2)
    again = parse_hints(hints_to_json(from_hex), width=2, height=2)
    np.testing.assert_allclose(again[0].ab, from_hex[0].ab, atol=0.005)
    assert hints_to_json(again) == hints_to_json(from_hex)


def test_hint_maps_paint_squares_golden():
    hints = [Hint(5, 4, (10.0, -20.0), 3), Hint(0, 0, (1.0, 2.0), 2), Hint(11, 9, (7.0, 7.0), 5)]
    ab, mask = hint_maps(hints, 10, 12)
    assert ab.shape == (2, 10, 12) and mask.shape == (1, 10, 12) and ab.dtype == mask.dtype == np.float32
    expected = np.zeros((10, 12))
    expected[3:6, 4:7] = 1   # size 3 centred on (x=5, y=4)
    expected[0:2, 0:2] = 1   # size 2: the extra row / column below / right
    expected[7:10, 9:12] = 1  # size 5 clipped at the corner
    np.testing.assert_array_equal(mask[0], expected)
    assert (ab[:, 3:6, 4:7] == np.array([10, -20])[:, None, None]).all()
    assert (ab[:, mask[0] == 0] == 0).all()
    later = hint_maps([Hint(1, 1, (5.0, 5.0), 3), Hint(1, 1, (-9.0, 3.0), 1)], 4, 4)[0]
    assert tuple(later[:, 1, 1]) == (-9.0, 3.0) and tuple(later[:, 0, 0]) == (5.0, 5.0)


def test_hint_maps_at_network_scale():
    ab, mask = hint_maps([Hint(100, 50, (30.0, 0.0), 9)], 64, 96, scale=0.25)
    assert mask.sum() == 4   # 9 * 0.25 rounds to 2
    np.testing.assert_array_equal(np.argwhere(mask[0]).min(0), (12, 25))
    tiny = hint_maps([Hint(639, 479, (1.0, 1.0), 1)], 48, 64, scale=(48 / 480, 64 / 640))[1]
    assert tiny.sum() == 1 and tiny[0, 47, 63] == 1   # at least one pixel, clipped into the grid
    with pytest.raises(ValueError, match="scale"):
        hint_maps([], 4, 4, scale=0)


def test_hint_planes_is_the_one_normalisation_for_numpy_and_torch():
    ab, mask = hint_maps([Hint(1, 2, (55.0, -110.0), 1)], 4, 5)
    planes = hint_planes(ab, mask)
    assert planes.shape == (3, 4, 5) and planes.dtype == np.float32
    np.testing.assert_allclose(planes[:, 2, 1], (0.5, -1.0, 1.0))
    assert planes[:, 0, 0].tolist() == [0, 0, 0]
    np.testing.assert_array_equal(hints_to_planes([Hint(1, 2, (55.0, -110.0), 1)], 4, 5), planes)
    batch = hint_planes(torch.from_numpy(ab)[None].double(), torch.from_numpy(mask)[None])
    assert batch.dtype == torch.float32 and batch.shape == (1, 3, 4, 5)
    np.testing.assert_allclose(batch[0].numpy(), planes)
    assert AB_SCALE == 110.0


def test_numpy_srgb_twin_agrees_with_colorclass_color():
    rng = np.random.default_rng(0)
    rgb = rng.random((2000, 3))
    np.testing.assert_allclose(srgb.rgb01_to_lab(rgb), rgb_to_lab(torch.from_numpy(rgb), dim=-1).numpy(), atol=1e-4)
    lab = np.stack([rng.uniform(0, 100, 2000), rng.uniform(-110, 110, 2000), rng.uniform(-110, 110, 2000)], 1)
    ours = srgb.lab_to_rgb01_unclipped(lab)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lab_to_rgb(torch.from_numpy(lab), dim=-1, clip=False).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert srgb.in_gamut([[0.0, 1.0, 1 + 0.5 / 255]])[0] and not srgb.in_gamut([[0.0, 1.0, 1.01]])[0]
    assert srgb.rgb_u8_to_hex((200, 60, 30)) == "#c83c1e" and srgb.hex_to_rgb_u8("#C83C1E") == (200, 60, 30)


TORCH_FREE = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, Block())
import numpy as np
import colorclass.hints
from colorclass.hints.points import parse_hints, hints_to_planes
from colorclass.hints.levin import levin_colorize_points
from colorclass.hints.suggest import suggest_colours, swatch_png
hints = parse_hints('[{"x": 3, "y": 3, "colour": "#c83c1e", "size": 3}]', width=8, height=8)
assert hints_to_planes(hints, 8, 8).shape == (3, 8, 8)
assert abs(levin_colorize_points(np.full((8, 8), 50.0), hints)[0].mean() - hints[0].ab[0]) < 1e-3
grid = np.array([(a, b) for a in range(-40, 50, 10) for b in range(-40, 50, 10)], float)
probs = np.exp(-((grid - [20, 20]) ** 2).sum(1) / 200)
found = suggest_colours(probs, grid, 60.0)
assert len(found) == 1, found
swatch_png(found, sys.argv[1])
assert "torch" not in sys.modules
print("ok")
"""


def test_points_levin_and_suggest_work_without_torch(tmp_path):
    out = subprocess.run([sys.executable, "-c", TORCH_FREE, str(tmp_path / "s.png")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok" and (tmp_path / "s.png").exists()
