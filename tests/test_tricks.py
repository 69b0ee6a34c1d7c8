import math

import torch

from deepprior.tricks import Backtracker, BestSnapshot, OutputEMA


def test_ema_matches_the_recurrence():
    ema = OutputEMA(0.9)
    seq = [torch.full((1, 1, 2, 2), float(v)) for v in (1.0, 2.0, 4.0)]
    for x in seq:
        ema.update(x)
    expected = 0.9 * (0.9 * 1 + 0.1 * 2) + 0.1 * 4
    assert torch.allclose(ema.value, torch.full((1, 1, 2, 2), expected))
    assert seq[0][0, 0, 0, 0] == 1.0  # the first update copies rather than aliasing


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
