"""The configs and their field metadata: every field documented, choices checked, parsers, errors that name the
setting, JSON round trips."""

import dataclasses

import pytest

from deepprior import fields
from deepprior.config import FitConfig, NetConfig, from_dict, replace, to_dict
from deepprior.errors import InputError

ALL = [(cls, f) for cls in (NetConfig, FitConfig) for f in dataclasses.fields(cls)]


@pytest.mark.parametrize("cls,f", ALL, ids=[f.name for _, f in ALL])
def test_every_field_has_help_and_its_default_passes_its_own_checks(cls, f):
    m = fields.meta(f)
    assert len(m.help) > 20 and m.help.endswith((".", ")")), m.help
    assert f.name in cls.__doc__  # the generated Attributes section
    if m.choices:
        values = f.default if isinstance(f.default, tuple) else (f.default,)
        assert all(v in m.choices for v in values)


def test_flags_are_unique_and_only_the_cli_adapters_have_none():
    flags = [fields.meta(f).flag for _, f in ALL]
    named = [x for x in flags if x is not None]
    assert len(named) == len(set(named))
    assert {f.name for _, f in ALL if fields.meta(f).flag is None} == {"iterations", "stop"}
    offs = [fields.meta(f).off for _, f in ALL if fields.meta(f).parse is None]
    assert None not in offs and "--train-convs" in offs and "--no-backtrack" in offs


def test_parsers_read_what_the_help_says():
    assert fields.ints("128x3") == (128, 128, 128) and fields.ints("16,32,64") == (16, 32, 64)
    assert fields.two_floats("0.85,0.9") == (0.85, 0.9)
    assert fields.modes("nearest") == "nearest" and fields.modes("nearest,bilinear") == ("nearest", "bilinear")
    assert fields.over_255("25") == pytest.approx(25 / 255)
    for parse, bad in ((fields.ints, "8x2x3"), (fields.two_floats, "0.9"), (fields.INT, "3.5"),
                       (fields.FLOAT, "fast")):
        with pytest.raises(ValueError, match="expected"):
            parse(bad)


@pytest.mark.parametrize("cls,change,setting,words", [
    (FitConfig, {"lr": -1.0}, "lr", "learning rate must be positive"),
    (FitConfig, {"adam_betas": (0.9, 1.0)}, "adam_betas", "Adam betas"),
    (FitConfig, {"iterations": 0}, "iterations", "at least 1"),
    (FitConfig, {"holdout": 0.5}, "holdout", "holdout"),
    (FitConfig, {"loss": "l1"}, "loss", "loss must be one of mse, rmse"),
    (FitConfig, {"reg_noise_ramp": -1}, "reg_noise_ramp", "ramp"),
    (FitConfig, {"noise_sigma": 0.0}, "noise_sigma", "positive"),
    (FitConfig, {"backtrack_lr_decay": 0.0}, "backtrack_lr_decay", "(0, 1]"),
    (NetConfig, {"channels_up": (8,)}, "channels_up", "same number of scales"),
    (NetConfig, {"upsample": ("nearest", "cubic", "nearest", "nearest", "nearest")}, "upsample", "cubic"),
    (NetConfig, {"kernel_down": 4}, "kernel_down", "odd"),
    (NetConfig, {"input": "video"}, "input", "input must be one of"),
])
def test_a_bad_value_is_refused_with_the_setting_named(cls, change, setting, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace("[", r"\[")) as e:
        cls(**change)
    assert e.value.setting == setting


def test_configs_survive_json_and_replace_ignores_unset_values():
    net, fit = NetConfig(upsample=("nearest", "bilinear", "bilinear", "bilinear", "bilinear")), FitConfig(lr=0.02)
    assert from_dict(NetConfig, to_dict(net)) == net and from_dict(FitConfig, to_dict(fit)) == fit
    assert replace(fit, lr=None, iterations=5) == dataclasses.replace(fit, iterations=5)
    with pytest.raises(InputError, match="unknown FitConfig settings: speed"):
        from_dict(FitConfig, {"speed": 1})
