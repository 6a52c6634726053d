"""report: every section is present and every image it embeds is a valid PNG."""
import base64
import io
import re

from evalrun import train_tiny_run
from PIL import Image

from colorclass.cli import main
from colorclass.reports.page import SECTION_TITLES


def _embedded_pngs(page: str) -> list[bytes]:
    return [base64.b64decode(s) for s in re.findall(r"src='data:image/png;base64,([^']+)'", page)]


def test_report_with_data_fills_every_section(tmp_path):
    data, held_out, run = train_tiny_run(tmp_path)
    assert (run / "report.html").is_file()          # written at the end of training, without data
    assert main(["calibrate", "--run", str(run), str(held_out), "--temperatures", "0.3"]) == 0
    assert main(["report", str(run), "--data", str(held_out)]) == 0
    page = (run / "report.html").read_text()
    positions = [page.find(f">{title}</h2>") for title in SECTION_TITLES]
    assert all(p > 0 for p in positions) and positions == sorted(positions)
    assert "not available" not in page and "class='missing'" not in page
    pngs = _embedded_pngs(page)
    assert len(pngs) == 8   # grid, entropy, confusions, regions, palette, curves, calibration, activations
    for data_png in pngs:
        assert data_png[:8] == b"\x89PNG\r\n\x1a\n"
        Image.open(io.BytesIO(data_png)).verify()
    for name in ("grid", "entropy", "confusions", "regions", "palette"):
        Image.open(run / "report" / f"{name}.png").verify()
    Image.open(run / "activations.png").verify()
    assert "gray" in page and "mean" in page      # the evaluation table has the baselines


def test_report_refuses_missing_data_folder(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--data", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_report_refuses_a_folder_without_a_run(tmp_path, capsys):
    from colorclass.cli import main

    assert main(["report", str(tmp_path)]) == 2
    assert "holds no run" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()
