import pytest
import torch

from deepprior.errors import InputError
from deepprior.operators import Identity, Mask, make_operator


def test_identity():
    x = torch.rand(1, 3, 7, 5)
    assert torch.equal(Identity()(x), x)
    assert Identity().known is None


def test_mask_zeroes_missing_and_is_idempotent():
    g = torch.Generator().manual_seed(0)
    m = (torch.rand(37, 31, generator=g) > 0.5).float()
    op = make_operator("mask", mask=m)
    x = torch.rand(1, 3, 37, 31, generator=g)
    y = op(x)
    assert y.shape == x.shape
    assert torch.equal(y[0, :, m == 0], torch.zeros_like(y[0, :, m == 0]))
    assert torch.equal(y[0, :, m == 1], x[0, :, m == 1])
    assert torch.equal(op(y), y)
    # self-adjoint: <Ax, v> == <x, Av>
    v = torch.rand(1, 3, 37, 31, generator=g)
    assert torch.allclose((op(x) * v).sum(), (x * op(v)).sum())


def test_mask_buffer_moves_with_module_and_checks_size(device):
    op = Mask(torch.ones(4, 6))
    assert "known" in dict(op.named_buffers())
    assert op.to(torch.float64).known.dtype == torch.float64
    assert op.to(device).known.device.type == device and op(torch.ones(1, 3, 4, 6, device=device)).sum() == 72
    op = op.to("cpu")
    with pytest.raises(InputError, match="mask is 6x4"):
        op(torch.rand(1, 3, 5, 6))
    with pytest.raises(InputError, match="2-D"):
        Mask(torch.ones(1, 4, 6))
    with pytest.raises(InputError, match="unknown operator"):
        make_operator("sharpen")


def test_keep_measured_takes_known_pixels_from_the_observation_only_for_masks():
    g = torch.Generator().manual_seed(1)
    m = (torch.rand(9, 11, generator=g) > 0.5).float()
    op = Mask(m)
    x, y = torch.rand(1, 3, 9, 11, generator=g), torch.rand(1, 3, 9, 11, generator=g)
    kept = op.keep_measured(x, op(y))
    assert op.keeps_pixels and not Identity.keeps_pixels
    assert torch.equal(kept[0, :, m == 1], y[0, :, m == 1])
    assert torch.equal(kept[0, :, m == 0], x[0, :, m == 0])
    assert torch.equal(Identity().keep_measured(x, y), x)  # a noisy copy fixes no pixel
