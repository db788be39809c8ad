import numpy as np
import pytest
import torch
from PIL import Image

from stylenet.infer.stylize import Runner, apply_net, stylize
from stylenet.infer.tiling import stylize_tiled
from stylenet.io.images import ImageError

from conftest import random_image


def test_path_input_returns_a_pil_image_of_the_same_size(tmp_path, weights_file):
    path = tmp_path / "p.jpg"
    random_image(37, 53).save(path)
    out = stylize(path, weights_file)
    assert isinstance(out, Image.Image) and out.size == (53, 37) and out.mode == "RGB"


def test_exif_rotation_is_honoured(tmp_path, weights_file):
    from PIL import ImageOps

    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90 degrees counter-clockwise when displayed
    path = tmp_path / "r.jpg"
    random_image(30, 50).save(path, exif=exif.tobytes())
    out = stylize(path, weights_file)
    assert out.size == (30, 50)
    upright = ImageOps.exif_transpose(Image.open(path))  # what a viewer shows
    assert np.array_equal(np.asarray(out), np.asarray(stylize(upright.convert("RGB"), weights_file)))


def test_alpha_is_carried_through_unchanged(weights_file):
    img = random_image(40, 40).convert("RGBA")
    alpha = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (40, 1))
    img.putalpha(Image.fromarray(alpha))
    out = stylize(img, weights_file)
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], alpha)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "I;16"])
def test_grayscale_palette_cmyk_and_16_bit_inputs(weights_file, mode):
    img = random_image(32, 32)
    img = Image.fromarray(np.asarray(img.convert("L")).astype(np.uint16) * 257) if mode == "I;16" else img.convert(mode)
    out = stylize(img, weights_file, precision="fp32")
    assert out.mode == "RGB" and out.size == (32, 32)
    # the values: the output is the network's output for the image as RGB in [0, 1] (16-bit: / 65535)
    rgb = np.asarray(img.convert("RGB") if mode != "I;16" else random_image(32, 32).convert("L").convert("RGB"))
    x = torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)
    expected = (stylize(x, weights_file, precision="fp32").permute(1, 2, 0).numpy() * 255).round()
    assert np.abs(np.asarray(out, np.float32) - expected).max() <= 1  # rounding to 8 bits at most


def test_numpy_arrays_come_back_with_the_same_dtype_and_channels(weights_file):
    for arr in (np.random.rand(24, 30, 3).astype(np.float32), (np.random.rand(24, 30, 4) * 255).astype(np.uint8)):
        before = arr.copy()
        out = stylize(arr, weights_file)
        assert out.shape == arr.shape and out.dtype == arr.dtype
        assert np.array_equal(arr, before)  # the caller's array is untouched
    assert np.array_equal(out[..., 3], arr[..., 3])
    assert stylize(np.zeros((24, 30), np.uint16), weights_file).shape == (24, 30, 3)


def test_numpy_values_are_read_and_written_at_their_dtype_s_scale(weights_file):
    """uint8 / 255, uint16 / 65535, float as is, in and out: the same photo in each dtype
    gives the same stylized values, each in its own dtype's range."""
    f = np.asarray(random_image(24, 30), np.float32) / 255  # exactly representable in 8 and 16 bits
    ref = stylize(torch.from_numpy(f).permute(2, 0, 1), weights_file, precision="fp32").permute(1, 2, 0).numpy()
    as_float = stylize(f, weights_file, precision="fp32")
    as8 = stylize((f * 255).round().astype(np.uint8), weights_file, precision="fp32")
    as16 = stylize((f * 65535).round().astype(np.uint16), weights_file, precision="fp32")
    assert np.abs(as_float - ref).max() < 1e-6
    assert np.abs(as8 / 255 - ref).max() <= 0.5 / 255 + 1e-6
    assert np.abs(as16 / 65535 - ref).max() <= 0.5 / 65535 + 1e-6
    assert as16.max() > 255  # the full 16-bit range, not 8-bit values in a 16-bit array


def test_an_integer_tensor_is_a_one_line_error_not_a_white_image(weights_file):
    with pytest.raises(ImageError, match=r"tensor of dtype torch.uint8: expected a float tensor in \[0, 1\]"):
        stylize(torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8), weights_file)


def test_tensors_keep_shape_dtype_and_are_not_modified(weights_file):
    x = torch.rand(2, 3, 20, 28)
    before = x.clone()
    y = stylize(x, weights_file, precision="fp32")
    assert y.shape == x.shape and y.dtype == x.dtype and torch.equal(x, before)
    assert stylize(x[0].double(), weights_file).dtype == torch.float64
    with pytest.raises(ImageError, match=r"expected \(3, H, W\)"):
        stylize(torch.rand(4, 20, 20), weights_file)


def test_max_side_stylizes_at_a_smaller_size(weights_file):
    img = random_image(60, 120).convert("RGBA")
    out = stylize(img, weights_file, max_side=40)
    assert out.size == (40, 20) and out.mode == "RGBA"


def test_too_small_inputs_are_refused(weights_file):
    with pytest.raises(ImageError, match="at least 16x16"):
        stylize(np.zeros((1, 1, 3), np.uint8), weights_file)
    with pytest.raises(TypeError, match="cannot stylize a list"):
        stylize([1, 2, 3], weights_file)


def test_a_loaded_network_stays_on_its_device_and_mode_and_its_fast_copy_is_reused(small_net, monkeypatch):
    import stylenet.infer.runner as fast

    made = []
    real = fast.for_inference
    monkeypatch.setattr(fast, "for_inference", lambda *a, **k: made.append(1) or real(*a, **k))
    small_net.train()
    first = stylize(torch.rand(3, 20, 20), small_net, precision="fp32")
    stylize(torch.rand(3, 24, 20), small_net, precision="fp32")
    assert first.shape == (3, 20, 20) and len(made) == 1  # one fast copy for both calls
    assert small_net.training and next(small_net.parameters()).device.type == "cpu"  # the caller's net untouched
    with torch.no_grad():
        next(small_net.parameters()).add_(1.0)  # changed weights: a new copy, never a stale one
    stylize(torch.rand(3, 20, 20), small_net, precision="fp32")
    assert len(made) == 2


def test_bf16_matches_fp32_closely(small_net):
    x = torch.rand(1, 3, 64, 64)
    a = apply_net(small_net, x, Runner(torch.device("cpu"), "fp32"))
    b = apply_net(small_net, x, Runner(torch.device("cpu"), "bf16"))
    assert (a - b).abs().mean() < 2 / 255


def test_tiled_and_untiled_outputs_agree_within_2_over_255(small_net):
    from stylenet import TransformerNet

    torch.manual_seed(1)
    net = TransformerNet().eval()  # the full receptive field of the real network
    x = torch.from_numpy(np.asarray(random_image(300, 420), np.float32) / 255).permute(2, 0, 1)[None]
    run = Runner(torch.device("cpu"), "fp32")
    whole = run(net, x)
    tiled = stylize_tiled(net, x, run, tile=128, stats_side=1024)
    diff = (whole - tiled).abs()
    assert diff.mean() < 2 / 255
    assert diff.max() < 1e-4  # in fact identical up to float rounding


def test_naive_tiles_would_disagree(small_net):
    """The test above is meaningful: without shared statistics tiles differ visibly."""
    from stylenet import TransformerNet

    torch.manual_seed(1)
    net = TransformerNet().eval()
    x = torch.from_numpy(np.asarray(random_image(256, 256), np.float32) / 255).permute(2, 0, 1)[None]
    x[..., :, 128:] *= 0.3  # the right half is much darker: its own statistics differ
    run = Runner(torch.device("cpu"), "fp32")
    whole = run(net, x)
    naive = torch.cat([run(net, x[..., :, :128]), run(net, x[..., :, 128:])], dim=3)
    shared = stylize_tiled(net, x, run, tile=128)
    assert (whole - naive).abs().mean() > 3 * (whole - shared).abs().mean()


def test_large_images_have_no_seams_the_tiles_equal_one_frozen_pass():
    """Above stats_side the statistics come from a downscaled copy; the tiles still compute one
    function, so the tiled output equals that function applied to the whole image: no grid."""
    from stylenet import TransformerNet
    from stylenet.infer.tiling import freeze_norms, record_norm_stats

    torch.manual_seed(2)
    net = TransformerNet().eval()
    x = torch.from_numpy(np.asarray(random_image(360, 520), np.float32) / 255).permute(2, 0, 1)[None]
    run = Runner(torch.device("cpu"), "fp32")
    tiled = stylize_tiled(net, x, run, tile=128, stats_side=200)  # stats from a 200-pixel copy
    small = torch.nn.functional.interpolate(x, scale_factor=200 / 520, mode="area")
    whole = run(freeze_norms(net, record_norm_stats(run, net, small)), x)
    assert (tiled - whole).abs().max() < 1e-4


# -- multi-style networks and output controls ---------------------------------------------------
def test_strength_zero_returns_the_photo_and_one_the_full_style(weights_file):
    x = torch.rand(3, 32, 40)
    assert torch.allclose(stylize(x, weights_file, strength=0.0, precision="fp32"), x, atol=1e-6)
    full = stylize(x, weights_file, precision="fp32")
    half = stylize(x, weights_file, strength=0.5, precision="fp32")
    assert torch.allclose(half, (x + full) / 2, atol=1e-5)
    with pytest.raises(ValueError, match="strength=1.5"):
        stylize(x, weights_file, strength=1.5)


def test_preserve_color_keeps_the_photos_chroma(weights_file):
    from stylenet.infer.controls import rgb_to_yiq

    x = torch.rand(3, 32, 40) * 0.5 + 0.25
    out = stylize(x, weights_file, preserve_color=True, precision="fp32")
    plain = stylize(x, weights_file, precision="fp32")
    yiq_out, yiq_x, yiq_plain = rgb_to_yiq(out), rgb_to_yiq(x), rgb_to_yiq(plain)
    assert (yiq_out[1:] - yiq_x[1:]).abs().mean() < 0.01 < (yiq_plain[1:] - yiq_x[1:]).abs().mean()
    assert (yiq_out[0] - yiq_plain[0]).abs().mean() < 0.01


def test_a_multi_style_network_needs_a_choice_and_mixes_on_request(multi_file):
    x = torch.rand(3, 32, 32)
    with pytest.raises(ValueError, match="holds 3 styles"):
        stylize(x, multi_file)
    a = stylize(x, "a", network=multi_file, precision="fp32")
    c = stylize(x, "c", network=multi_file, precision="fp32")
    mid = stylize(x, {"a": 0.5, "c": 0.5}, network=multi_file, precision="fp32")
    assert (a - c).abs().mean() > 0.02
    assert (mid - a).abs().mean() > 0.005 and (mid - c).abs().mean() > 0.005
    # weights (1, 0): exactly the first style
    assert torch.equal(stylize(x, {"a": 1.0, "c": 0.0}, network=multi_file, precision="fp32"), a)
    # 50/50: exactly the one-style network whose norm gamma/beta are the average of a's and c's rows
    from stylenet import TransformerNet, load

    multi = load(multi_file)
    state = {k: (v[0] + v[2]) / 2 if v.dim() == 2 else v for k, v in multi.state_dict().items()}
    averaged = TransformerNet(width=8, blocks=1).eval()
    averaged.load_state_dict(state)
    assert torch.allclose(mid, stylize(x, averaged, precision="fp32"), atol=1e-6)
    # and the output lies between the two styles' (norms are not linear: 0.40 of the way from a to c)
    t = float(((mid - a) * (c - a)).sum() / ((c - a) ** 2).sum())
    assert 0.2 < t < 0.8
