"""Gatys optimization and the evaluate command on tiny inputs with a random VGG."""

import json
import time

import numpy as np
import pytest
import torch
from PIL import Image

from stylenet.cli import main
from stylenet.errors import StylenetError
from stylenet.io.progress import LOG_INTERVAL
from stylenet.loss.perceptual import DEFAULT_STYLE_LAYERS, build_perceptual_loss, loss_config
from stylenet.quality.evaluate import evaluate, psnr, select_photos, ssim
from stylenet.quality.optimize import optimize

from conftest import random_image

RANDOM = loss_config("random", style_layers=["relu1_2", "relu2_2"])


def test_optimization_lowers_the_style_loss_and_keeps_size_and_kind(style_image):
    content = random_image(40, 48, seed=3)
    criterion = build_perceptual_loss(RANDOM)
    history = []
    out = optimize(
        content,
        style_image,
        steps=15,
        size=None,
        loss=criterion,
        progress=False,
        callback=lambda step, losses: history.append(losses),
    )
    assert isinstance(out, Image.Image) and out.size == (48, 40)
    assert history[-1]["style"] < 0.5 * history[0]["style"]
    assert history[-1]["total"] < history[0]["total"]


def test_lbfgs_backs_off_a_step_that_overshoots_instead_of_stopping(style_image):
    # A first trial step that raises the loss must be searched back along the line, not
    # rejected: with no line-search evaluations L-BFGS stays at the photo for every later step
    # (what happened to 3 of 20 photos of the 256 px reference before the fix).
    content = random_image(40, 48, seed=3)
    history = []
    optimize(
        content,
        style_image,
        steps=4,
        size=None,
        lr=1e4,  # the first trial overshoots by far
        loss=build_perceptual_loss(RANDOM),
        progress=False,
        callback=lambda step, losses: history.append(losses["total"]),
    )
    assert history[-1] < 0.5 * history[0]


@pytest.mark.parametrize("method", ["lbfgs", "adam"])
def test_both_methods_return_tensors_for_tensors_in_range(style_image, method):
    x = torch.rand(3, 32, 32)
    before = x.clone()
    y = optimize(x, style_image, steps=3, method=method, size=None, loss=RANDOM, progress=False)
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
    assert torch.equal(x, before)


def test_bad_arguments_are_clear_errors(style_image, tmp_path):
    with pytest.raises(StylenetError, match="unknown method 'sgd'"):
        optimize(torch.rand(3, 32, 32), style_image, method="sgd", loss=RANDOM, progress=False)
    with pytest.raises(StylenetError, match="no such file"):
        optimize(tmp_path / "missing.jpg", style_image, loss=RANDOM, progress=False)


def test_psnr_and_ssim_agree_with_torchmetrics():
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    torch.manual_seed(0)
    a = torch.rand(2, 3, 48, 40)
    assert psnr(a, a) == float("inf") and ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    for b in ((a + 0.1).clamp(0, 1), (a * 0.7 + 0.3 * torch.rand_like(a)), torch.rand_like(a)):
        assert psnr(b, a) == pytest.approx(float(peak_signal_noise_ratio(b, a, data_range=1.0)), abs=1e-3)
        reference = structural_similarity_index_measure(
            b, a, data_range=1.0, gaussian_kernel=True, sigma=1.5, kernel_size=11
        )
        assert ssim(b, a) == pytest.approx(float(reference), abs=5e-3)  # border handling differs slightly


def test_evaluate_reports_every_metric_for_networks_and_optimization(photo_dir, style_image, small_net):
    criterion = build_perceptual_loss(RANDOM)
    from stylenet.io.images import load_image

    criterion.set_style(load_image(style_image, 48))
    photos = select_photos(photo_dir, limit=3)
    results = evaluate({"net": small_net, "opt": ("optimize", 3)}, photos, criterion, size=32, progress=False)
    assert [r.label for r in results] == ["photo (unstylized)", "net", "opt"]
    photo, net, opt = (r.mean() for r in results)
    assert photo["content"] == 0 and photo["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert net["content"] > 0 and net["seconds"] > 0 and len(results[1].images) == 3
    assert opt["style"] < photo["style"]  # optimization moves towards the style


def test_holdout_selection_matches_training(photo_dir):
    from stylenet.io.images import list_images
    from stylenet.io.photos import split_holdout

    assert select_photos(photo_dir, holdout=3) == split_holdout(list_images(photo_dir), photo_dir, 3)[1]
    with pytest.raises(StylenetError, match="give a folder"):
        select_photos(photo_dir / "nope")


def test_cli_optimize_and_evaluate(tmp_path, capsys, style_image, photo_dir, weights_file, monkeypatch):
    monkeypatch.setenv("STYLENET_VGG", "random")
    content = tmp_path / "c.jpg"
    random_image(40, 40).save(content)
    out = tmp_path / "o.png"
    args = ["optimize", str(content), "--style-image", str(style_image), "--steps", "2", "--size", "32", "-o", str(out)]
    assert main(args) == 0 and Image.open(out).size == (32, 32)
    assert main(args) == 2  # refuses to overwrite
    report = tmp_path / "r.json"
    code = main(
        [
            "evaluate",
            "--style",
            str(weights_file),
            "--style",
            "optimize:2",
            "--photos",
            str(photo_dir),
            "--limit",
            "2",
            "--size",
            "32",
            "--style-image",
            str(style_image),
            "--json",
            str(report),
            "-q",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "photo (unstylized)" in printed and "optimize, 2 L-BFGS steps" in printed
    data = json.loads(report.read_text())
    assert set(data["results"]) == {"photo (unstylized)", "tiny", "optimize, 2 L-BFGS steps"}
    assert set(data["results"]["tiny"]["mean"]) == {"content", "style", "psnr", "ssim", "seconds"}
    assert np.isfinite(data["results"]["tiny"]["mean"]["style"])


def test_a_saved_reference_is_reused_only_for_the_same_photos_and_settings(
    tmp_path, capsys, style_image, photo_dir, weights_file
):
    report = tmp_path / "ref.json"
    args = ["evaluate", "--photos", str(photo_dir), "--limit", "2", "--size", "32", "--style-image", str(style_image)]
    args += ["--vgg", "random", "-q"]
    assert main([*args, "--style", "optimize:2", "--style", str(weights_file), "--json", str(report)]) == 0
    saved = json.loads(report.read_text())["results"]["optimize, 2 L-BFGS steps"]
    capsys.readouterr()
    again = tmp_path / "again.json"
    assert main([*args, "--style", str(weights_file), "--reference", str(report), "--json", str(again)]) == 0
    out = capsys.readouterr().out
    assert "optimize, 2 L-BFGS steps (saved)" in out and "tiny (saved)" in out
    rows = json.loads(again.read_text())["results"]
    assert rows["optimize, 2 L-BFGS steps (saved)"]["images"] == saved["images"]  # taken, not recomputed
    assert set(rows) == {"photo (unstylized)", "tiny", "optimize, 2 L-BFGS steps (saved)", "tiny (saved)"}
    for change, what in ((["--size", "24"], "size"), (["--limit", "1"], "photos")):
        code = main([*args, *change, "--style", str(weights_file), "--reference", str(report)])
        err = capsys.readouterr().err
        assert code == 2 and f"measured with another {what}" in err and len(err.strip().splitlines()) == 1
    assert main([*args, "--style", str(weights_file), "--reference", str(tmp_path / "none.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    # the same photos and painting reached by another path (another working directory) still match
    link = tmp_path / "link"
    link.symlink_to(photo_dir.parent)
    other = [a.replace(str(photo_dir.parent), str(link)) for a in args]
    assert other != args
    assert main([*other, "--style", str(weights_file), "--reference", str(report)]) == 0


def test_pinned_loss_weights_change_the_optimization_and_not_the_network_rows(
    tmp_path, style_image, photo_dir, weights_file
):
    args = ["evaluate", "--style", "optimize:3", "--style", str(weights_file), "--photos", str(photo_dir)]
    args += ["--limit", "2", "--size", "32", "--style-image", str(style_image), "--vgg", "random", "-q"]
    rows = []
    for w in ("0.5", "50"):
        assert main([*args, "--style-weight", w, "--json", str(tmp_path / f"{w}.json")]) == 0
        rows.append(json.loads((tmp_path / f"{w}.json").read_text())["results"])
    low, high = rows
    assert high["optimize, 3 L-BFGS steps"]["mean"]["style"] < 0.9 * low["optimize, 3 L-BFGS steps"]["mean"]["style"]
    for key in ("content", "style"):
        assert high["tiny"]["mean"][key] == pytest.approx(low["tiny"]["mean"][key], rel=1e-6)


def test_reports_of_disjoint_photos_merge_into_the_report_of_one_run(tmp_path, style_image, photo_dir, weights_file):
    from stylenet.quality.reports import merge_reports

    photos = select_photos(photo_dir, limit=4)
    lists = []
    for k, chunk in enumerate([photos, photos[:2], photos[2:]]):
        lists.append(tmp_path / f"p{k}.txt")
        lists[-1].write_text("".join(f"{p}\n" for p in chunk))
    args = ["evaluate", "--style", str(weights_file), "--size", "32", "--style-image", str(style_image)]
    args += ["--vgg", "random", "-q"]
    reports = []
    for k, photo_list in enumerate(lists):
        assert main([*args, "--photos", str(photo_list), "--json", str(tmp_path / f"r{k}.json")]) == 0
        reports.append(json.loads((tmp_path / f"r{k}.json").read_text()))
    whole, merged = reports[0], merge_reports(reports[1:])
    assert merged["photos"] == whole["photos"] and list(merged["results"]) == list(whole["results"])
    for label, result in whole["results"].items():
        for key in ("content", "style", "ssim"):
            assert merged["results"][label]["mean"][key] == pytest.approx(result["mean"][key], rel=1e-5)
    with pytest.raises(StylenetError, match="share photos"):
        merge_reports([reports[1], reports[1]])
    with pytest.raises(StylenetError, match="another size"):
        merge_reports([reports[1], {**reports[2], "size": 64}])


def test_cli_evaluate_needs_the_style_image(capsys, photo_dir, weights_file, monkeypatch, tmp_path):
    monkeypatch.setenv("STYLENET_VGG", "random")
    code = main(["evaluate", "--style", str(weights_file), "--photos", str(photo_dir), "--styles-dir", str(tmp_path)])
    assert code == 2 and "--style-image" in capsys.readouterr().err


def test_cli_evaluate_keeps_two_files_of_the_same_name_apart(tmp_path, capsys, style_image, photo_dir, weights_file):
    other = tmp_path / "other" / weights_file.name
    other.parent.mkdir()
    other.write_bytes(weights_file.read_bytes())
    report = tmp_path / "r.json"
    args = ["evaluate", "--style", str(weights_file), "--style", str(other), "--photos", str(photo_dir)]
    args += [
        "--limit",
        "1",
        "--size",
        "32",
        "--style-image",
        str(style_image),
        "--vgg",
        "random",
        "--json",
        str(report),
    ]
    assert main([*args, "-q"]) == 0
    assert set(json.loads(report.read_text())["results"]) == {"photo (unstylized)", "tiny", str(other)}


def test_cli_evaluate_takes_styles_of_a_multi_style_network(tmp_path, capsys, style_image, photo_dir, multi_file):
    report = tmp_path / "r.json"
    args = ["evaluate", "--style", "a", "--style", "b:0.5,c:0.5", "--network", str(multi_file)]
    args += ["--photos", str(photo_dir), "--limit", "2", "--size", "32", "--style-image", str(style_image)]
    assert main([*args, "--vgg", "random", "--json", str(report), "-q"]) == 0
    results = json.loads(report.read_text())["results"]
    assert set(results) == {"photo (unstylized)", "a", "b:0.5,c:0.5"}
    assert results["a"]["mean"]["content"] != results["b:0.5,c:0.5"]["mean"]["content"]


def test_a_bad_content_path_fails_before_any_vgg_is_loaded(tmp_path, capsys, monkeypatch, style_image):
    import stylenet.loss.perceptual

    monkeypatch.setattr(
        stylenet.loss.perceptual, "VGGFeatures", lambda *a, **k: pytest.fail("VGG loaded before the check")
    )
    (tmp_path / "folder").mkdir()
    code = main(
        ["optimize", str(tmp_path / "folder"), "--style-image", str(style_image), "-o", str(tmp_path / "o.png")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "is a folder" in err and len(err.strip().splitlines()) == 1


def test_a_multi_style_rows_own_style_weight_is_the_one_its_loss_uses(style_image):
    from stylenet.loss.from_card import criterion_for
    from stylenet.styles.mix import row_card

    card = {"style": "classic", "loss": {"style_weight": 5.0}, "styles": {"a": {"style_weight": 7.5}, "b": {}}}
    assert criterion_for(row_card(card, "a"), "random", style_image, 32).style_weight == 7.5
    assert criterion_for(row_card(card, "b"), "random", style_image, 32).style_weight == 5.0  # the network's
    pinned = criterion_for(row_card(card, "a"), "random", style_image, 32, weights={"style_weight": 2.0})
    assert pinned.style_weight == 2.0


def test_a_saved_reference_measured_with_another_loss_or_painting_is_refused(
    tmp_path, capsys, style_image, photo_dir, weights_file
):
    report = tmp_path / "ref.json"
    args = ["evaluate", "--photos", str(photo_dir), "--limit", "2", "--size", "32", "--vgg", "random", "-q"]
    args += ["--style", str(weights_file)]
    assert main([*args, "--style-image", str(style_image), "--style-weight", "50", "--json", str(report)]) == 0
    loss = json.loads(report.read_text())["loss"]
    assert loss["style_weight"] == 50.0 and loss["style_layers"] == {k: 1.0 for k in DEFAULT_STYLE_LAYERS}
    capsys.readouterr()
    assert main([*args, "--style-image", str(style_image), "--reference", str(report)]) == 2  # style weight 5
    err = capsys.readouterr().err
    assert "measured with another loss (style_weight 50.0, this run 5.0)" in err and len(err.strip().splitlines()) == 1
    # another criterion: the layers (a network trained with other layers; its card says so)
    from stylenet.io.weights import load_weights, save_weights

    net, card = load_weights(weights_file)
    (tmp_path / "other").mkdir()
    other = save_weights(net, tmp_path / "other" / "tiny.safetensors", {**card, "loss": {"style_layers": ["relu1_2"]}})
    code = main(
        [*args[:-1], str(other), "--style-image", str(style_image), "--style-weight", "50", "--reference", str(report)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "measured with another loss (style_layers" in err and len(err.strip().splitlines()) == 1
    # another painting under the same file name
    painting = tmp_path / "elsewhere" / style_image.name
    painting.parent.mkdir()
    random_image(64, 64, seed=5).save(painting)
    code = main([*args, "--style-image", str(painting), "--style-weight", "50", "--reference", str(report)])
    err = capsys.readouterr().err
    assert code == 2 and "measured with another style image" in err and len(err.strip().splitlines()) == 1
    assert main([*args, "--style-image", str(style_image), "--style-weight", "50", "--reference", str(report)]) == 0


def test_evaluate_progress_in_a_log_is_a_line_or_two_per_method_not_one_per_photo(
    capsys, style_image, photo_dir, small_net
):
    from stylenet.loss.from_card import criterion_for

    photos = select_photos(photo_dir, limit=8)
    criterion = criterion_for({}, "random", style_image, 32)
    start = time.monotonic()
    evaluate({"tiny": small_net}, photos, criterion, size=32, progress=True)
    seconds = time.monotonic() - start
    lines = capsys.readouterr().err.splitlines()  # stderr here is not a terminal
    assert "\r" not in "".join(lines) and "8/8" in lines[-1]
    # the first and last lines, and one per LOG_INTERVAL seconds between (a busy machine is slower)
    assert 1 <= len(lines) <= 2 + int(seconds // LOG_INTERVAL)
