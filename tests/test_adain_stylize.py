"""Any painting as the style (issue 24): stylize(style_image=...), the CLI, video and ONNX, on small random decoders."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import stylenet
from stylenet.cli import main, parse_style_image
from stylenet.errors import StylenetError
from stylenet.infer import arbitrary
from stylenet.infer.controls import Controls, rgb_to_yiq
from stylenet.model.adain import AdaINNet, adain, channel_stats, save_adain

from conftest import random_image


def _tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img.convert("RGB"), np.float32) / 255).permute(2, 0, 1).unsqueeze(0)


@pytest.fixture(scope="module")
def net() -> AdaINNet:
    """Random VGG, and a random decoder initialised so that its output varies with its input."""
    torch.manual_seed(0)
    net = AdaINNet(weights="random").eval()
    with torch.no_grad():
        for m in net.decoder.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                m.bias.normal_(0, 0.1)
    return net


@pytest.fixture(scope="module")
def decoder(net, tmp_path_factory) -> Path:
    return save_adain(net, tmp_path_factory.mktemp("decoder") / "adain.safetensors", {"name": "adain", "steps": 0})


@pytest.fixture
def paintings(tmp_path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.png", tmp_path / "b.jpg"
    random_image(56, 72, seed=11).save(a)
    Image.fromarray((np.asarray(random_image(64, 48, seed=12)) * 0.4).astype(np.uint8)).save(b)  # darker, other stats
    return a, b


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    random_image(40, 48, seed=3).save(path)
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- the API -----------------------------------------------------------------------------------
def test_the_adain_target_takes_the_paintings_statistics_and_the_output_is_its_decoding(net, decoder, paintings):
    photo = torch.rand(1, 3, 40, 56)
    painting = arbitrary.read_painting(paintings[0], 64)
    target = arbitrary.target_stats(net, paintings[0], style_size=64)
    expected_stats = channel_stats(net.encode(painting))
    torch.testing.assert_close(target, expected_stats)
    feat = net.encode(photo)
    t = adain(feat, *target)
    mean, std = channel_stats(t)  # the painting's, not the photo's (a channel the photo leaves at 0 stays flat)
    live = (channel_stats(feat)[1] > 0.1) & (target[1] > 0.1)  # eps dominates a nearly flat channel
    torch.testing.assert_close(mean, target[0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(std[live], target[1][live], atol=1e-4, rtol=1e-4)
    assert live.float().mean() > 0.5
    assert (channel_stats(feat)[0] - target[0]).abs().mean() > 10 * (channel_stats(t)[0] - target[0]).abs().mean()
    out = stylenet.stylize(photo, style_image=paintings[0], network=decoder, style_size=64)
    torch.testing.assert_close(out, net.decoder(t), atol=1e-5, rtol=0)
    other = stylenet.stylize(photo, style_image=paintings[1], network=decoder, style_size=64)
    assert (out - other).abs().mean() > 0.01  # another painting, another picture


def test_a_half_half_mix_differs_from_both_and_is_adain_with_the_averaged_statistics(net, decoder, paintings):
    photo = torch.rand(1, 3, 48, 48)
    a, b = (arbitrary.target_stats(net, p, style_size=64) for p in paintings)
    mixed = stylenet.stylize(
        photo, style_image=list(paintings), style_weights=[0.5, 0.5], network=decoder, style_size=64
    )
    mean, std = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    torch.testing.assert_close(mixed, net.decoder(adain(net.encode(photo), mean, std)), atol=1e-5, rtol=0)
    for p in paintings:
        single = stylenet.stylize(photo, style_image=p, network=decoder, style_size=64)
        assert (mixed - single).abs().mean() > 0.005
    weighted = stylenet.stylize(
        photo, style_image=list(paintings), style_weights=[3, 1], network=decoder, style_size=64
    )
    mean, std = 0.75 * a[0] + 0.25 * b[0], 0.75 * a[1] + 0.25 * b[1]  # weights are normalised
    torch.testing.assert_close(weighted, net.decoder(adain(net.encode(photo), mean, std)), atol=1e-5, rtol=0)
    with pytest.raises(StylenetError, match="1 style_weights for 2 paintings"):
        stylenet.stylize(photo, style_image=list(paintings), style_weights=[1.0], network=decoder)


def test_strength_zero_is_the_decoders_reconstruction_and_one_the_full_style(net, decoder, paintings):
    photo = torch.rand(1, 3, 40, 40)
    feat = net.encode(photo)
    zero = stylenet.stylize(photo, style_image=paintings[0], network=decoder, strength=0.0)
    torch.testing.assert_close(zero, net.decoder(feat), atol=1e-5, rtol=0)
    assert (zero - photo).abs().mean() > 0.05  # not a pixel blend: the photo does not come back
    full = stylenet.stylize(photo, style_image=paintings[0], network=decoder)
    target = arbitrary.target_stats(net, paintings[0])
    torch.testing.assert_close(full, net.decoder(adain(feat, *target)), atol=1e-5, rtol=0)
    half = stylenet.stylize(photo, style_image=paintings[0], network=decoder, strength=0.5)
    t = 0.5 * adain(feat, *target) + 0.5 * feat  # interpolation in feature space
    torch.testing.assert_close(half, net.decoder(t), atol=1e-5, rtol=0)
    with pytest.raises(StylenetError, match="strength=1.5"):
        stylenet.stylize(photo, style_image=paintings[0], network=decoder, strength=1.5)


def test_preserve_color_keeps_the_photos_chroma_and_the_stylized_luminance(decoder, paintings):
    photo = torch.rand(1, 3, 40, 40) * 0.5 + 0.25  # mid-range: little clipping
    plain = stylenet.stylize(photo, style_image=paintings[0], network=decoder)
    kept = stylenet.stylize(photo, style_image=paintings[0], network=decoder, preserve_color=True)
    inside = ((kept > 0.001) & (kept < 0.999)).all(1, keepdim=True).expand(1, 3, 40, 40)
    yiq_kept, yiq_photo, yiq_plain = rgb_to_yiq(kept), rgb_to_yiq(photo), rgb_to_yiq(plain)
    chroma_error = (yiq_kept - yiq_photo)[:, 1:][inside[:, 1:]].abs().max()
    assert chroma_error < 1e-4 < (yiq_plain - yiq_photo)[:, 1:].abs().mean()
    torch.testing.assert_close(yiq_kept[:, :1][inside[:, :1]], yiq_plain[:, :1][inside[:, :1]], atol=1e-4, rtol=0)


def test_a_painting_as_path_pil_array_or_tensor_gives_the_same_picture(decoder, paintings):
    photo = np.asarray(random_image(40, 48, seed=5))
    img = Image.open(paintings[0]).convert("RGB")
    outs = [
        stylenet.stylize(photo, style_image=p, network=decoder)
        for p in (paintings[0], str(paintings[0]), img, np.asarray(img), _tensor(img)[0])
    ]
    assert outs[0].shape == photo.shape and outs[0].dtype == np.uint8
    for out in outs[1:]:
        assert np.abs(out.astype(int) - outs[0].astype(int)).max() <= 1


@pytest.mark.parametrize("which", ["photo", "painting"])
def test_an_integer_tensor_photo_or_painting_is_a_one_line_error_not_a_white_image(decoder, paintings, which):
    pixels = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)  # 0-255: clamped to [0, 1], almost white
    photo, painting = (pixels, paintings[0]) if which == "photo" else (torch.rand(3, 32, 32), pixels)
    with pytest.raises(StylenetError) as e:
        stylenet.stylize(photo, style_image=painting, network=decoder)
    assert "tensor of dtype torch.uint8: expected a float tensor in [0, 1]" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_tiled_photo_matches_the_untiled_one(net, decoder, paintings):
    photo = _tensor(random_image(200, 264, seed=8))
    whole = stylenet.stylize(photo, style_image=paintings[0], network=decoder)
    tiled = stylenet.stylize(photo, style_image=paintings[0], network=decoder, tile=64)
    assert (tiled - whole).abs().max() < 2e-3 and (tiled - whole).abs().mean() < 1e-4
    # the content statistics are the whole photo's: a tile's own statistics would differ
    part = photo[:, :, :64, :64]
    assert (channel_stats(net.encode(part))[0] - arbitrary.content_stats(net, photo)[0]).abs().mean() > 1e-3


def test_photos_over_the_threshold_are_tiled_and_smaller_ones_run_whole(decoder, paintings, monkeypatch):
    calls = []
    real = arbitrary.stylize_tiled
    monkeypatch.setattr(arbitrary, "stylize_tiled", lambda *a, **k: calls.append(a[1].shape) or real(*a, **k))
    photo = torch.rand(1, 3, 40, 48)
    stylenet.stylize(photo, style_image=paintings[0], network=decoder)
    assert calls == []
    monkeypatch.setattr(arbitrary, "TILE_ABOVE", 30 * 30)
    stylenet.stylize(photo, style_image=paintings[0], network=decoder)
    assert calls == [(1, 3, 40, 48)]


def test_the_paintings_statistics_are_computed_once_for_a_batch(decoder, tmp_path, monkeypatch):
    painting = tmp_path / "once.png"
    random_image(50, 60, seed=123).save(painting)
    calls = []
    real = AdaINNet.style_stats
    monkeypatch.setattr(AdaINNet, "style_stats", lambda self, x: calls.append(x.shape) or real(self, x))
    for seed in range(3):
        stylenet.stylize(random_image(40, 40, seed=seed), style_image=painting, network=decoder)
    assert len(calls) == 1
    stylenet.stylize(random_image(40, 40), style_image=painting, network=decoder, style_size=128)
    assert len(calls) == 2  # another size, other pixels


def test_without_a_decoder_the_default_is_one_line_saying_how_to_get_one(paintings, photo, capsys, no_painting_network):
    with pytest.raises(StylenetError, match="no AdaIN decoder or style predictor is installed") as e:
        stylenet.stylize(torch.rand(3, 32, 32), style_image=paintings[0])
    assert "\n" not in str(e.value) and "network=" in str(e.value) and "experiment=predictor" in str(e.value)
    code, _, err = run(capsys, "stylize", photo, "--style-image", paintings[0])
    assert code == 2 and err.count("\n") == 1 and "experiment=predictor" in err and "Traceback" not in err


def test_a_transformer_file_as_the_decoder_is_a_clear_error(weights_file, paintings):
    with pytest.raises(StylenetError, match="not an AdaIN weights file"):
        stylenet.stylize(torch.rand(3, 32, 32), style_image=paintings[0], network=weights_file)


def test_style_and_style_image_together_are_refused(decoder, paintings, photo, capsys):
    with pytest.raises(StylenetError, match="not both"):
        stylenet.stylize(torch.rand(3, 32, 32), "mosaic", style_image=paintings[0], network=decoder)
    for argv, message in (
        (["stylize", photo, "--style", "mosaic", "--style-image", paintings[0]], "exclude each other"),
        (["stylize", photo], "give --style NAME (a trained style) or --style-image"),
        (["video", "clip.mp4", "-s", "mosaic", "--style-image", paintings[0]], "exclude each other"),
    ):
        with pytest.raises(SystemExit) as e:  # a usage error, as argparse's own
            main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.count("\n") == 1 and message in err and "Traceback" not in err


# -- the CLI -----------------------------------------------------------------------------------
def test_style_image_weights_parse_after_the_last_colon(tmp_path):
    assert parse_style_image("a.jpg:0.7") == ("a.jpg", 0.7)
    assert parse_style_image("a.jpg") == ("a.jpg", 1.0)
    assert parse_style_image("dir:x/a.jpg") == ("dir:x/a.jpg", 1.0)  # not a number: part of the name
    odd = tmp_path / "b.jpg:2"
    odd.write_bytes(b"x")
    assert parse_style_image(str(odd)) == (str(odd), 1.0)  # a file of that name is taken whole
    with pytest.raises(StylenetError, match="must be a finite number >= 0"):
        parse_style_image("a.jpg:-1")
    with pytest.raises(StylenetError, match="must be a finite number >= 0"):
        parse_style_image("a.jpg:inf")
    (tmp_path / "c.jpg").write_bytes(b"x")
    with pytest.raises(StylenetError, match="'x' after ':' is not a weight; give a number >= 0"):
        parse_style_image(f"{tmp_path / 'c.jpg'}:x")  # the file exists: the weight is what is wrong


def test_style_image_weights_that_are_all_zero_name_the_option(decoder, paintings, photo, capsys):
    code, _, err = run(capsys, "stylize", photo, "--style-image", f"{paintings[0]}:0", "--network", decoder)
    assert code == 2 and "--style-image weights [0.0]: give at least one painting a weight above 0" in err
    assert err.count("\n") == 1


def test_style_weights_take_an_array_and_refuse_what_is_not_a_number(decoder, paintings, photo):
    kw = {"style_image": list(paintings), "network": decoder}
    a = stylenet.stylize(photo, style_weights=np.array([0.7, 0.3]), **kw)
    assert np.array_equal(np.asarray(a), np.asarray(stylenet.stylize(photo, style_weights=[0.7, 0.3], **kw)))
    with pytest.raises(StylenetError, match="style_weights=.*give numbers, one per painting"):
        stylenet.stylize(photo, style_weights=["a", "b"], **kw)


def test_a_long_strip_painting_is_scaled_by_its_longer_side_not_blown_up(tmp_path):
    Image.new("RGB", (4000, 16), (200, 30, 30)).save(tmp_path / "strip.png")
    x = arbitrary.read_painting(tmp_path / "strip.png", 256)
    assert x.shape[-1] == 4 * 256 and x.shape[-2] == 8  # not 64000 x 256 (16 GB of VGG activations)
    random_image(60, 40).save(tmp_path / "p.png")
    assert tuple(arbitrary.read_painting(tmp_path / "p.png", 256).shape[-2:]) == (384, 256)  # ordinary: shorter side


@pytest.mark.parametrize("size", [4, -5, 5000, 2.5, "big"])
def test_a_style_size_out_of_range_is_one_line(decoder, paintings, photo, size):
    with pytest.raises(StylenetError, match=f"style_size={size!r}" if isinstance(size, str) else f"style_size={size}"):
        stylenet.stylize(photo, style_image=paintings[0], network=decoder, style_size=size)


@pytest.mark.parametrize("option,value", [("--style-size", "4"), ("--style-size", "abc"), ("--tile", "-1")])
def test_the_cli_refuses_a_bad_style_size_or_tile_in_one_line(decoder, paintings, photo, capsys, option, value):
    with pytest.raises(SystemExit) as e:
        main(["stylize", str(photo), "--style-image", str(paintings[0]), "--network", str(decoder), option, value])
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"argument {option}: {value}: use" in err and "Traceback" not in err


def test_a_negative_tile_is_refused_not_a_black_image(photo, small_net):
    with pytest.raises(StylenetError, match="tile=-1: use a tile side of at least 16 pixels"):
        stylenet.stylize(photo, small_net, tile=-1)


def test_long_painting_names_make_a_short_output_label_and_a_folder_is_not_an_output_file(tmp_path, capsys):
    import argparse

    from stylenet.cli.common import LABEL_MAX, output_label
    from stylenet.io.files import check_output

    a = argparse.Namespace(style=None)
    one, two = (output_label(a, ([f"{c * 140}.jpg", "b.jpg"], [1.0, 1.0])) for c in "pq")
    assert len(one) == LABEL_MAX and one != two and one.startswith("ppp")
    (tmp_path / "out.jpg").mkdir()
    with pytest.raises(FileExistsError, match="out.jpg: is a folder; give a file name"):
        check_output(tmp_path / "out.jpg", overwrite=True)
    with pytest.raises(FileExistsError, match="not a usable output file name"):
        check_output(tmp_path / f"{'x' * 300}.jpg", overwrite=False)


def test_a_bad_vgg_file_is_one_line_about_the_vgg_not_the_network(decoder, paintings, photo, tmp_path, capsys):
    bad = tmp_path / "notvgg.pth"
    bad.write_text("not a state dict")
    for network in (decoder, "predictor"):
        code, _, err = run(
            capsys, "stylize", photo, "--style-image", paintings[0], "--network", network, "--vgg", bad, "-o", tmp_path
        )
        assert code == 2 and err.count("\n") == 1, err
        assert err.startswith(f"error: could not read VGG weights file {bad}") and "pass a VGG16 state dict" in err


def test_the_cli_writes_the_file_with_one_painting_and_with_a_weighted_mix(decoder, paintings, photo, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, stdout, _ = run(capsys, "stylize", photo, "--style-image", paintings[0], "--network", decoder, "-o", out)
    assert code == 0 and f"wrote {out}" in stdout
    expected = stylenet.stylize(photo, style_image=paintings[0], network=decoder)
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(expected))
    a, b = paintings
    code, _, _ = run(
        capsys, "stylize", photo, "--style-image", f"{a}:0.7", "--style-image", f"{b}:0.3", "--network", decoder
    )
    assert code == 0
    written = photo.with_name("photo_a-b.png")  # default name: the paintings' stems
    mix = stylenet.stylize(photo, style_image=[a, b], style_weights=[0.7, 0.3], network=decoder)
    assert np.array_equal(np.asarray(Image.open(written)), np.asarray(mix))
    assert not np.array_equal(np.asarray(mix), np.asarray(expected))


@pytest.fixture
def bad_painting(tmp_path, request) -> Path:
    path = tmp_path / "painting.jpg"
    kind = request.param
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a painting")
    elif kind == "truncated":
        buf = io.BytesIO()
        random_image(64, 64).save(buf, "JPEG")
        path.write_bytes(buf.getvalue()[:300])
    elif kind == "tiny":
        random_image(8, 8).save(path)
    elif kind == "bomb":
        random_image(100, 100).save(path)
    return path


@pytest.mark.parametrize(
    "bad_painting,problem",
    [
        ("missing", "no such file"),
        ("empty", "empty file"),
        ("text", "not an image file"),
        ("truncated", "corrupt or truncated"),
        ("tiny", "image is 8x8; at least 16x16"),
        ("bomb", "decompression bomb"),
    ],
    indirect=["bad_painting"],
)
def test_a_bad_painting_is_one_line_and_exit_2(decoder, photo, bad_painting, problem, tmp_path, capsys, monkeypatch):
    if problem == "decompression bomb":
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)  # the painting's 10,000 pixels are over it
    code, _, err = run(
        capsys, "stylize", photo, "--style-image", bad_painting, "--network", decoder, "-o", tmp_path / "o.png"
    )
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: style image {bad_painting}: ") and problem in err
    assert not (tmp_path / "o.png").exists()
    with pytest.raises(StylenetError, match=problem):
        stylenet.stylize(torch.rand(3, 32, 32), style_image=bad_painting, network=decoder)


def test_grayscale_cmyk_16_bit_and_transparent_paintings_are_converted(decoder, tmp_path):
    photo = torch.rand(3, 32, 40)
    base = random_image(48, 48, seed=21)

    def styled(p):
        return stylenet.stylize(photo, style_image=p, network=decoder)

    gray = tmp_path / "gray.png"
    base.convert("L").save(gray)
    torch.testing.assert_close(styled(gray), styled(base.convert("L").convert("RGB")))
    cmyk = tmp_path / "cmyk.jpg"
    base.convert("CMYK").save(cmyk)
    torch.testing.assert_close(styled(cmyk), styled(Image.open(cmyk).convert("RGB")))
    deep = tmp_path / "deep.png"
    Image.fromarray(np.asarray(base.convert("L"), np.uint16) * 257).save(deep)  # 16-bit grayscale
    assert Image.open(deep).mode.startswith("I")
    torch.testing.assert_close(styled(deep), styled(gray), atol=1e-5, rtol=0)
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.fromarray(np.tile(np.linspace(0, 255, 48).astype(np.uint8), (48, 1))))
    clear = tmp_path / "clear.png"
    rgba.save(clear)
    on_white = Image.new("RGB", rgba.size, "white")
    on_white.paste(rgba, mask=rgba.split()[3])
    out = styled(clear)
    assert (out - styled(on_white)).abs().max() < 0.02  # composited on white (Pillow rounds to 8 bits)
    assert (out - styled(base)).abs().mean() > 1e-3


# -- video -------------------------------------------------------------------------------------
def test_the_clip_stylizer_with_zero_stability_is_per_frame_and_otherwise_carries_statistics(net):
    torch.manual_seed(1)
    style = net.style_stats(torch.rand(1, 3, 48, 48))
    frames = [(np.random.default_rng(i).random((40, 48, 3)) * 255).astype(np.uint8) for i in range(3)]
    per_frame = arbitrary.PaintingClipStylizer(net, style, stability=0.0)
    stable = arbitrary.PaintingClipStylizer(net, style, stability=0.9)
    for i, f in enumerate(frames):
        x = torch.from_numpy(f).permute(2, 0, 1).unsqueeze(0).float() / 255
        expected = net(x, style)
        torch.testing.assert_close(per_frame._run(x), expected, atol=1e-5, rtol=0)
        y = stable._run(x)
        if i == 0:
            torch.testing.assert_close(y, expected, atol=1e-5, rtol=0)  # the first frame: its own statistics
        else:
            assert (y - expected).abs().mean() > 1e-3


def test_video_with_a_painting_writes_every_frame_and_computes_its_statistics_once(
    decoder, paintings, tmp_path, capsys, monkeypatch
):
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    from test_video import make_clip, probe

    clip = make_clip(tmp_path / "clip.mp4", n=6)
    painting = tmp_path / "video_painting.png"  # pixels no other test uses: nothing cached
    random_image(60, 50, seed=77).save(painting)
    calls = []
    real = AdaINNet.style_stats
    monkeypatch.setattr(AdaINNet, "style_stats", lambda self, x: calls.append(x.shape) or real(self, x))
    out = tmp_path / "out.mp4"
    argv = ["video", clip, "--style-image", f"{painting}:1", "--network", decoder, "-o", out, "-q"]
    code, _, err = run(capsys, *argv, "--stability", 0, "--denoise", 0, "--blend", 0)
    assert code == 0, err
    assert len(calls) == 1  # once for the clip, not per frame
    got, src = probe(out), probe(clip)
    assert got["frames"] == src["frames"] == 6 and got["size"] == src["size"]
    first = torch.from_numpy(src["pixels"][0] / 255).permute(2, 0, 1)
    expected = stylenet.stylize(first, style_image=painting, network=decoder).permute(1, 2, 0).numpy() * 255
    assert np.abs(got["pixels"][0] - expected).mean() < 4  # H.264 at crf 18
    assert np.abs(got["pixels"][0] - src["pixels"][0]).mean() > 10  # stylized, not the clip
    stable = tmp_path / "stable.mp4"
    code, _, err = run(capsys, "video", clip, "--style-image", paintings[1], "--network", decoder, "-o", stable, "-q")
    assert code == 0 and probe(stable)["frames"] == 6


# -- ONNX --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_onnx_export_takes_the_photo_and_the_painting_and_matches_pytorch(net, decoder, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "adain.onnx"
    code, stdout, err = run(capsys, "export", decoder, "--format", "onnx", "-o", out)
    assert code == 0, err
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image", "style", "strength", "preserve_color"]
    painting = torch.rand(1, 3, 41, 53)
    for shape, strength, color in (((1, 3, 37, 45), 1.0, 0.0), ((2, 3, 64, 40), 0.6, 1.0)):
        photo = torch.rand(*shape)
        feed = {
            "image": photo.numpy(),
            "style": painting.numpy(),
            "strength": np.array(strength, np.float32),
            "preserve_color": np.array(color, np.float32),
        }
        got = session.run(None, feed)[0]
        with torch.no_grad():
            expected = Controls.of(strength, bool(color), feature_space=True)(
                net(photo, painting, alpha=strength), photo
            )
        diff = np.abs(got - expected.numpy())  # float reordering, through a steep random decoder
        assert got.shape == shape and diff.max() < 1e-3 and diff.mean() < 1e-5
