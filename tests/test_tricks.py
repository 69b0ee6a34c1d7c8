import math

import torch

from deepprior.fitting.stopping import AutoStop
from deepprior.fitting.tricks import Backtracker, BestSnapshot, OutputEMA


def test_ema_matches_the_recurrence():
    ema = OutputEMA(0.9)
    seq = [torch.full((1, 1, 2, 2), float(v)) for v in (1.0, 2.0, 4.0)]
    for x in seq:
        ema.update(x)
    expected = 0.9 * (0.9 * 1 + 0.1 * 2) + 0.1 * 4
    assert torch.allclose(ema.value, torch.full((1, 1, 2, 2), expected))
    assert seq[0][0, 0, 0, 0] == 1.0  # the first update copies rather than aliasing


def test_ema_warmup_forgets_the_first_outputs_then_keeps_the_weight():
    ema = OutputEMA(0.99, warmup=True)
    ema.update(torch.zeros(1, 1, 2, 2))
    ema.update(torch.ones(1, 1, 2, 2))  # weight (1 + 1) / (10 + 1) on the average so far
    assert torch.allclose(ema.value, torch.full((1, 1, 2, 2), 1 - 2 / 11))
    for _ in range(2000):  # past n = 890 the ramp exceeds 0.99, so the weight is 0.99 again
        ema.update(torch.ones(1, 1, 2, 2))
    before = ema.value.clone()
    ema.update(torch.zeros(1, 1, 2, 2))
    assert torch.allclose(ema.value, 0.99 * before)


def test_best_snapshot_keeps_the_minimum_and_ignores_nan():
    best = BestSnapshot()
    for it, score in enumerate([3.0, 1.0, 2.0, float("nan"), 1.5], start=1):
        best.update(score, torch.full((1,), float(it)), it)
    assert best.score == 1.0 and best.iteration == 2 and best.image.item() == 2.0


def _setup():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        net(torch.randn(4, 3)).square().mean().backward()
        opt.step()
    return net, opt


def test_backtracking_restores_weights_moments_buffers_and_ema():
    net, opt = _setup()
    bt, ema = Backtracker(factor=3.0, lr_decay=0.5, window=100), OutputEMA(0.5)
    ema.update(torch.ones(2))
    assert not bt.is_blowup(1e9)  # nothing saved yet: nothing to go back to
    bt.save(1.0, 10, net, opt, ema.value)
    good = {k: v.clone() for k, v in net.state_dict().items()}
    good_moment = opt.state[next(net.parameters())]["exp_avg"].clone()
    # a wild update changes weights, moments, BN buffers and the EMA
    for _ in range(3):
        opt.zero_grad()
        (1e4 * net(torch.randn(4, 3)).square().mean()).backward()
        opt.step()
    ema.update(torch.full((2,), 100.0))
    assert bt.is_blowup(5.0) and bt.is_blowup(float("nan")) and not bt.is_blowup(2.9)
    ev = bt.restore(5.0, 20, net, opt, ema)
    for k, v in net.state_dict().items():
        assert torch.equal(v, good[k]), k
    assert torch.equal(opt.state[next(net.parameters())]["exp_avg"], good_moment)
    assert torch.equal(ema.value, torch.ones(2))
    assert ev.restored_iteration == 10 and ev.lr == 0.1  # first event: lr unchanged
    # the snapshot survives the restore: Adam steps after it must not mutate it
    opt.zero_grad()
    net(torch.randn(4, 3)).square().mean().backward()
    opt.step()
    ev2 = bt.restore(5.0, 50, net, opt, ema)
    assert torch.equal(opt.state[next(net.parameters())]["exp_avg"], good_moment)
    assert math.isclose(ev2.lr, 0.05) and opt.param_groups[0]["lr"] == 0.05  # repeated within window: halved
    ev3 = bt.restore(5.0, 500, net, opt, ema)
    assert math.isclose(ev3.lr, 0.05)  # outside the window: kept
    assert len(bt.events) == 3


def test_backtracking_to_a_state_saved_before_the_first_update_drops_adams_state():
    """The loop saves at step 1, before Adam has made its moments: going back there means no moments."""
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    bt, ema = Backtracker(factor=3.0, lr_decay=0.5, window=100), OutputEMA(0.5)
    bt.save(1.0, 1, net, opt, None)
    first = {k: v.clone() for k, v in net.state_dict().items()}
    for _ in range(2):
        opt.zero_grad()
        net(torch.randn(4, 3)).square().mean().backward()
        opt.step()
    bt.restore(5.0, 10, net, opt, ema)
    assert not opt.state and all(torch.equal(v, first[k]) for k, v in net.state_dict().items())
    # later saves hold Adam's moments, copied into the same buffers save after save
    net(torch.randn(4, 3)).square().mean().backward()
    opt.step()
    bt.save(1.0, 20, net, opt, None)
    buffers = [t.data_ptr() for t in bt._saved]
    opt.step()
    bt.save(1.0, 30, net, opt, None)
    assert [t.data_ptr() for t in bt._saved] == buffers and len(buffers) > len(first)


def _feed(stop, variances, fits=None, every=25):
    """Feed a synthetic run; each EMA image holds its iteration so the pick can be read back."""
    for i, v in enumerate(variances):
        it = (i + 1) * every
        fit = fits[i] if fits is not None else 10.0 + 0.01 * it  # steadily improving fit
        if stop.decide(it, v, fit, torch.full((1,), float(it))):
            return it
    return None


def test_autostop_fires_after_a_real_rise_and_picks_the_ema_lag_steps_after_the_minimum():

    # variance falls to a minimum at step 700, then climbs (the net starts fitting the noise)
    var = [10 - 0.01 * it if it <= 700 else 3 + 0.01 * (it - 700) for it in range(25, 3001, 25)]
    stop = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=200)
    fired = _feed(stop, var)
    assert stop.fired == "peak" and fired == 1000  # 300 steps after the minimum, with 3.0 -> 6.0 >= 1.25x
    assert stop.min_iteration == 700 and stop.iteration == 800 and stop.image.item() == 800.0


def test_autostop_ignores_small_bumps_and_never_fires_before_min_iterations():

    # an early minimum at 175, a 15 % bump for 300 steps, then a steady decline (a run still improving)
    var = [2.64 if it == 175 else 3.0 if it < 500 else 3.0 - 0.001 * (it - 500) for it in range(25, 2501, 25)]
    stop = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=200)
    assert _feed(stop, var) is None and stop.fired == ""
    assert stop.iteration == 2500  # the pick follows the latest minimum
    early = AutoStop(patience=10, rise=1.0, lag=0, min_gain_db=0.05, min_iterations=1000)
    assert _feed(early, [1.0] + [5.0] * 50) == 1000


def test_autostop_converged_and_frozen_after_firing():

    var = [1.0 / it for it in range(25, 5001, 25)]  # still falling: no peak
    fits = [min(30.0, 0.05 * it) for it in range(25, 5001, 25)]  # stops improving at step 600
    stop = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=200)
    fired = _feed(stop, var, fits)
    assert stop.fired == "converged" and fired == 900 and stop.iteration == 900
    assert stop.decide(925, 1e-9, 99.0, torch.zeros(1)) == "" and stop.iteration == 900  # frozen


def test_autostop_discrepancy_first_then_peak_picks_the_current_ema():

    var = [10 - 0.01 * it if it <= 700 else 3 + 0.01 * (it - 700) for it in range(25, 3001, 25)]
    # the loss reaches the noise level (1.0) at step 800, before the (doubled) variance patience runs out
    stop = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=200, noise_var=1.0)
    for i, v in enumerate(var):
        it = (i + 1) * 25
        if stop.decide(it, v, 10.0 + 0.01 * it, torch.full((1,), float(it)), loss=2.0 - it / 800):
            break
    assert stop.fired == "discrepancy" and stop.fired_at == 825 and stop.image.item() == 825.0
    # the loss never reaches it: the variance rule fires after 2 x patience and takes the EMA of that step
    stop = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=200, noise_var=1.0)
    for i, v in enumerate(var):
        it = (i + 1) * 25
        if stop.decide(it, v, 10.0 + 0.01 * it, torch.full((1,), float(it)), loss=5.0):
            break
    assert stop.fired == "peak" and stop.fired_at == 1300 and stop.image.item() == 1300.0


def test_autostop_without_the_peak_rule_waits_for_convergence():
    from deepprior.jobs.presets import get_preset

    # the variance rises 300 steps after a minimum (as on a pixel-drop run) while the fit keeps improving
    var = [10 - 0.01 * it if it <= 700 else 3 + 0.01 * (it - 700) for it in range(25, 3001, 25)]
    fits = [min(30.0, 0.02 * it) for it in range(25, 3001, 25)]  # improves until step 1500
    stop = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=200, peak=False)
    assert _feed(stop, var, fits) == 1800 and stop.fired == "converged"
    with_peak = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=200)
    assert _feed(with_peak, var, fits) == 1000 and with_peak.fired == "peak"
    noisy = {t for t in ("denoise", "dejpeg", "flash") if get_preset(t).fit.stop_peak}
    clean = {t for t in ("inpaint", "fill", "reconstruct") if not get_preset(t).fit.stop_peak}
    assert noisy == {"denoise", "dejpeg", "flash"} and clean == {"inpaint", "fill", "reconstruct"}
    assert not get_preset("superres", 4).fit.stop_peak and not get_preset("superres", 8).fit.stop_peak
