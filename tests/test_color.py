"""Output controls: colour preservation and strength."""

import torch

from stylenet.infer.controls import apply_controls, preserve_color, rgb_to_yiq, yiq_to_rgb


def test_yiq_round_trip():
    x = torch.rand(2, 3, 8, 9)
    assert torch.allclose(yiq_to_rgb(rgb_to_yiq(x)), x, atol=1e-5)


def test_preserve_color_takes_luminance_from_the_output_and_chroma_from_the_photo():
    torch.manual_seed(0)
    photo, stylized = torch.rand(1, 3, 16, 16) * 0.2 + 0.4, torch.rand(1, 3, 16, 16) * 0.4 + 0.3
    out = rgb_to_yiq(preserve_color(stylized, photo))
    # equal up to the few pixels whose combination leaves the RGB gamut and is clipped
    assert (out[:, :1] - rgb_to_yiq(stylized)[:, :1]).abs().mean() < 2e-3
    assert (out[:, 1:] - rgb_to_yiq(photo)[:, 1:]).abs().mean() < 2e-3
    assert (rgb_to_yiq(stylized)[:, 1:] - rgb_to_yiq(photo)[:, 1:]).abs().mean() > 0.03  # the chroma did change


def test_strength_blends_photo_and_output_and_leaves_inputs_alone():
    photo, stylized = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    keep = photo.clone(), stylized.clone()
    assert torch.equal(apply_controls(stylized, photo, 0.0), photo)
    assert torch.equal(apply_controls(stylized, photo, 1.0), stylized)
    assert torch.allclose(apply_controls(stylized, photo, 0.25), 0.75 * photo + 0.25 * stylized, atol=1e-6)
    assert torch.equal(photo, keep[0]) and torch.equal(stylized, keep[1])
