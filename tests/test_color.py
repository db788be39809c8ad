"""Output controls: colour preservation and strength."""

import torch

from stylenet.color import apply_controls, preserve_color, rgb_to_yiq, yiq_to_rgb


def test_yiq_round_trip():
    x = torch.rand(2, 3, 8, 9)
    assert torch.allclose(yiq_to_rgb(rgb_to_yiq(x)), x, atol=1e-5)


def test_preserve_color_takes_luminance_from_the_output_and_chroma_from_the_photo():
    photo, stylized = torch.rand(1, 3, 16, 16) * 0.5 + 0.25, torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    out = rgb_to_yiq(preserve_color(stylized, photo))
    assert torch.allclose(out[:, :1], rgb_to_yiq(stylized)[:, :1], atol=1e-4)
    assert torch.allclose(out[:, 1:], rgb_to_yiq(photo)[:, 1:], atol=1e-4)


def test_strength_blends_photo_and_output_and_leaves_inputs_alone():
    photo, stylized = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    keep = photo.clone(), stylized.clone()
    assert torch.equal(apply_controls(stylized, photo, 0.0), photo)
    assert torch.equal(apply_controls(stylized, photo, 1.0), stylized)
    assert torch.allclose(apply_controls(stylized, photo, 0.25), 0.75 * photo + 0.25 * stylized, atol=1e-6)
    assert torch.equal(photo, keep[0]) and torch.equal(stylized, keep[1])
