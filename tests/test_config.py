"""Config loading: TOML, dotted overrides, errors that name the key, round trip."""
from pathlib import Path

import pytest

from colorclass.runs.experiment import ConfigError, config_to_toml, load_config, replace_config


def test_overrides_apply_in_order_and_coerce_types():
    cfg = load_config(None, ["optim.lr=3e-4", "train.epochs=7", "data.flip=false", "name=x"])
    assert cfg.optim.lr == 3e-4 and cfg.train.epochs == 7 and cfg.data.flip is False
    assert cfg.out == "runs/x"
    assert replace_config(cfg, **{"train.epochs": 2}).train.epochs == 2


@pytest.mark.parametrize("override, fragment", [
    ("optim.nope=1", "optim.nope"), ("nosection.x=1", "nosection"), ("train.epochs=abc", "train.epochs"),
    ("train.epochs=-1", "train.epochs"), ("loss.name=hinge", "loss.name"), ("model.name=resnet", "resnet"),
    ("data.val_fraction=1.5", "data.val_fraction"), ("data.flip=maybe", "data.flip"), ("lr", "section.key=value"),
])
def test_bad_overrides_name_the_key(override, fragment):
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        load_config(None, [override])


def test_toml_type_errors_and_unknown_keys(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[train]\nepochs = "ten"\n')
    with pytest.raises(ConfigError, match="train.epochs: expected int"):
        load_config(bad)
    bad.write_text('[train]\nepoch = 3\n')
    with pytest.raises(ConfigError, match="unknown config key 'train.epoch'"):
        load_config(bad)


EXPERIMENTS = sorted((Path(__file__).parents[1] / "experiments").glob("*.toml"))


def test_all_shipped_experiments_are_found():
    assert len(EXPERIMENTS) == 18


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_shipped_experiments_load_and_round_trip(path, tmp_path):
    cfg = load_config(path)
    out = tmp_path / "c.toml"
    out.write_text(config_to_toml(cfg))
    assert load_config(out) == cfg


def test_bool_override_spellings_and_unknown_key_lists_valid_keys():
    assert load_config(None, ["data.flip=0"]).data.flip is False
    assert load_config(None, ["data.cache=1"]).data.cache is True
    with pytest.raises(ConfigError, match=r"'optim\.lrate'.*valid keys:.*optim\.lr\b"):
        load_config(None, ["optim.lrate=0.1"])
    with pytest.raises(ConfigError, match=r"optim\.lr.*'fast'"):
        load_config(None, ["optim.lr=fast"])


def test_toml_round_trip_of_awkward_values(tmp_path):
    odd = 'C:\\photos "new"\nline\ttab é'
    cfg = replace_config(load_config(None), **{"data.train": odd, "name": "a'b", "optim.lr": 1e-12,
                                               "train.deterministic": True})
    path = tmp_path / "c.toml"
    path.write_text(config_to_toml(cfg), encoding="utf-8")
    back = load_config(path)
    assert back == cfg and back.data.train == odd and back.optim.lr == 1e-12


def test_replace_config_parses_strings_and_validates():
    cfg = load_config(None)
    assert replace_config(cfg, **{"train.epochs": "3"}).train.epochs == 3
    with pytest.raises(ConfigError, match="train.batch_size"):
        replace_config(cfg, **{"train.batch_size": 0})
    with pytest.raises(ConfigError, match="train.nope"):
        replace_config(cfg, **{"train.nope": 1})


def test_model_names_match_the_registry():
    from colorclass.runs.experiment import MODEL_NAMES
    from colorclass.models import MODELS

    assert tuple(MODELS) == MODEL_NAMES
