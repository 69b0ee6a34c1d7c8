"""Presets as data: every value names its part, changes something, and says why; variants and scales apply in
order; the measured behaviour the fast presets rely on is in them."""

import dataclasses

import pytest

from deepprior.config import FitConfig, NetConfig
from deepprior.errors import InputError
from deepprior.jobs.presets import PRESETS, Tiling, describe, get_preset
from deepprior.jobs.tasks import TASKS

DEFAULTS = {"net": NetConfig(), "fit": FitConfig(), "tiling": Tiling()}


@pytest.mark.parametrize("task", list(PRESETS))
def test_every_value_has_a_part_a_field_a_reason_and_changes_something(task):
    entry = PRESETS[task]
    assert task in TASKS and entry.source and entry.measured
    paper = get_preset(task, variant="paper")
    for v in entry.paper + entry.fast + sum(entry.scales.values(), ()):
        assert v.part in DEFAULTS and hasattr(DEFAULTS[v.part], v.name), v
        assert 10 < len(v.why) <= 110 and "\n" not in v.why, v  # one line; the measurements live in docs/
    for v in entry.paper:  # a paper value that equals the default would be noise
        assert getattr(DEFAULTS[v.part], v.name) != v.value, v
    for v in entry.fast:  # a fast value that equals the paper's would change nothing
        assert getattr(getattr(paper, v.part), v.name) != v.value, v


def test_fast_applies_on_top_of_paper_and_scale_values_on_top_of_the_task():
    x4, x8 = get_preset("superres", 4, "paper"), get_preset("superres", 8, "paper")
    assert x8.fit.iterations == 4000 != x4.fit.iterations and x8.fit.reg_noise_std == 0.05
    fast8 = get_preset("superres", 8)
    assert fast8.fit.iterations == 4000 and fast8.net.channels_down != x8.net.channels_down
    assert get_preset("superres", 2, "paper") == x4
    assert [r["setting"] for r in describe(fast8)][:2] == ["fit.iterations", "fit.reg_noise_std"]
    flash = get_preset("flash")  # nothing measured to change
    assert dataclasses.replace(flash, variant="paper") == get_preset("flash", variant="paper")


def test_what_the_fast_presets_rely_on():
    """The measured behaviour (docs/benchmarks.md): only fast denoising tiles by itself; the noise-free mask
    tasks hand back their known pixels in the fast preset only; noise-free tasks leave out the peak stop."""
    tiling = {(t, v) for t in TASKS for v in ("fast", "paper") if get_preset(t, variant=v).tiling.max_side}
    assert tiling == {("denoise", "fast")}
    for t in ("inpaint", "fill", "reconstruct"):
        assert get_preset(t).fit.keep_measured and not get_preset(t, variant="paper").fit.keep_measured
    for t in ("inpaint", "fill", "reconstruct", "superres"):
        assert not get_preset(t, variant="paper").fit.stop_peak
    assert get_preset("denoise").fit.stop_peak and get_preset("denoise").source.startswith("fast (docs/")


def test_unknown_task_and_variant():
    with pytest.raises(InputError, match="unknown task 'dehaze'") as e:
        get_preset("dehaze")
    assert e.value.setting == "task"
    with pytest.raises(InputError, match="unknown preset 'turbo'"):
        get_preset("denoise", variant="turbo")
