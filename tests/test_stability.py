"""The flow-free stability term: warps, its value for stable and unstable networks, its config."""

import torch
import torch.nn.functional as F

from stylenet.training.stability import random_affine, stability_loss, warp


def test_an_identity_warp_returns_the_image():
    x = torch.rand(2, 3, 24, 30)
    theta = random_affine(2, 24, 30, shift=0, rotate=0, zoom=0)
    assert torch.allclose(warp(x, theta), x, atol=1e-5)


def test_a_whole_pixel_shift_moves_the_image_by_that_many_pixels():
    x = torch.rand(1, 3, 20, 20)
    torch.manual_seed(0)
    theta = random_affine(1, 20, 20, shift=3, rotate=0, zoom=0)
    px = theta[0, 0, 2] * 20 / 2  # the drawn shift in pixels
    theta[0, 0, 2], theta[0, 1, 2] = 2 * 2 / 20, 0.0  # force exactly 2 pixels, horizontally
    y = warp(x, theta)
    assert torch.allclose(y[..., :, :-2], x[..., :, 2:], atol=1e-5)  # sampling x + 2: the image moves left
    assert abs(px) <= 3


def test_a_pointwise_network_is_perfectly_stable_and_a_noisy_one_is_not():
    x = torch.rand(2, 3, 48, 48)
    pointwise = lambda z: 0.6 * z + 0.2  # a pointwise affine map commutes with any warp: loss ~ 0 without noise
    assert stability_loss(pointwise, x, pointwise(x), noise=0.0) < 1e-4
    noisy = lambda z: (z + 0.3 * torch.rand_like(z)).clamp(0, 1)  # texture that ignores the input's motion
    assert stability_loss(noisy, x, noisy(x), noise=0.0) > 1e-3


def test_noise_alone_measures_how_much_a_network_amplifies_it():
    x = torch.rand(1, 3, 40, 40)
    calm = lambda z: F.avg_pool2d(z, 5, 1, 2, count_include_pad=False)  # smooths noise away
    loud = lambda z: (4 * (z - 0.5) + 0.5).clamp(0, 1)  # amplifies it
    kw = {"noise": 0.05, "shift": 0, "rotate": 0, "zoom": 0}
    assert stability_loss(calm, x, calm(x), **kw) < stability_loss(loud, x, loud(x), **kw) / 5


def test_gradients_reach_the_network_through_both_outputs():
    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    x = torch.rand(2, 3, 32, 32)
    loss = stability_loss(lambda z: torch.sigmoid(net(z)), x, torch.sigmoid(net(x)))
    loss.backward()
    assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0
