"""evaluate: methods in one call, identical rows for a run compared with itself, baselines, paths."""
import json
import shutil

import pytest
from evalrun import train_tiny_run

from colorclass.cli import main
from colorclass.evaluation.evaluate import evaluate_run, markdown_table

METRIC_KEYS = ("auc_ab", "auc_ab_rebalanced", "ab_rmse", "psnr", "ssim", "mean_iou", "per_class_accuracy",
               "colorfulness_pred", "colorfulness_true", "colorfulness_gap", "clipped_fraction")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("evaluate"))


def test_compare_with_itself_gives_identical_rows_and_baselines(tiny, tmp_path, capsys):
    data, held_out, run = tiny
    assert (run / "data_stats.json").is_file()
    out, md = tmp_path / "m.json", tmp_path / "t.md"
    assert main(["evaluate", "--run", str(run), str(held_out), "-o", str(out), "--compare", str(run),
                 "--baselines", "gray,mean", "--markdown", str(md)]) == 0
    m = json.loads(out.read_text())
    for key in ("n_images", "n_skipped", "skipped", "decode", "temperature", "pixel_acc", "run", "data") + METRIC_KEYS:
        assert key in m, key
    names = [row["name"] for row in m["methods"]]
    assert [row["kind"] for row in m["methods"]] == ["run", "compare", "baseline", "baseline"]
    assert names[2:] == ["gray", "mean"]
    first, second = ({k: v for k, v in r.items() if k not in ("kind",)} for r in m["methods"][:2])
    assert first == second
    assert all(m[k] == m["methods"][0][k] for k in METRIC_KEYS)
    assert 0 <= m["auc_ab_rebalanced"] <= 1 and 0 <= m["auc_ab"] <= 1
    stats = json.loads((run / "data_stats.json").read_text())
    assert m["methods"][3]["ab"] == pytest.approx(stats["mean_ab"], abs=1e-3)
    assert m["methods"][2]["ab"] == [0.0, 0.0]
    table = md.read_text()
    assert table == markdown_table(m["methods"]) and table.count("\n") == 2 + 4
    assert "rebal. AuC %" in capsys.readouterr().out


def test_mean_baseline_falls_back_to_training_folder_or_is_skipped(tiny, tmp_path, capsys):
    data, held_out, run = tiny
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "data_stats.json").unlink()
    m = evaluate_run(copy, held_out, out=tmp_path / "a.json", baselines=["mean"], device="cpu")
    assert [r["name"] for r in m["methods"]][1:] == ["mean"] and "computed now" in m["methods"][1]["ab_source"]
    cfg = (copy / "config.toml").read_text().replace(str(data), str(tmp_path / "gone"))
    (copy / "config.toml").write_text(cfg)
    m = evaluate_run(copy, held_out, out=tmp_path / "b.json", baselines=["gray", "mean"], device="cpu")
    assert [r["name"] for r in m["methods"]][1:] == ["gray"]
    assert "skipping baseline 'mean'" in capsys.readouterr().out


def test_bad_output_paths_are_refused_before_work(tiny, tmp_path, capsys):
    data, held_out, run = tiny
    assert main(["evaluate", "--run", str(run), str(held_out), "-o", str(tmp_path)]) == 2
    assert main(["evaluate", "--run", str(run), str(held_out), "--markdown", str(tmp_path / "no" / "t.md")]) == 2
    assert main(["evaluate", "--run", str(run), str(held_out), "--baselines", "grey"]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "does not exist" in err and "unknown baseline 'grey'" in err


def test_grid_draws_gray_every_method_and_truth(tiny, tmp_path, monkeypatch):
    import colorclass.evaluation.grids as grids

    data, held_out, run = tiny
    drawn = {}
    real = grids.save_columns_grid
    monkeypatch.setattr(grids, "save_columns_grid",
                        lambda rows, labels, path, **kw: drawn.update(rows=list(rows), labels=labels) or real(rows, labels, path, **kw))
    png = tmp_path / "grid.png"
    assert main(["evaluate", "--run", str(run), str(held_out), "-o", str(tmp_path / "m.json"),
                 "--baselines", "gray", "--grid", str(png)]) == 0
    assert png.stat().st_size > 1000
    assert drawn["labels"][0] == "gray input" and drawn["labels"][-1] == "truth" and drawn["labels"][2] == "gray"
    name, pictures = drawn["rows"][0]
    gray_input, predicted, gray_baseline, truth = pictures
    assert predicted.shape == truth.shape and predicted.dtype == truth.dtype
    assert (gray_input.max(axis=2) - gray_input.min(axis=2)).max() <= 1   # no colour in the input
    assert 1 <= len(drawn["rows"]) <= 8
