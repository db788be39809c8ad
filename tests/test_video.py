"""Video: clips in and out with PyAV, timing and sound kept, stability across frames, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from stylenet.cli import main  # noqa: E402
from stylenet.errors import StylenetError  # noqa: E402
from stylenet.video.io import TruncatedVideoError, frame_to_rgb  # noqa: E402
from stylenet.video.metric import WarpingError, warping_error  # noqa: E402
from stylenet.video.stabilize import ema_norms, reset_norms  # noqa: E402
from stylenet.video.stylize import stylize_video  # noqa: E402

from conftest import ROOT, SHARED, load_script, random_image  # noqa: E402

BUNNY = SHARED / "data" / "video" / "bigbuckbunny.mp4"


def make_clip(
    path: Path,
    w: int = 64,
    h: int = 48,
    n: int = 10,
    fps: int = 10,
    audio: bool = False,
    rotation: int | None = None,
    blink: bool = False,
    noise: float = 0.0,
    options: dict | None = None,
) -> Path:
    """A smooth texture panning by 2 px a frame (or, still, blinking a light in one corner, or with
    ``noise``: grain of that standard deviation), H.264; optionally a 440 Hz AAC tone as long as the video."""
    from PIL import ImageFilter

    big = np.asarray(random_image(h + 4, w + 2 * n).filter(ImageFilter.GaussianBlur(1)))
    with av.open(str(path), "w", options=options) as c:
        still = blink or noise
        v = c.add_stream("libx264", rate=fps, options={"crf": "0" if still else "18"})
        v.width, v.height, v.pix_fmt = w, h, "yuv444p" if still else "yuv420p"
        if rotation is not None:
            v.set_display_rotation(rotation)
        a = c.add_stream("aac", rate=8000) if audio else None
        if a is not None:
            a.layout = "mono"
        for i in range(n):
            img = np.ascontiguousarray(big[2 : 2 + h, 2 * i : 2 * i + w]) if not still else big[:h, :w].copy()
            if blink and i % 2:
                img[4:20, 4:20] = 255
            if noise:
                grain = np.random.default_rng(i).normal(0, 255 * noise, img.shape)
                img = np.clip(img + grain, 0, 255).astype(np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        if a is not None:
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(8000 * n // fps) / 8000)).astype(np.float32)[None]
            for k in range(0, tone.shape[1], 1024):
                f = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone[:, k : k + 1024]), format="fltp", layout="mono"
                )
                f.sample_rate, f.pts = 8000, k
                for p in a.encode(f):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
        for p in v.encode():
            c.mux(p)
    return path


def probe(path: Path) -> dict:
    """What a player sees: frame count, duration, size, rotation, audio."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        last = frames[-1]
        duration = float((last.pts + last.duration) * last.time_base - frames[0].pts * frames[0].time_base)
        info = {
            "frames": len(frames),
            "duration": duration,
            "size": (frames[0].width, frames[0].height),
            "rotation": frames[0].rotation,
            "audio": [s.codec_context.name for s in c.streams.audio],
            "pixels": np.stack([frame_to_rgb(f) for f in frames]).astype(np.float32),
        }
    if info["audio"]:
        with av.open(str(path)) as c:
            info["audio_samples"] = sum(f.samples for f in c.decode(audio=0))
            info["audio_packets"] = [bytes(p) for p in c.demux(audio=0) if p.size]
    return info


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def clip(tmp_path) -> Path:
    return make_clip(tmp_path / "clip.mp4")


# -- clips in, clips out -----------------------------------------------------------------------
def test_roundtrip_keeps_frame_count_duration_and_size(tmp_path, clip, small_net):
    r = stylize_video(clip, tmp_path / "out.mp4", small_net, progress=False)
    src, out = probe(clip), probe(tmp_path / "out.mp4")
    assert r.frames == r.expected == out["frames"] == src["frames"] == 10
    assert abs(out["duration"] - src["duration"]) < 1 / 10 and abs(out["duration"] - 1.0) < 1e-6
    assert out["size"] == (64, 48) and not out["audio"]
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert c.streams.video[0].average_rate == 10 and c.streams.video[0].codec_context.name == "h264"


def test_audio_is_copied_packet_for_packet(tmp_path, small_net):
    src = make_clip(tmp_path / "talk.mp4", audio=True)
    r = stylize_video(src, tmp_path / "out.mp4", small_net, progress=False)
    a, b = probe(src), probe(tmp_path / "out.mp4")
    assert r.audio and b["audio"] == ["aac"] and b["audio_samples"] == a["audio_samples"] > 0
    assert b["audio_packets"] == a["audio_packets"]  # the same bytes: copied, not re-encoded
    assert b["frames"] == 10 and abs(b["duration"] - a["duration"]) < 1 / 10


def test_gif_in_and_out_keeps_delays_and_loop(tmp_path, small_net):
    from PIL import Image

    frames = [random_image(30, 40, seed=i) for i in range(4)]
    frames[0].save(tmp_path / "in.gif", save_all=True, append_images=frames[1:], duration=[70, 70, 200, 50], loop=3)
    stylize_video(tmp_path / "in.gif", tmp_path / "out.gif", small_net, progress=False)
    with Image.open(tmp_path / "out.gif") as im:
        assert im.size == (40, 30) and im.n_frames == 4 and im.info["loop"] == 3
        delays = []
        for k in range(4):
            im.seek(k)
            delays.append(im.info["duration"])
    assert delays == [70, 70, 200, 50]


def test_a_video_can_become_a_gif(tmp_path, clip, small_net):
    stylize_video(clip, tmp_path / "out.gif", small_net, progress=False)
    out = probe(tmp_path / "out.gif")
    assert out["frames"] == 10 and out["size"] == (64, 48) and abs(out["duration"] - 1.0) < 0.02


def test_max_side_and_odd_sizes(tmp_path, small_net):
    big = make_clip(tmp_path / "big.mp4", w=96, h=64, n=4)
    stylize_video(big, tmp_path / "small.mp4", small_net, max_side=48, progress=False)
    assert probe(tmp_path / "small.mp4")["size"] == (48, 32)
    stylize_video(big, tmp_path / "odd.mp4", small_net, max_side=41, progress=False)  # 41x27: yuv420p needs even
    assert probe(tmp_path / "odd.mp4")["size"] == (40, 26)
    stylize_video(big, tmp_path / "odd.gif", small_net, max_side=41, progress=False)  # a GIF keeps odd sides
    assert probe(tmp_path / "odd.gif")["size"] == (41, 27)


def test_rotation_is_kept_or_applied(tmp_path, small_net):
    src = make_clip(tmp_path / "phone.mp4", rotation=90, n=3)
    assert probe(src)["rotation"] == 90
    stylize_video(src, tmp_path / "out.mov", small_net, progress=False)
    out = probe(tmp_path / "out.mov")
    assert out["rotation"] == 90 and out["size"] == (64, 48)  # kept as metadata: players rotate it
    stylize_video(src, tmp_path / "out.gif", small_net, progress=False)
    assert probe(tmp_path / "out.gif")["size"] == (48, 64)  # a GIF has no such metadata: the pixels turn


# -- style options reach the frames --------------------------------------------------------------
def test_strength_zero_gives_the_clip_back(tmp_path, clip, small_net):
    stylize_video(clip, tmp_path / "out.mp4", small_net, strength=0.0, progress=False)
    diff = np.abs(probe(tmp_path / "out.mp4")["pixels"] - probe(clip)["pixels"]).mean()
    assert diff < 3  # in 1/255: only the second H.264 encoding's loss


def test_mix_and_preserve_color_reach_the_frames(tmp_path, multi_file):
    from stylenet.infer.controls import rgb_to_yiq

    clip = make_clip(tmp_path / "short.mp4", n=3)

    def frames(name, **kw):
        stylize_video(clip, tmp_path / name, kw.pop("style"), network=multi_file, progress=False, **kw)
        return probe(tmp_path / name)["pixels"]

    a, b, mix = frames("a.mp4", style="a"), frames("b.mp4", style="b"), frames("ab.mp4", style="a:0.5,b:0.5")
    assert np.abs(a - b).mean() > 10 and np.abs(mix - a).mean() > 3 and np.abs(mix - b).mean() > 3

    def chroma(x):
        return rgb_to_yiq(torch.from_numpy(x / 255).permute(0, 3, 1, 2))[:, 1:]

    photo = chroma(probe(clip)["pixels"])
    kept = chroma(frames("pc.mp4", style="a", preserve_color=True))
    assert (kept - photo).abs().mean() < 0.5 * (chroma(a) - photo).abs().mean()


def test_the_shipped_style_by_name_and_the_cli(tmp_path, capsys):
    clip = make_clip(tmp_path / "short.mp4", n=3)
    code, out, err = run(capsys, "video", clip, "--style", "mosaic:0.7,udnie:0.3", "-o", tmp_path / "o.mp4", "-q")
    assert code == 0 and out == "" and err == ""
    assert probe(tmp_path / "o.mp4")["frames"] == 3


def test_default_output_goes_beside_the_input(tmp_path, capsys, clip, weights_file):
    code, out, _ = run(capsys, "video", clip, "--style", weights_file)
    assert code == 0 and (tmp_path / "clip_tiny.mp4").is_file() and "10 frames" in out


# -- stability -------------------------------------------------------------------------------------
def test_ema_norms_at_zero_are_the_network_and_carry_statistics_otherwise(small_net):
    from stylenet.infer.runner import Runner

    x = [torch.rand(1, 3, 24, 32) for _ in range(3)]
    runner = Runner("cpu", "fp32")
    plain = [runner(small_net, f) for f in x]
    zero = ema_norms(small_net, 0.0)
    assert all(torch.allclose(runner(zero, f), p, atol=1e-5) for f, p in zip(x, plain))
    held = ema_norms(small_net, 0.9)
    first = runner(held, x[0])
    assert torch.allclose(first, plain[0], atol=1e-5)  # the first frame uses its own statistics
    assert not torch.allclose(runner(held, x[1]), plain[1], atol=1e-3)  # later ones lean on earlier frames
    reset_norms(runner.fast(held))
    assert torch.allclose(runner(held, x[0]), first, atol=1e-6)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_ema_norms_work_on_a_multi_style_selection_and_in_bf16(precision):
    from stylenet.infer.runner import Runner

    from conftest import make_multi_net

    net = make_multi_net().single(torch.tensor([0.3, 0.7, 0.0]))
    runner = Runner("cpu", precision)
    x = torch.rand(1, 3, 24, 32)
    y = runner(ema_norms(net, 0.5), x)
    err = (runner(net, x) - y).abs()  # one frame: the plain network
    assert y.shape == x.shape
    if precision == "fp32":  # the same function: measured max 6e-7
        assert err.max() < 1e-5
    else:  # float32 statistics against the plain bf16 network's bf16 ones: measured max 0.018, mean 0.0025
        assert err.max() < 0.04 and err.mean() < 0.006


def test_stability_keeps_the_background_still_when_a_light_blinks(tmp_path, small_net):
    src = make_clip(tmp_path / "blink.mp4", blink=True)

    def background_change(stability):
        out = tmp_path / f"s{stability}.mkv"
        stylize_video(src, out, small_net, stability=stability, denoise=0, blend=0, progress=False)
        f = probe(out)["pixels"][2:, 30:, 30:]  # far from the light
        return np.abs(np.diff(f, axis=0)).mean()

    assert background_change(0.9) < 0.3 * background_change(0.0)


def test_a_cut_restarts_the_norm_statistics(small_net):
    from stylenet.infer.runner import Runner
    from stylenet.video.stabilize import ClipStylizer

    a = np.asarray(random_image(48, 64, seed=0))
    b = np.ascontiguousarray(255 - np.asarray(random_image(64, 48, seed=5)).transpose(1, 0, 2))  # another shot
    runner = Runner("cpu", "fp32")
    fresh = runner(small_net, torch.from_numpy(b).permute(2, 0, 1)[None].float() / 255)
    for denoise in (0.0, 0.8):
        stylizer = ClipStylizer(small_net, runner, stability=0.9, denoise=denoise)
        out = [stylizer(f) for f in (a, a, a, b)][-1]
        assert (out - fresh).abs().mean() < 0.01  # the new shot's own statistics, nothing blended in
    lagging = ClipStylizer(small_net, runner, stability=0.9)
    lagging.smoothing = None  # no flow, no cut detection: the statistics of the old shot linger
    assert ([lagging(f) for f in (a, a, a, b)][-1] - fresh).abs().mean() > 0.02


def test_denoise_keeps_a_grainy_still_shot_still(tmp_path, small_net):
    src = make_clip(tmp_path / "grain.mp4", noise=0.05)

    def change(denoise):
        stylize_video(src, tmp_path / f"d{denoise}.mkv", small_net, denoise=denoise, blend=0, progress=False)
        return np.abs(np.diff(probe(tmp_path / f"d{denoise}.mkv")["pixels"][3:], axis=0)).mean()

    assert change(0.8) < 0.6 * change(0.0)


def test_blend_lowers_the_warping_error(tmp_path, clip, small_net):
    def error(blend):
        stylize_video(clip, tmp_path / f"b{blend}.mkv", small_net, stability=0, denoise=0, blend=blend, progress=False)
        frames = probe(tmp_path / f"b{blend}.mkv")["pixels"].astype(np.uint8)
        return warping_error(list(frames), inputs)

    inputs = list(probe(clip)["pixels"].astype(np.uint8))

    assert error(0.5) < 0.8 * error(0.0)


# -- the measurement -------------------------------------------------------------------------------
def test_warping_error_is_near_zero_for_a_pure_shift_and_large_for_flicker():
    from PIL import ImageFilter

    big = np.asarray(random_image(80, 140).filter(ImageFilter.GaussianBlur(2)))
    shifted = [np.ascontiguousarray(big[10:70, 3 * i : 3 * i + 100]) for i in range(5)]
    assert warping_error(shifted) < 2e-4
    flicker = [np.clip(shifted[0].astype(int) + (25 if i % 2 else -25), 0, 255).astype(np.uint8) for i in range(5)]
    assert warping_error(flicker, [shifted[0]] * 5) > 0.015
    assert warping_error([shifted[0]] * 5) == 0.0
    acc = WarpingError()  # the flow follows the input, not the output
    for i in range(5):
        acc.add(shifted[i], {"still": shifted[0]})
    assert acc.means()["still"] > 10 * acc.means()["input"]
    other = np.ascontiguousarray(255 - np.asarray(random_image(100, 60, seed=5)).transpose(1, 0, 2))
    acc = WarpingError()  # a cut: two shots, no motion to follow; that pair is left out
    for f in (shifted[0], shifted[1], other, other):
        acc.add(f, {})
    assert (acc.pairs, acc.cuts) == (2, 1) and acc.means()["input"] < 2e-4


@pytest.mark.parametrize("flow", ["dis", "farneback"])
def test_either_flow_follows_a_shift_and_sees_flicker(flow):
    from PIL import ImageFilter

    big = np.asarray(random_image(80, 140, seed=2).filter(ImageFilter.GaussianBlur(2)))
    shifted = [np.ascontiguousarray(big[10:70, 2 * i : 2 * i + 100]) for i in range(4)]
    flicker = [np.clip(s.astype(int) + (25 if i % 2 else -25), 0, 255).astype(np.uint8) for i, s in enumerate(shifted)]
    assert warping_error(shifted, flow=flow) < 3e-4
    assert warping_error(flicker, shifted, flow=flow) > 0.01
    other = np.ascontiguousarray(255 - np.asarray(random_image(100, 60, seed=5)).transpose(1, 0, 2))
    acc = WarpingError(flow)  # a cut is found (and left out) whichever flow measures
    for f in (shifted[0], shifted[1], other, other):
        acc.add(f, {})
    assert (acc.pairs, acc.cuts) == (2, 1)


def test_an_unknown_flow_is_a_clear_error():
    with pytest.raises(StylenetError, match="unknown optical flow 'raft'"):
        warping_error([np.zeros((32, 32, 3), np.uint8)] * 2, flow="raft")


def test_evaluate_video_prints_the_three_rows(tmp_path, capsys, clip, weights_file, style_image):
    code, out, err = run(
        capsys, "evaluate", "--video", clip, "--style", weights_file, "--style-image", style_image,
        "--vgg", "random", "--stability", "0.8", "--max-frames", "5", "-q",
    )  # fmt: skip
    assert code == 0, err
    rows = [line.split()[0] for line in out.splitlines()[2:5]]
    assert rows == ["input", "per-frame", "stable"] and "(5 frames, 4 pairs;" in out and "dis optical flow" in out


# -- errors ------------------------------------------------------------------------------------------
def one_error(capsys, *argv) -> str:
    code, _, err = run(capsys, "video", *argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_missing_and_non_video_files(tmp_path, capsys, weights_file):
    assert "no such file" in one_error(capsys, tmp_path / "nope.mp4", "-s", weights_file)
    (tmp_path / "notes.mp4").write_text("this is not a video")
    assert "not a video file" in one_error(capsys, tmp_path / "notes.mp4", "-s", weights_file)
    random_image(32, 32).save(tmp_path / "photo.png")
    assert "still image" in one_error(capsys, tmp_path / "photo.png", "-s", weights_file)
    assert not list(tmp_path.glob("*_tiny*"))


def test_a_truncated_clip_keeps_what_decoded_and_says_what_was_lost(tmp_path, capsys, weights_file):
    src = make_clip(tmp_path / "long.mp4", n=20, options={"movflags": "faststart"})  # index first: cut, it still opens
    with av.open(str(src)) as c:
        at = [p.pos for p in c.demux(video=0) if p.size][12]  # cut the file inside the 13th frame
    (tmp_path / "cut.mp4").write_bytes(src.read_bytes()[: at + 5])
    line = one_error(capsys, tmp_path / "cut.mp4", "-s", weights_file, "-o", tmp_path / "out.mp4")
    written = probe(tmp_path / "out.mp4")["frames"]
    assert 0 < written < 20 and f"{20 - written} of 20 frames" in line and "truncated" in line
    with pytest.raises(TruncatedVideoError) as e:
        stylize_video(tmp_path / "cut.mp4", tmp_path / "py.mp4", weights_file, progress=False)
    assert e.value.result.frames == written and (tmp_path / "py.mp4").is_file()


def test_an_undecodable_codec(tmp_path, capsys, weights_file):
    path = tmp_path / "avs2.ts"
    with av.open(str(path), "w", format="mpegts") as c:  # AVS2: muxable, no decoder in PyAV's FFmpeg
        s = c.add_mux_stream("avs2", rate=10)
        s.width, s.height, s.time_base = 64, 48, Fraction(1, 10)
        for i in range(3):
            p = av.Packet(b"\x00\x00\x01" + bytes(200))
            p.stream, p.pts, p.dts, p.time_base = s, i, i, Fraction(1, 10)
            c.mux(p)
    assert "cannot be decoded" in one_error(capsys, path, "-s", weights_file)


def test_audio_the_output_cannot_hold_is_refused_not_re_encoded(tmp_path, capsys, weights_file):
    src = tmp_path / "old.avi"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("pcm_mulaw", rate=8000)
        a.layout = "mono"
        for _ in range(3):
            for p in v.encode(av.VideoFrame.from_ndarray(np.asarray(random_image(48, 64)), format="rgb24")):
                c.mux(p)
        f = av.AudioFrame.from_ndarray(np.zeros((1, 2400), np.int16), format="s16", layout="mono")
        f.sample_rate, f.pts = 8000, 0
        c.mux(a.encode(f) + a.encode() + v.encode())
    assert "cannot hold pcm_mulaw audio" in one_error(capsys, src, "-s", weights_file)  # default: old_tiny.mp4
    assert not list(tmp_path.glob("old_tiny*")) and not list(tmp_path.glob(".old*"))
    assert run(capsys, "video", src, "-s", weights_file, "-o", tmp_path / "o.mov", "-q")[0] == 0
    assert probe(tmp_path / "o.mov")["audio"] == ["pcm_mulaw"]


def test_an_existing_output_is_left_alone(tmp_path, capsys, clip, weights_file):
    dest = tmp_path / "out.mp4"
    dest.write_bytes(b"precious")
    assert "exists; pass --overwrite" in one_error(capsys, clip, "-s", weights_file, "-o", dest)
    assert dest.read_bytes() == b"precious"
    assert run(capsys, "video", clip, "-s", weights_file, "-o", dest, "--overwrite", "-q")[0] == 0
    assert probe(dest)["frames"] == 10
    assert "unsupported output type" in one_error(capsys, clip, "-s", weights_file, "-o", tmp_path / "out.avi")
    assert "stability=1.0" in one_error(capsys, clip, "-s", weights_file, "-o", tmp_path / "x.mp4", "--stability", "1")


def test_ctrl_c_leaves_no_file_behind(tmp_path, capsys, clip, weights_file, monkeypatch):
    import stylenet.video.stylize as video

    calls = []
    real = video._stylize_frame

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(video, "_stylize_frame", interrupted)
    code, _, err = run(capsys, "video", clip, "-s", weights_file, "-o", tmp_path / "out" / "o.mp4")
    assert code == 130 and "interrupted" in err
    assert list((tmp_path / "out").iterdir()) == []  # neither the output nor its temporary file


def test_importing_stylenet_does_not_import_pyav_and_a_missing_pyav_is_one_line(tmp_path, clip, small_net):
    code = "import sys, stylenet, stylenet.cli; stylenet.cli.build_parser(); print('av' in sys.modules, 'cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.split() == ["False", "False"]
    blocked = "import sys; sys.modules['av'] = None; from stylenet.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run(
        [sys.executable, "-c", blocked, "video", str(clip), "-s", "mosaic", "-o", str(tmp_path / "o.mp4")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert (
        r.returncode == 2 and r.stderr.strip() == "error: video needs the [video] extra: pip install 'stylenet[video]'"
    )


def test_the_frame_strip_shows_input_frames_above_the_same_frames_stylized(tmp_path, clip, small_net, capsys):
    from PIL import Image

    strip = load_script("video_strip")
    stylize_video(clip, tmp_path / "out.mp4", small_net, progress=False)
    assert strip.main([str(clip), str(tmp_path / "out.mp4"), "-o", str(tmp_path / "s.png"), "--height", "48"]) == 0
    assert "frames 0, 3, 6, 9" in capsys.readouterr().out
    sheet = np.asarray(Image.open(tmp_path / "s.png").convert("RGB")).astype(int)
    assert sheet.shape == (2 * 48 + 4, 4 * 64 + 3 * 4, 3)
    first_in, first_out = sheet[:48, :64], sheet[52:, :64]
    assert np.abs(first_in - probe(clip)["pixels"][0]).mean() < 3  # the clip's own first frame on top
    assert np.abs(first_out - first_in).mean() > 10  # its stylization below
    with pytest.raises(SystemExit):  # no overwrite without asking
        strip.main([str(clip), str(tmp_path / "out.mp4"), "-o", str(tmp_path / "s.png")])
    assert "exists" in capsys.readouterr().err


# -- the real clip --------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.skipif(not BUNNY.is_file(), reason="../shared/data/video is absent")
def test_big_buck_bunny_keeps_frames_duration_and_sound(tmp_path):
    r = stylize_video(BUNNY, tmp_path / "bunny.mp4", "starry_night", max_side=160, progress=False)
    src, out = probe(BUNNY), probe(tmp_path / "bunny.mp4")
    assert r.frames == out["frames"] == src["frames"] == 132
    assert abs(out["duration"] - src["duration"]) < 1 / 25 and out["size"] == (160, 90)
    assert out["audio"] == ["aac"] and out["audio_samples"] == src["audio_samples"]


@pytest.mark.slow
def test_bench_video_prints_every_path_for_both_networks(capsys):
    assert main(["bench", "video", "--sizes", "32x24", "--rounds", "1", "--no-rss"]) == 0
    out = capsys.readouterr().out
    for model in ("johnson", "compact"):
        rows = [line for line in out.splitlines() if line.startswith(model)]
        assert len(rows) == 4 and "eager fp32 (baseline)" in rows[0] and "1.00x" in rows[0]
        assert "(default)" in rows[-1]


def test_a_frame_dropped_for_a_repeated_timestamp_is_not_counted_as_written(tmp_path, clip, small_net, monkeypatch):
    import stylenet.video.stylize as video

    real, calls = video._frame_times, []

    def repeating(frame, stream, index, rate):  # the fifth frame repeats the fourth's timestamp
        calls.append(real(frame, stream, index, rate))
        return calls[-2] if len(calls) == 5 else calls[-1]

    monkeypatch.setattr(video, "_frame_times", repeating)
    r = stylize_video(clip, tmp_path / "out.mp4", small_net, progress=False)  # decoded 10 of 10: not truncated
    assert r.frames == probe(tmp_path / "out.mp4")["frames"] == 9 and r.expected == 10
