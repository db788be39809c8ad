"""The stylenet command: outputs, refusals, exit codes and one-line errors."""

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylenet.cli import main

from conftest import ROOT, random_image

CONTROLS = {"strength": np.array(1.0, np.float32), "preserve_color": np.array(0.0, np.float32)}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def jpeg(path, h=30, w=40, **kw):
    random_image(h, w).save(path, **kw)
    return path


def test_stylize_one_file(tmp_path, capsys, weights_file):
    src = jpeg(tmp_path / "photo.jpg")
    code, out, err = run(capsys, "stylize", src, "--style", weights_file, "-o", tmp_path / "out.png")
    assert code == 0 and err == ""
    assert Image.open(tmp_path / "out.png").size == (40, 30)


def test_default_output_goes_beside_the_input(tmp_path, capsys, weights_file):
    src = jpeg(tmp_path / "photo.jpg")
    assert run(capsys, "stylize", src, "--style", weights_file)[0] == 0
    assert (tmp_path / "photo_tiny.jpg").is_file()


def test_existing_outputs_are_not_overwritten_without_the_flag(tmp_path, capsys, weights_file):
    src = jpeg(tmp_path / "photo.jpg")
    dest = tmp_path / "out.png"
    dest.write_bytes(b"precious")
    code, _, err = run(capsys, "stylize", src, "--style", weights_file, "-o", dest)
    assert code == 2 and "exists; pass --overwrite" in err and dest.read_bytes() == b"precious"
    assert run(capsys, "stylize", src, "--style", weights_file, "-o", dest, "--overwrite")[0] == 0
    assert Image.open(dest).size == (40, 30)


def _bad_inputs(folder, monkeypatch):
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not a picture")
    buf = io.BytesIO()
    random_image(64, 64).save(buf, "JPEG")
    (folder / "truncated.jpg").write_bytes(buf.getvalue()[:200])
    Image.new("RGB", (1, 1)).save(folder / "dot.png")
    random_image(120, 120).save(folder / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6000)  # bomb.png's 14,400 pixels trip Pillow's guard
    return {
        "empty.jpg": "empty file",
        "text.jpg": "not an image file",
        "truncated.jpg": "corrupt or truncated",
        "dot.png": "image is 1x1",
        "bomb.png": "decompression bomb",
    }


def test_a_batch_writes_the_good_files_and_reports_each_bad_one(tmp_path, capsys, weights_file, monkeypatch):
    bad = _bad_inputs(tmp_path / "in", monkeypatch)
    good = [jpeg(tmp_path / "in" / f"good{i}.jpg") for i in range(2)]
    missing = tmp_path / "in" / "missing.jpg"
    out = tmp_path / "out"
    code, _, err = run(
        capsys, "stylize", *good, *[tmp_path / "in" / n for n in bad], missing, "-s", weights_file, "-o", out
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == len(bad) + 1  # one line per bad input, nothing else
    for name, problem in bad.items():
        assert any(name in line and problem in line for line in lines), (name, err)
    assert any("missing.jpg: no such file" in line for line in lines)
    assert sorted(p.name for p in out.iterdir()) == ["good0.jpg", "good1.jpg"]


@pytest.mark.parametrize("name", ["empty.jpg", "text.jpg", "truncated.jpg", "dot.png", "bomb.png"])
def test_each_bad_input_alone_exits_2_and_writes_nothing(tmp_path, capsys, weights_file, monkeypatch, name):
    _bad_inputs(tmp_path / "in", monkeypatch)
    code, out, err = run(capsys, "stylize", tmp_path / "in" / name, "-s", weights_file, "-o", tmp_path / "o.png")
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert not (tmp_path / "o.png").exists()


def test_folders_are_expanded_and_mirrored(tmp_path, capsys, weights_file):
    (tmp_path / "album" / "sub").mkdir(parents=True)
    jpeg(tmp_path / "album" / "a.jpg")
    jpeg(tmp_path / "album" / "sub" / "b.png")
    code, out, _ = run(capsys, "stylize", tmp_path / "album", "-s", weights_file, "-o", tmp_path / "out")
    assert code == 0 and "wrote 2 of 2 images" in out
    assert (tmp_path / "out" / "album" / "a.jpg").is_file() and (tmp_path / "out" / "album" / "sub" / "b.png").is_file()


def test_unknown_style_is_one_line_with_the_available_names(tmp_path, capsys, weights_file):
    run(capsys, "install", weights_file, "--name", "mine")
    code, _, err = run(capsys, "stylize", jpeg(tmp_path / "p.jpg"), "--style", "mosiac")
    assert code == 2 and err.count("\n") == 1
    assert "unknown style 'mosiac'; available:" in err and "mine" in err


def test_installed_style_by_name_and_styles_table(tmp_path, capsys, weights_file):
    code, out, _ = run(capsys, "install", weights_file, "--name", "mine")
    assert code == 0 and "installed mine" in out
    code, out, _ = run(capsys, "styles")
    assert code == 0 and out.splitlines()[0].split()[:2] == ["name", "origin"] and "mine" in out
    assert run(capsys, "stylize", jpeg(tmp_path / "p.jpg"), "--style", "mine")[0] == 0
    code, out, _ = run(capsys, "styles", "--json")
    assert '"mine"' in out


def test_usage_errors_exit_2_and_help_exits_0(capsys):
    with pytest.raises(SystemExit) as e:
        main(["stylize", "x.jpg"])  # no --style
    assert e.value.code == 2
    for cmd in ("stylize", "styles", "install", "export"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
    capsys.readouterr()


def test_internal_errors_exit_1(tmp_path, capsys, weights_file, monkeypatch):
    import importlib

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(importlib.import_module("stylenet.infer.stylize"), "stylize", boom)
    code, _, err = run(capsys, "stylize", jpeg(tmp_path / "p.jpg"), "-s", weights_file)
    assert code == 1 and "internal error" in err


def test_python_dash_m_entry_point():
    r = subprocess.run([sys.executable, "-m", "stylenet", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "stylize" in r.stdout


def test_onnx_export_matches_pytorch_at_any_size(tmp_path, capsys, weights_file):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "models" / f"{Path(weights_file).stem}.onnx"  # -o a folder (new, ending in /): the file goes in it
    code, _, err = run(capsys, "export", weights_file, "--format", "onnx", "-o", f"{tmp_path / 'models'}/")
    assert code == 0 and out.is_file(), err
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    from stylenet import load

    net = load(weights_file)
    for shape in ((1, 3, 64, 64), (2, 3, 37, 53)):  # dynamic batch, height and width, odd sizes too
        x = torch.rand(*shape)
        (y,) = session.run(None, {"image": x.numpy(), **CONTROLS})
        with torch.no_grad():
            ref = net(x).numpy()
        assert y.shape == ref.shape and np.abs(y - ref).max() < 1e-3
    assert run(capsys, "export", weights_file, "-o", out)[0] == 2  # exists
    code, _, err = run(capsys, "export", weights_file, "-o", tmp_path / "models")  # an existing folder: the same file
    assert code == 2 and f"{out}: exists; pass --overwrite" in err


def test_a_real_training_checkpoint_exports_to_weights(tmp_path, capsys, tiny_overrides):
    from stylenet import load
    from stylenet.training.train import train

    from conftest import compose_config

    result = train(compose_config(tiny_overrides))
    code, _, err = run(capsys, "export", result.checkpoint, "--format", "safetensors", "-o", tmp_path / "w.safetensors")
    assert code == 0, err
    exported, trained = load(tmp_path / "w.safetensors"), load(result.weights)
    assert exported.card["steps"] == 4 and exported.card["style"] == "my_style"
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        assert torch.equal(exported(x), trained(x))


def test_mixes_strength_and_colour_on_the_command_line(tmp_path, capsys, multi_file):
    src = jpeg(tmp_path / "photo.png", 32, 40)
    code, _, err = run(capsys, "stylize", src, "--style", multi_file, "-o", tmp_path / "x.png")
    assert code == 2 and "holds 3 styles" in err and len(err.strip().splitlines()) == 1
    outs = {}
    for name, args in {
        "a": ["--style", "a"],
        "mix": ["--style", "a:0.5,c:0.5"],
        "weak": ["--style", "a", "--strength", "0"],
        "color": ["--style", "a", "--preserve-color"],
    }.items():
        dest = tmp_path / f"{name}.png"
        code, _, err = run(capsys, "stylize", src, *args, "--network", multi_file, "-o", dest, "--precision", "fp32")
        assert code == 0, err
        outs[name] = np.asarray(Image.open(dest)).astype(float)
    photo = np.asarray(Image.open(src)).astype(float)
    assert np.abs(outs["weak"] - photo).max() <= 1
    assert np.abs(outs["mix"] - outs["a"]).mean() > 1 and np.abs(outs["color"] - outs["a"]).mean() > 1
    code, _, err = run(capsys, "stylize", src, "--style", "a", "--network", multi_file, "--strength", "2")
    assert code == 2 and "strength=2.0" in err
    # default output names stay file-name safe for a mix
    code, _, err = run(capsys, "stylize", src, "--style", "a:0.5,c:0.5", "--network", multi_file)
    assert code == 0, err
    assert (tmp_path / "photo_a-0.5-c-0.5.png").is_file()


def test_onnx_export_of_a_multi_style_network_takes_style_weights_and_any_batch(tmp_path, capsys, multi_file):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "trio.onnx"
    code, _, err = run(capsys, "export", multi_file, "--format", "onnx", "-o", out)
    assert code == 0, err
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image", "strength", "preserve_color", "style"]
    assert isinstance(session.get_inputs()[0].shape[0], str)  # a named dynamic batch, not the example's fixed 2
    from stylenet import load
    from stylenet.infer.controls import apply_controls

    net, x, w = load(multi_file), torch.rand(2, 3, 40, 36), torch.tensor([0.2, 0.0, 0.8])
    feed = {"image": x.numpy(), "strength": np.array(0.7, np.float32), "preserve_color": np.array(1.0, np.float32)}
    (y,) = session.run(None, {**feed, "style": w.numpy()})
    with torch.no_grad():
        ref = apply_controls(net(x, w), x, 0.7, 1.0).numpy()
    assert np.abs(y - ref).max() < 1e-3
    (y0,) = session.run(None, {**feed, "strength": np.array(0.0, np.float32), "style": w.numpy()})
    assert np.abs(y0 - x.numpy()).max() < 1e-5
    for shape in ((1, 3, 40, 52), (3, 3, 37, 53)):
        x = torch.rand(*shape)
        (y,) = session.run(None, {"image": x.numpy(), "style": w.numpy(), **CONTROLS})
        with torch.no_grad():
            ref = net(x, w).numpy()
        assert y.shape == ref.shape and np.abs(y - ref).max() < 1e-3


def test_a_folder_without_output_goes_to_a_sibling_folder_so_reruns_do_not_restylize(tmp_path, capsys, weights_file):
    (tmp_path / "album").mkdir()
    jpeg(tmp_path / "album" / "a.jpg")
    random_image(30, 40).save(tmp_path / "album" / "anim.gif", save_all=True, append_images=[random_image(30, 40, 1)])
    code, out, _ = run(capsys, "stylize", tmp_path / "album", "-s", weights_file)
    assert code == 0 and "wrote 2 of 2 images" in out  # the GIF too, as in single-file input
    assert sorted(p.name for p in (tmp_path / "album_tiny").iterdir()) == ["a.jpg", "anim.png"]
    assert sorted(p.name for p in (tmp_path / "album").iterdir()) == ["a.jpg", "anim.gif"]
    code, _, err = run(capsys, "stylize", tmp_path / "album", "-s", weights_file)  # again: refuses, adds nothing
    assert code == 2 and err.count("exists; pass --overwrite") == 2
    assert sorted(p.name for p in (tmp_path / "album_tiny").iterdir()) == ["a.jpg", "anim.png"]


def test_an_empty_folder_is_one_error_line(tmp_path, capsys, weights_file):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "stylize", tmp_path / "empty", "-s", weights_file)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no images" in err


def test_an_empty_folder_beside_a_photo_is_reported_the_photo_written_and_exit_2(tmp_path, capsys, weights_file):
    (tmp_path / "empty").mkdir()
    src = jpeg(tmp_path / "photo.jpg")
    code, _, err = run(capsys, "stylize", tmp_path / "empty", src, "-s", weights_file)
    assert code == 2 and err.strip() == f"error: {tmp_path / 'empty'}: folder holds no images"
    assert (tmp_path / "photo_tiny.jpg").is_file()


def test_version(capsys):
    import stylenet

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"stylenet {stylenet.__version__}"


def test_the_version_is_written_once():
    import re

    import stylenet

    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and not re.search(r'^version\s*=\s*"', text, re.M)
    assert 'attr = "stylenet.__version__"' in text and re.fullmatch(r"\d+\.\d+\.\d+", stylenet.__version__)


def test_onnx_export_of_the_compact_network_matches_pytorch(tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    from stylenet import TransformerNet, load
    from stylenet.io.weights import save_weights

    torch.manual_seed(0)
    compact = save_weights(TransformerNet(width=8, blocks=2, depthwise=True, edge_kernel=5), tmp_path / "c.safetensors")
    code, _, err = run(capsys, "export", compact, "-o", tmp_path / "c.onnx")
    assert code == 0, err
    session = ort.InferenceSession(str(tmp_path / "c.onnx"), providers=["CPUExecutionProvider"])
    x = torch.rand(2, 3, 45, 38)
    (y,) = session.run(None, {"image": x.numpy(), **CONTROLS})
    with torch.no_grad():
        assert np.abs(y - load(compact)(x).numpy()).max() < 1e-3


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_train_help_is_hydras_help_with_the_config_groups(capsys, flag):
    pytest.importorskip("hydra")
    code, out, err = run(capsys, "train", flag)
    assert code == 0, err
    assert out.startswith("stylenet train: train a style network") and "== Configuration groups ==" in out
    assert "style: " in out and "trainer: " in out
    assert "unrecognized arguments" not in err


def test_styles_shows_a_fine_tunes_steps_with_what_came_before(tmp_path, capsys, small_net):
    from stylenet.io.weights import save_weights

    cards = {
        "scratch": {"style": "scratch", "steps": 2000},
        "chained": {
            "style": "chained",
            "steps": 600,
            "total_steps": 29200,
            "recipe": {"init_weights": "x.safetensors"},
        },
        "tuned": {"style": "tuned", "steps": 600, "recipe": {"init_weights": "wip/run4.safetensors (run 4, SHA ...)"}},
    }
    for name, card in cards.items():
        run(capsys, "install", save_weights(small_net, tmp_path / f"{name}.safetensors", card))
    code, out, _ = run(capsys, "styles")
    steps = {line.split()[0]: line.split("  ")[-1].strip() for line in out.splitlines()[1:]}
    assert code == 0 and steps["scratch"] == "2000" and steps["chained"] == "29200 (600 in the last run)"
    assert steps["tuned"] == "600 (fine-tune of run4)"
    # the shipped classic rows: 600 steps fine-tuned from a 256 px chain whose total the card leaves out
    assert steps["mosaic"] == "600 (fine-tune of classic256_run4)"


# -- stylize's size, tiling and precision options; export of a mix; install --overwrite; evaluate --per-image
def _png(path, h, w, seed=0):
    random_image(h, w, seed=seed).save(path)  # lossless: the values written are the values read
    return path


def test_stylize_max_side_scales_the_longer_side_down(tmp_path, capsys, weights_file):
    src = _png(tmp_path / "wide.png", 48, 96)
    code, _, err = run(capsys, "stylize", src, "--style", weights_file, "--max-side", 48, "-o", tmp_path / "o.png")
    assert code == 0, err
    assert Image.open(tmp_path / "o.png").size == (48, 24)
    code, _, err = run(capsys, "stylize", src, "--style", weights_file, "--max-side", 200, "-o", tmp_path / "p.png")
    assert code == 0 and Image.open(tmp_path / "p.png").size == (96, 48)  # never scaled up


def test_stylize_tile_tiles_and_gives_the_untiled_output(tmp_path, capsys, weights_file, monkeypatch):
    import importlib

    api = importlib.import_module("stylenet.infer.stylize")  # the module (stylenet.stylize is the function)
    tiles = []
    real = api.stylize_tiled
    monkeypatch.setattr(
        api, "stylize_tiled", lambda net, x, run_, tile, *a: tiles.append(tile) or real(net, x, run_, tile, *a)
    )
    src = _png(tmp_path / "photo.png", 80, 100)
    outs = {}
    for name, extra in {"whole": [], "tiled": ["--tile", 32]}.items():
        dest = tmp_path / f"{name}.png"
        code, _, err = run(capsys, "stylize", src, "--style", weights_file, "--precision", "fp32", "-o", dest, *extra)
        assert code == 0, err
        outs[name] = np.asarray(Image.open(dest)).astype(int)
    assert tiles == [32]  # the tiled run did tile, at the side asked for; the other did not
    assert outs["tiled"].shape == outs["whole"].shape == (80, 100, 3)
    assert np.abs(outs["tiled"] - outs["whole"]).max() <= 1  # the same function, up to 8-bit rounding


def test_stylize_precision_fp32_is_the_python_api_s_output_and_bf16_differs(tmp_path, capsys, weights_file):
    import stylenet

    src = _png(tmp_path / "photo.png", 64, 80)
    outs = {}
    for precision in ("fp32", "bf16"):
        dest = tmp_path / f"{precision}.png"
        code, _, err = run(capsys, "stylize", src, "--style", weights_file, "--precision", precision, "-o", dest)
        assert code == 0 and "Traceback" not in err, err
        outs[precision] = np.asarray(Image.open(dest)).astype(int)
    api = np.asarray(stylenet.stylize(src, weights_file, precision="fp32")).astype(int)
    assert np.array_equal(outs["fp32"], api)
    diff = np.abs(outs["bf16"] - outs["fp32"])
    assert diff.mean() > 0.05 and diff.mean() < 3  # bf16 rounding: differs, but slightly


def test_export_of_a_mix_is_the_one_style_network_of_that_mix(tmp_path, capsys, multi_file):
    ort = pytest.importorskip("onnxruntime")
    from stylenet import load
    from stylenet.styles.mix import select

    out = tmp_path / "mix.onnx"
    code, _, err = run(capsys, "export", "a:0.25,c:0.75", "--network", multi_file, "-o", out)
    assert code == 0, err
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image", "strength", "preserve_color"]  # one style: no weights
    multi, x = load(multi_file), torch.rand(1, 3, 40, 52)
    (y,) = session.run(None, {"image": x.numpy(), **CONTROLS})
    with torch.no_grad():
        ref = select(multi, {"a": 0.25, "c": 0.75})(x).numpy()
        a, c = multi(x, 0).numpy(), multi(x, 2).numpy()
    assert np.abs(y - ref).max() < 1e-4
    assert np.abs(y - a).max() > 0.01 and np.abs(y - c).max() > 0.01  # not one of its styles alone


def test_install_refuses_to_replace_a_style_without_overwrite_and_replaces_it_with(tmp_path, capsys, small_net):
    import json

    import stylenet
    from stylenet.io.download import sha256_file
    from stylenet.io.weights import save_weights
    from stylenet.styles.registry import cache_dir

    first = save_weights(small_net, tmp_path / "v1.safetensors", {"style": "mine", "steps": 1})
    other = stylenet.TransformerNet(width=8, blocks=1).eval()  # other weights, the same name
    second = save_weights(other, tmp_path / "v2.safetensors", {"style": "mine", "steps": 2})
    assert run(capsys, "install", first)[0] == 0
    code, _, err = run(capsys, "install", second)
    assert code != 0 and "already installed" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    index = json.loads((cache_dir() / "mine.json").read_text())
    assert index["sha256"] == sha256_file(first) and stylenet.load("mine").card["steps"] == 1  # untouched
    code, out, err = run(capsys, "install", second, "--overwrite")
    assert code == 0 and "installed mine" in out, err
    index = json.loads((cache_dir() / "mine.json").read_text())
    assert index["sha256"] == sha256_file(second) == sha256_file(cache_dir() / "mine.safetensors")
    assert index["card"]["steps"] == 2 and stylenet.available_styles()["mine"].sha256 == sha256_file(second)
    loaded = stylenet.load("mine")
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_evaluate_per_image_prints_each_photo_s_row_with_the_json_report_s_values(
    tmp_path, capsys, photo_dir, style_image, weights_file
):
    import json

    report = tmp_path / "r.json"
    args = ["evaluate", "--style", weights_file, "--photos", photo_dir, "--style-image", style_image, "--size", 32]
    args += ["--vgg", "random", "--precision", "fp32", "--json", report, "--per-image", "-q"]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    results = json.loads(report.read_text())["results"]
    assert list(results) == ["photo (unstylized)", "tiny"]
    rows = [line.split() for line in out.splitlines() if line.startswith("  ")]
    expected = [
        [*label.split(), image["photo"], *(f"{k}={image[k]:.4g}" for k in image if k != "photo")]
        for label, r in results.items()
        for image in r["images"]
    ]
    assert len(expected) == 2 * 12  # every photo, for the photo row and the network
    assert rows == expected  # the same figures as the report's, seconds included
