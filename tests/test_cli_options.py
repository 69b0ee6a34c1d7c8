"""The restore commands' options come from the config fields: every field reachable from every task, its help
and the task's preset values shown, errors from the core named by their flag; docs/cli.md is their --help."""

import dataclasses
import pathlib

import pytest

from deepprior.cli.app import cli
from deepprior.cli.reference import render, render_presets
from deepprior.config import FitConfig, NetConfig
from deepprior.fields import meta
from deepprior.jobs import TASKS
from helpers import TINY, assert_user_error

FIELDS = [f for cls in (NetConfig, FitConfig) for f in dataclasses.fields(cls) if meta(f).flag is not None]


@pytest.mark.parametrize("task", list(TASKS))
def test_every_config_field_is_an_option_of_every_task(task):
    options = {p.name: p for p in cli.commands[task].params}
    assert {f.name for f in FIELDS} <= set(options)
    lr = options["lr"].help
    assert lr.startswith("Adam learning rate") and ("fast: " in lr or "preset: " in lr)


def test_the_help_shows_the_tasks_preset_values_and_names_flags_not_fields():
    params = {p.name: p for p in cli.commands["inpaint"].params}
    assert params["lr"].help.endswith("[fast: 0.02; paper: 0.01]")
    assert "--reg-noise" in params["reg_noise_start"].help and "reg_noise_std" not in params["reg_noise_start"].help


def test_values_are_parsed_and_checked_where_the_field_says(run, noisy_png):
    res = run("denoise", noisy_png, "-o", "a.png", *TINY, "--upsample", "nearest,cubic")
    assert res.code == 2 and "'cubic' is not one of bilinear, nearest" in res.err
    res = run("denoise", noisy_png, "-o", "a.png", *TINY, "--adam-betas", "0.9")
    assert res.code == 2 and "two numbers" in res.err and res.err.count("\n") == 1
    assert_user_error(run("denoise", noisy_png, "-o", "a.png", *TINY, "--lr", "-1"), "learning rate", "(--lr)")
    assert_user_error(run("denoise", noisy_png, "-o", "a.png", *TINY, "--device", "tpu"), "tpu", "(--device)")
    assert_user_error(run("denoise", noisy_png, "-o", "a.png", *TINY, "--holdout", "0.5"), "holdout", "--holdout")


def test_options_without_a_flag_before_reach_the_config(run, tmp_path, noisy_png):
    import json

    res = run("denoise", noisy_png, "-o", "a.png", "--report", "rep", *TINY, "--stop-patience", "50",
              "--backtrack-window", "7", "--no-batch-norm", "--upsample", "nearest,bilinear", "--act-slope", "0.1",
              "--no-channels-last", "--noise-sigma", "20")
    assert res.code == 0, res.err
    cfg = json.loads((tmp_path / "rep" / "config.json").read_text())
    assert (cfg["fit"]["stop_patience"], cfg["fit"]["backtrack_window"], cfg["fit"]["channels_last"]) == (50, 7, False)
    assert cfg["net"]["batch_norm"] is False and cfg["net"]["upsample"] == ["nearest", "bilinear"]
    assert cfg["net"]["act_slope"] == 0.1 and cfg["fit"]["noise_sigma"] == pytest.approx(20 / 255)
    assert cfg["tiling"]["tiles"][0]["noise_sigma"] == pytest.approx(20 / 255)


@pytest.mark.parametrize("name,make", [("cli.md", render), ("presets.md", render_presets)])
def test_the_generated_docs_are_current(name, make):
    path = pathlib.Path(__file__).resolve().parents[1] / "docs" / name
    assert path.read_text() == make(), f"docs/{name} is stale: run `make docs`"
