"""The patch discriminator: shapes, crops, losses, and that it learns to tell style crops from noise."""

import torch

from stylenet.training.adversarial import (
    PatchDiscriminator,
    accuracy,
    discriminator_loss,
    generator_loss,
    random_crops,
)


def test_one_logit_per_patch_and_spectral_norm_on_every_convolution():
    d = PatchDiscriminator(channels=8, layers=3)
    assert d(torch.rand(2, 3, 64, 64)).shape == (2, 1, 7, 7)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 4 and all(hasattr(c, "parametrizations") for c in convs)


def test_random_crops_come_from_the_images_and_small_images_are_scaled_up():
    images = torch.arange(2.0).view(2, 1, 1, 1).expand(2, 3, 20, 30)
    crops = random_crops(images, 5, 16)
    assert crops.shape == (5, 3, 16, 16)
    assert [float(c.mean()) for c in crops] == [0.0, 1.0, 0.0, 1.0, 0.0]  # crop i from image i % B
    assert random_crops(torch.rand(1, 3, 10, 12), 2, 16).shape == (2, 3, 16, 16)


def test_hinge_losses_and_accuracy():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    assert torch.isclose(discriminator_loss(real, fake), torch.tensor((0 + 0.5) / 2 + (0 + 1.5) / 2))
    assert torch.isclose(generator_loss(fake), torch.tensor(0.75))
    assert accuracy(real, fake) == 0.75


def test_the_discriminator_separates_style_crops_from_noise_after_a_few_steps():
    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 12, 96), torch.linspace(0, 12, 96), indexing="ij")
    style = torch.stack([torch.sin(xx + yy), torch.cos(xx - yy), torch.sin(2 * xx)])[None] * 0.4 + 0.5  # stripes
    d = PatchDiscriminator(channels=16, layers=2)
    opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    for _ in range(30):
        r, f = d(random_crops(style, 8, 32)), d(torch.rand(8, 3, 32, 32))
        opt.zero_grad()
        discriminator_loss(r, f).backward()
        opt.step()
    d.eval()
    with torch.no_grad():
        r, f = d(random_crops(style, 16, 32)), d(torch.rand(16, 3, 32, 32))
    assert accuracy(r, f) > 0.95
    assert discriminator_loss(r, f) < 1.0  # chance level is 2
