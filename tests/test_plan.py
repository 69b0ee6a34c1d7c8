"""deepprior.plan: everything resolved once into a Job, every bad input refused before anything runs, the tile
geometry, and the Job's round trip through config.json."""

import json

import numpy as np
import pytest
import torch

import deepprior
from deepprior.config import NetConfig
from deepprior.errors import InputError
from deepprior.jobs import planning as plan_module
from deepprior.jobs import tiles
from deepprior.jobs.costs import estimate_memory
from helpers import SMALL, holed, noisy, smooth_image


def test_a_job_holds_every_setting_resolved():
    job = deepprior.plan(noisy(smooth_image(64, 64)), "denoise", workers=1, **SMALL)
    assert job.device == torch.device("cpu") and job.fit.precision in ("bf16", "fp32")
    assert job.fit.channels_last is True and job.fit.cuda_graph is False  # decided for the CPU
    assert job.net.channels_down == (16, 16) and job.fit.loss == "rmse"  # the setting over the fast preset
    assert len(job.tiling.tiles) == 1 and job.tiling.tile is None and job.memory > 0
    (t,) = job.tiling.tiles
    assert 20 / 255 < t.noise_sigma < 30 / 255  # estimated once, by the plan
    given = deepprior.plan(noisy(smooth_image(64, 64)), "denoise", noise_sigma=0.1, **SMALL)
    assert all(t.noise_sigma == 0.1 for t in given.tiling.tiles)
    masked = deepprior.plan(smooth_image(64, 64), "inpaint", mask=holed(64, 64), **SMALL)
    assert masked.tiling.tiles[0].noise_sigma is None and masked.keeps_measured


def test_tiles_follow_the_preset_the_workers_and_the_caller():
    img = noisy(smooth_image(128, 128))
    two = deepprior.plan(img, "denoise", workers=2)
    assert two.tiling.tile == (72, 128) and len(two.tiling.tiles) == 2 and two.tiling.overlap == 16
    assert len({t.noise_sigma for t in two.tiling.tiles}) == 2  # each tile stops at its own noise level
    assert deepprior.plan(img, "denoise", workers=1).tiling.tile is None
    assert deepprior.plan(img, "denoise", workers=2, preset="paper").tiling.tile is None
    assert deepprior.plan(img, "inpaint", mask=holed(128, 128), workers=2).tiling.tile is None
    assert deepprior.plan(img, "denoise", tile=None, workers=2).tiling.tile is None
    explicit = deepprior.plan(img[:100, :100], "inpaint", mask=holed(100, 100), tile=32, **SMALL)
    assert explicit.tiling.tile == (32, 32) and explicit.tiling.overlap == 4 and len(explicit.tiling.tiles) == 16
    sr = deepprior.plan(img[:25, :25], "superres", scale=4, tile=(64, 48), overlap=8, **SMALL)
    assert sr.tiling.tile == (64, 48) and sr.out_shape == (100, 100, 3)
    boxes = [(t.top, t.left, t.height, t.width) for t in sr.tiling.tiles]  # observation pixels
    assert boxes[0] == (0, 0, 16, 12) and max(t + h for t, _, h, _ in boxes) == 25


def test_the_tile_geometry():
    assert tiles.tile_starts(100, 48, 16) == [0, 26, 52] and tiles.tile_starts(40, 48, 16) == [0]
    assert (tiles.default_overlap(512), tiles.default_overlap(100, 4), tiles.default_overlap(16, 4)) == (64, 12, 4)
    # At most 144 px a side, as even as the image allows: 256 px -> 2 x 2 tiles of 136 with 16 px overlap.
    assert tiles.plan_tiles(256, 256, 144, 16) == (136, 136) and tiles.plan_tiles(300, 100, 144, 16) == (111, 100)
    # Two workers split a 128 px image across its longer side (72 + 72 - 16 = 128); one keeps it whole.
    assert tiles.plan_tiles(128, 128, 144, 16, min_tiles=2) == (72, 128)
    assert tiles.plan_tiles(128, 128, 144, 16, min_tiles=1) == (128, 128)
    assert tiles.plan_tiles(96, 140, 144, 16, min_tiles=2) == (96, 78)
    assert tiles.plan_tiles(100, 100, 144, 16, min_tiles=8) == (100, 100)  # never below 64 px
    th, tw = tiles.plan_tiles(256, 512, 144, 16, scale=4)
    assert th % 4 == 0 and tw % 4 == 0


def test_auto_tiles_by_memory_and_whole_images_on_a_gpu():
    net = deepprior.get_preset("inpaint", variant="paper").net
    free = estimate_memory(net, 1000, 1000, "bf16") * 2  # room for a 1000 px fit, not for a 4000 x 3000 one
    cpu = torch.device("cpu")

    def auto(h, w, workers, device=cpu, room=free):
        return tiles.choose_tiles(h, w, scale=1, tile="auto", overlap=None, workers=workers, device=device,
                                  max_side=None, net=net, precision="bf16", free=room)

    assert auto(800, 800, 1) == (None, 0)
    (th, tw), overlap = auto(3000, 4000, 1)
    assert 900 <= min(th, tw) and max(th, tw) <= 1500 and overlap == 16
    assert estimate_memory(net, th, tw, "bf16") <= tiles.MEMORY_SHARE * free
    assert auto(3000, 4000, 2)[0][0] < th  # two fits side by side share the memory
    assert auto(1000, 1000, 2) == (None, 0)  # one fit of the whole image still gets it all
    assert auto(3000, 4000, 1, room=1) == (None, 0)  # not even 64 px fits: the memory check will refuse
    # On a GPU the fast denoising preset fits the whole image when it fits (launch-bound steps).
    fast = deepprior.get_preset("denoise").net
    assert tiles.choose_tiles(512, 512, scale=1, tile="auto", overlap=None, workers=None,
                              device=torch.device("cuda"), max_side=144, net=fast, precision="bf16",
                              free=80 * 2**30) == (None, 0)


@pytest.mark.parametrize("call,setting,words", [
    (dict(task="inpaint"), "mask", "needs a mask"),
    (dict(task="inpaint", mask=holed(48, 40)), "mask", "mask is 40x48 but the image is 48x48"),
    (dict(task="inpaint", mask=np.zeros((48, 48), bool)), "mask", "every pixel as missing"),
    (dict(task="denoise", mask=np.ones((48, 48), bool)), "mask", "takes no mask"),
    (dict(task="denoise", iters=3), "iters", "unknown settings: iters"),
    (dict(task="dehaze"), "task", "unknown task"),
    (dict(task="denoise", preset="turbo"), "preset", "unknown preset"),
    (dict(task="denoise", lr=0.0), "lr", "learning rate"),
    (dict(task="denoise", device="tpu"), "device", "tpu"),
    (dict(task="denoise", device="cuda:abc"), "device", "unknown device"),
    (dict(task="denoise", seed=2**64), "seed", "seed"),
    (dict(task="denoise", tile="big"), "tile", "tile must be"),
    (dict(task="denoise", input="image"), "input", "guide image"),
    (dict(task="superres", scale=3, tile=32), "tile", "multiples of the scale 3"),
    (dict(task="superres", scale=5), "scale", "factor"),
    (dict(task="superres", scale=2, ground_truth=np.zeros((90, 90, 3), np.float32)), "ground_truth",
     "ground truth is 90x90x3 but the result will be 96x96x3"),
    (dict(task="denoise", ground_truth=np.zeros((48, 48), np.float32)), "ground_truth", "1 channel"),
    (dict(task="flash", guide=np.zeros((20, 20, 3), np.float32), upsample="nearest"), "guide",
     "guide image is 20x20"),
    (dict(task="denoise", channels_down=(8,) * 6, channels_up=(8,) * 6, channels_skip=(2,) * 6), None,
     "too small for a 6-scale network"),
])
def test_every_bad_input_is_refused_before_anything_runs(call, setting, words):
    img = smooth_image(48, 48)
    call = {**SMALL, **call} if "channels_down" not in call else call
    task = call.pop("task")
    with pytest.raises(InputError, match=words.replace("(", r"\(")) as e:
        deepprior.plan(img, task, **call)
    assert e.value.setting == setting
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        deepprior.plan(img * 3, "denoise", **SMALL)


def test_an_image_too_large_for_free_memory_is_refused_or_tiled(monkeypatch):
    monkeypatch.setattr(plan_module, "available_memory", lambda device: 1)
    with pytest.raises(InputError, match="not enough memory: a 48x48 fit") as e:
        deepprior.plan(smooth_image(48, 48), "denoise", tile=None, **SMALL)
    assert e.value.setting == "tile"
    small = NetConfig(**SMALL)
    monkeypatch.setattr(plan_module, "available_memory",  # a 64 px tile fits, 96 px does not
                        lambda device: estimate_memory(small, 64, 64, "fp32") / tiles.MEMORY_SHARE * 1.01)
    mask = holed(96, 96)
    job = deepprior.plan(smooth_image(96, 96), "inpaint", mask=mask, precision="fp32", workers=1, **SMALL)
    assert max(job.tiling.tile) <= 64 and len(job.tiling.tiles) == 4
    unchecked = deepprior.plan(smooth_image(96, 96), "inpaint", mask=mask, check_memory=False, **SMALL)
    assert unchecked.tiling.tile is None  # the caller takes the risk: nothing is planned


def test_a_job_round_trips_through_its_config_and_reruns_exactly():
    img = noisy(smooth_image(64, 64))
    job = deepprior.plan(img, "denoise", tile=40, workers=2, iterations=12, log_every=4, seed=5, **SMALL)
    config = json.loads(json.dumps(job.to_config()))  # as a report writes and reads it
    again = deepprior.plan_from_config(config, img)
    assert (again.net, again.fit, again.tiling, again.seed) == (job.net, job.fit, job.tiling, job.seed)
    assert config["preset_values"][0]["why"] and config["tiling"]["tiles"][1]["noise_sigma"] > 0
    a, b = deepprior.run(job), deepprior.run(again)
    assert np.array_equal(a.image, b.image)
    gap = dict(config, tiling={**config["tiling"], "tiles": config["tiling"]["tiles"][:1]})
    with pytest.raises(InputError, match="do not cover the 64x64 image"):
        deepprior.plan_from_config(gap, img)
    with pytest.raises(InputError, match="configuration is of a 64x64 image"):
        deepprior.plan_from_config(config, img[:40])
    with pytest.raises(InputError, match="not a deepprior configuration"):
        deepprior.plan_from_config({"task": "denoise"}, img)
