import pytest
import torch

from deepprior.config import NetConfig
from deepprior.errors import InputError
from deepprior.nets import build_net, check_size, make_input
from deepprior.nets.layers import ReflectionPad


def _run(cfg: NetConfig, h: int = 37, w: int = 31, out: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    net = build_net("skip", cfg, out, generator=g)
    z = make_input(cfg, h, w, generator=g, device=torch.device("cpu"))
    return net(z)


def test_paper_network_has_the_paper_parameter_count():
    net = build_net("skip", NetConfig(), 3, generator=torch.Generator().manual_seed(0))
    assert sum(p.numel() for p in net.parameters()) == 2_217_831


SMALL = dict(channels_down=(8, 8, 8), channels_up=(8, 8, 8), channels_skip=(2, 2, 2), input_channels=4)


@pytest.mark.parametrize("change", [
    {}, {"channels_skip": (0, 0, 0)}, {"channels_skip": (0, 3, 5)}, {"upsample": "nearest"},
    {"upsample": ("nearest", "bilinear", "nearest")}, {"downsample": "avg"}, {"downsample": "max"},
    {"padding": "zero"}, {"kernel_down": 5, "kernel_up": 5}, {"kernel_skip": 3}, {"need_1x1_up": False},
    {"batch_norm": False}, {"input": "meshgrid"}, {"channels_down": (4, 8, 16), "channels_up": (16, 8, 4)},
])
@pytest.mark.parametrize("size", [(37, 31), (48, 48), (33, 64)])
def test_every_option_keeps_the_image_size(change, size):
    y = _run(NetConfig(**{**SMALL, **change}), *size)
    assert y.shape == (1, 3, *size)
    assert torch.isfinite(y).all()


def test_sigmoid_bounds_output_and_grey_output():
    y = _run(NetConfig(**SMALL), out=1)
    assert y.shape == (1, 1, 37, 31)
    assert y.min() >= 0 and y.max() <= 1
    y = _run(NetConfig(**SMALL, sigmoid=False))
    assert (y < 0).any()  # unbounded output without the sigmoid


def test_same_seed_same_weights_and_input():
    a, b = _run(NetConfig(**SMALL)), _run(NetConfig(**SMALL))
    assert torch.equal(a, b)
    g = torch.Generator().manual_seed(1)
    other = build_net("skip", NetConfig(**SMALL), 3, generator=g)
    first = next(build_net("skip", NetConfig(**SMALL), 3, generator=torch.Generator().manual_seed(0)).parameters())
    assert not torch.equal(next(other.parameters()), first)


def test_inputs():
    cfg = NetConfig(**SMALL)
    z = make_input(cfg, 10, 12, generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    assert z.shape == (1, 4, 10, 12) and z.min() >= 0 and z.max() <= 0.1
    m = make_input(NetConfig(**SMALL, input="meshgrid"), 10, 12, generator=torch.Generator(),
                   device=torch.device("cpu"))
    assert m.shape == (1, 2, 10, 12)
    assert m[0, 0, 0, 0] == 0 and m[0, 0, 0, -1] == 1 and m[0, 1, -1, 0] == 1  # x along width, y along height


def test_bad_configs_and_sizes_are_refused():
    with pytest.raises(InputError, match="same number of scales"):
        NetConfig(channels_down=(8, 8), channels_up=(8,), channels_skip=(0, 0))
    with pytest.raises(InputError, match="upsample"):
        NetConfig(upsample="cubic")
    with pytest.raises(InputError, match="odd"):
        NetConfig(kernel_down=4)
    with pytest.raises(InputError, match="too small"):
        check_size(NetConfig(), 32, 32)  # 5 scales leave 1 px
    check_size(NetConfig(), 64, 64)
    with pytest.raises(InputError, match="unknown network"):
        build_net("unet9000", NetConfig(), 3, generator=torch.Generator())


def test_reflection_padding_keeps_bfloat16_under_autocast():
    # CPU autocast would run reflection_pad2d in float32 (two extra copies per convolution); ours must not,
    # and must pad exactly like torch's layer.
    x = torch.rand((1, 3, 7, 9), generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = ReflectionPad(2)(x)
    assert y.dtype == torch.bfloat16
    assert torch.equal(y, torch.nn.ReflectionPad2d(2)(x))
