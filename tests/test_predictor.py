"""Any painting through a style-prediction network (issue 24's alternative): warm start, training, the
weights file, stylize/CLI/video/ONNX, on small random networks; and the palette distance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import stylenet
from stylenet.cli import main
from stylenet.errors import StylenetError
from stylenet.loss.perceptual import build_perceptual_loss
from stylenet.model.predictor import StylePredictor, load_predictor, save_predictor, table_rows, warm_start
from stylenet.model.transformer import TransformerNet
from stylenet.quality.palette import palette_distance
from stylenet.training.predictor_module import PredictorModule

from conftest import CONFIG_DIR, compose_config, make_multi_net, random_image

NET = {"width": 8, "blocks": 1}
LOSS = {
    "vgg": {"weights": "random"},
    "content_layers": ["relu2_2"],
    "style_layers": ["relu1_2", "relu2_2"],
    "content_weight": 1.0,
    "style_weight": 5.0,
    "tv_weight": 1.0,
}


def painting(seed: int, h: int = 40, w: int = 48) -> torch.Tensor:
    """Random paintings with clearly different colours and statistics."""
    g = torch.Generator().manual_seed(seed)
    base = torch.from_numpy(np.asarray(random_image(h, w, seed=seed), np.float32) / 255).permute(2, 0, 1)
    return (base * torch.rand(3, 1, 1, generator=g) + 0.3 * torch.rand(3, 1, 1, generator=g)).clamp(0, 1)[None]


@pytest.fixture(scope="module")
def classic() -> TransformerNet:
    return make_multi_net(("a", "b", "c"))


@pytest.fixture(scope="module")
def paintings() -> list[torch.Tensor]:
    return [painting(s) for s in (1, 2, 3)]


@pytest.fixture(scope="module")
def pred(classic, paintings) -> StylePredictor:
    torch.manual_seed(0)
    p = StylePredictor(NET, 16, ["relu1_2", "relu2_2"], {"weights": "random"}, style_size=32).eval()
    warm_start(p, classic, paintings, ridge=1e-3)  # a small ridge: each painting gets its own row back
    return p


@pytest.fixture(scope="module")
def pred_file(pred, tmp_path_factory) -> Path:
    return save_predictor(pred, tmp_path_factory.mktemp("pred") / "predictor.safetensors", {"name": "predictor"})


@pytest.fixture
def painting_files(tmp_path) -> tuple[Path, Path]:
    files = tmp_path / "a.png", tmp_path / "b.png"
    for f, seed in zip(files, (7, 8)):
        Image.fromarray((painting(seed, 48, 56)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(f)
    return files


# -- the network and its warm start --------------------------------------------------------------
def test_the_warm_start_reproduces_each_classic_row_from_its_own_painting(pred, classic, paintings):
    photo = torch.rand(2, 3, 36, 44)
    with torch.no_grad():
        for k, p in enumerate(paintings):
            torch.testing.assert_close(pred(photo, p), classic(photo, k), atol=2e-3, rtol=0)
        assert (pred(photo, paintings[0]) - classic(photo, 1)).abs().mean() > 1e-2  # not every row alike
        other = pred(photo, painting(9))  # an unseen painting gets a network of its own
        assert all((other - classic(photo, k)).abs().mean() > 1e-3 for k in range(3))


def test_the_default_ridge_shrinks_the_rows_toward_their_mean(classic, paintings):
    p = StylePredictor(NET, 16, ["relu1_2"], {"weights": "random"})
    tight, shrunk = (warm_start(p, classic, paintings, ridge=r)["fit_max_error"] for r in (1e-3, 1.0))
    assert tight < 0.05 < shrunk < 0.9 * warm_start(p, classic, paintings, mode="mean")["fit_max_error"]


def test_the_mean_warm_start_gives_every_painting_about_the_mean_row(classic, paintings):
    p = StylePredictor(NET, 16, ["relu1_2"], {"weights": "random"})
    report = warm_start(p, classic, paintings, mode="mean")
    rows = torch.cat([p.mix(p.embed(x)) for x in paintings]) @ table_rows(p.transformer)
    mean = table_rows(classic).mean(0)
    assert (rows - mean).abs().max() < 0.05 < report["fit_max_error"]
    with pytest.raises(ValueError, match="2 paintings for a network of 3 styles"):
        warm_start(p, classic, paintings[:2])


def test_norm_tables_are_the_embedding_map_gamma_is_w_e_plus_b(pred):
    e = torch.randn(1, 16)
    net = pred.one_style(e)
    norm = pred.transformer.encoder[0][1]
    expected = pred.mix(e)[0] @ norm.weight  # rows 0..D-1: W's columns, row D: b
    torch.testing.assert_close(net.encoder[0][1].weight.detach(), expected.detach())
    assert not net.num_styles


# -- training ------------------------------------------------------------------------------------
def tiny_module(classic, paintings, train_only="all", identity_weight=0.0) -> PredictorModule:
    torch.manual_seed(0)
    spec = {"net": NET, "embedding": 16, "style_size": 32, "identity_weight": identity_weight}
    m = PredictorModule(spec, LOSS, {"lr": 1e-4, "table_lr": 1e-2}, None, train_only)
    warm_start(m.net, classic, paintings)
    m.setup("fit")
    return m


def test_training_steps_lower_the_loss_and_train_only_predictor_keeps_the_convolutions(classic, paintings):
    photos = torch.rand(2, 3, 32, 32)
    batch = torch.cat([paintings[0][..., :32, :32], painting(11)[..., :32, :32]])
    for train_only in ("all", "predictor"):
        m = tiny_module(classic, paintings, train_only)
        conv = m.net.transformer.encoder[0][0][1].weight.detach().clone()
        opt = torch.optim.Adam(m.param_groups(), lr=1e-4)  # the groups: lr, table_lr
        first = None
        for _ in range(6):
            _, terms = m.losses(photos, batch)
            first = float(terms["total"].detach()) if first is None else first
            opt.zero_grad()
            terms["total"].backward()
            opt.step()
        assert float(m.losses(photos, batch)[1]["total"].detach()) < 0.95 * first
        changed = not torch.equal(conv, m.net.transformer.encoder[0][0][1].weight)
        assert changed == (train_only == "all")
        assert m.net.embedding.bottleneck.weight.grad is not None


def test_the_identity_term_is_strength_zeros_distance_to_the_photo_and_training_lowers_it(classic, paintings):
    torch.manual_seed(1)
    photos = torch.rand(2, 3, 32, 32)
    batch = torch.cat([paintings[0][..., :32, :32], painting(11)[..., :32, :32]])
    distance = {}
    for weight in (0.0, 5.0):
        m = tiny_module(classic, paintings, identity_weight=weight)
        opt = torch.optim.Adam(m.param_groups())
        with torch.no_grad():
            first = float(m.losses(photos, batch)[1].get("identity", -1))
            zero = float((m.net(photos, batch, strength=0.0) - photos).abs().mean())  # what stylize gives
        assert first == (pytest.approx(zero) if weight else -1)  # the term only where asked, and it is that
        for _ in range(20):
            _, terms = m.losses(photos, batch)
            opt.zero_grad()
            terms["total"].backward()
            opt.step()
        with torch.no_grad():
            distance[weight] = float((m.net(photos, batch, strength=0.0) - photos).abs().mean())
    assert float(terms.weighted["identity"].detach()) == pytest.approx(5.0 * float(terms["identity"].detach()))
    assert distance[5.0] < 0.8 * distance[0.0]  # the same steps without the term leave strength 0 further away


def test_each_sample_is_scored_against_its_own_paintings_gram_matrices():
    loss = build_perceptual_loss(LOSS)
    a, b, photos = painting(1, 32, 32), painting(2, 32, 32), torch.rand(2, 3, 32, 32)
    y = torch.cat([a, b])

    def style_each(paintings):
        targets = loss.painting_targets(loss.vgg(paintings, loss.style_layers))
        terms = loss(y, photos, targets=targets)
        return loss.last_style_each, terms

    own, terms = style_each(torch.cat([a, b]))
    swapped, _ = style_each(torch.cat([b, a]))
    assert own.max() < 1e-5 and (swapped > 1e-2).all()  # the outputs are the paintings: 0 only against their own
    assert float(terms.weighted["style"]) == pytest.approx(5.0 * float(terms["style"]))


def test_init_weights_a_trained_predictor_continues_from_its_weights_not_a_new_warm_start(pred, pred_file):
    from omegaconf import OmegaConf

    from stylenet.training.train_predictor import warm_start_from

    m = PredictorModule({"net": NET, "embedding": 16, "style_size": 32}, LOSS, {"lr": 1e-4}, None, "all")
    cfg = OmegaConf.create({"init_weights": str(pred_file)})
    record = warm_start_from(cfg, m)
    assert record["mode"] == "predictor" and record["init_weights"] == str(pred_file)
    ours = m.net.state_dict()
    for k, v in pred.state_dict().items():
        if not k.startswith("encoder."):
            torch.testing.assert_close(ours[k], v, msg=k)
    assert "averaged_runs" not in record
    other = PredictorModule({"net": NET, "embedding": 8, "style_size": 32}, LOSS, {"lr": 1e-4}, None, "all")
    with pytest.raises(StylenetError, match="does not fit this run's; set model= and predictor.embedding="):
        warm_start_from(cfg, other)


def test_continuing_from_an_averaged_predictor_records_how_many_runs_it_averaged(pred, monkeypatch):
    from stylenet.training.train_predictor import continue_from

    monkeypatch.setattr(pred, "card", {**pred.card, "average": {"of": [{"steps": 5}, {"steps": 7}]}})
    m = PredictorModule({"net": NET, "embedding": 16, "style_size": 32}, LOSS, {"lr": 1e-4}, None, "all")
    assert continue_from(m, pred, "soup.safetensors")["averaged_runs"] == 2


@pytest.fixture
def predictor_overrides(tmp_path, photo_dir, classic) -> list[str]:
    """A seconds-long run on random VGG, warm-started from a tiny three-style network and its paintings."""
    styles, paintings = tmp_path / "styles", tmp_path / "paintings"
    styles.mkdir()
    paintings.mkdir()
    blocks = {}
    for k, name in enumerate(classic.style_names):
        Image.fromarray((painting(k + 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(
            styles / f"{name}.png"
        )
        blocks[name] = {"style_image": {"file": f"{name}.png", "size": 48}}
    for i in range(4):
        random_image(48 + 4 * i, 40, seed=60 + i).save(paintings / f"p{i}.jpg")
    from stylenet.io.weights import save_weights

    init = save_weights(classic, tmp_path / "trio.safetensors", {"style": "trio", "steps": 7, "styles": blocks})
    return [
        "experiment=predictor",
        f"init_weights={init}",
        f"paths.styles_dir={styles}",
        f"adain.photos=[{photo_dir}]",
        f"adain.paintings=[{paintings},{styles}]",
        "adain.holdout_paintings=[p1.jpg]",
        "adain.holdout_pairs=2",
        "adain.preview_paintings=1",
        "predictor.embedding=8",
        "model.width=8",
        "model.blocks=1",
        "loss.vgg.weights=random",
        "loss.style_layers=[relu1_2,relu2_2]",
        "data.image_size=32",
        "data.batch_size=2",
        "data.num_workers=0",
        "data.holdout=2",
        "data.preview=2",
        "trainer=cpu",
        "trainer.precision=32-true",
        "trainer.max_steps=2",
        "trainer.enable_model_summary=false",
        "trainer.log_every_n_steps=1",
        "preview_every_n_steps=2",
        "checkpoint_every_n_steps=1",
        f"paths.output_dir={tmp_path / 'runs' / 'predictor' / 'run'}",
        f"paths.runs_dir={tmp_path / 'runs'}",
    ]


@pytest.mark.parametrize(
    "override,message",
    [
        ("train_only=norm", "train_only=norm for arch=predictor: use predictor"),
        ("init_weights=null", "set init_weights=classic"),
        ("paths.styles_dir=/nonexistent", "init_weights=.* needs the painting of 'a': .*set paths.styles_dir"),
        ("model.width=16", "set model= to its architecture"),
        ("predictor.warm_start=zero", "predictor.warm_start=zero: use lstsq or mean"),
        ("predictor.identity_weight=-1", "predictor.identity_weight=-1.* must be >= 0"),
    ],
)
def test_bad_predictor_settings_fail_before_training_with_one_line(predictor_overrides, override, message, tmp_path):
    from stylenet.training.train import train

    with pytest.raises(StylenetError, match=message) as e:
        train(compose_config(predictor_overrides + [override]))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "runs" / "predictor" / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_a_time_budget_stops_a_predictor_run_with_its_cosine_fitted_and_still_exports(predictor_overrides):
    import time

    import pytorch_lightning as pl

    from stylenet.training.train import train

    class Slow(pl.Callback):  # 300 ms more a step: at most about 25 steps fit in the budget
        def on_train_batch_end(self, trainer, module, *args):
            time.sleep(0.3)
            self.lr = trainer.optimizers[0].param_groups[-1]["lr"]

    spy = Slow()
    budget = ["trainer.max_steps=100000", "time_budget=9", "time_budget_warmup_steps=3", "preview_every_n_steps=0"]
    budget += ["checkpoint_every_n_steps=1000", "logger=none"]
    result = train(compose_config(predictor_overrides + budget), extra_callbacks=[spy])
    card = load_predictor(result.weights).card
    assert 4 < result.steps < 60 and card["time_budget"]["planned_steps"] == result.steps
    assert spy.lr < 2e-4  # the tables' 1e-3 cosine ran down to about its floor (0.1x) where the run stopped


@pytest.mark.slow
def test_a_short_run_checkpoints_exports_and_resumes(predictor_overrides, tmp_path):
    from test_train import tensorboard_tags

    from stylenet.training.predictor_module import predictor_from_checkpoint
    from stylenet.training.train import train

    first = train(compose_config(predictor_overrides))
    assert first.steps == 2 and first.checkpoint.is_file() and first.weights.name == "predictor.safetensors"
    saved = torch.load(first.checkpoint, map_location="cpu", weights_only=True)
    assert all(k.startswith(("net.transformer.", "net.embedding.")) for k in saved["state_dict"])
    scalars, images = tensorboard_tags(first.output_dir / "tensorboard")
    assert {"train/style", "train/total", "holdout/style", "holdout/content"} <= scalars and "preview" in images
    pred = load_predictor(first.weights)
    card = pred.card
    assert card["model"] == "predictor" and card["steps"] == 2 and card["recipe"]["warm_start"]["init_steps"] == 7
    assert card["training_data"]["holdout_paintings"] == ["p1.jpg"] and card["style_size"] == 32
    from_ckpt = predictor_from_checkpoint(first.checkpoint)
    photo, art = torch.rand(1, 3, 32, 32), painting(5)
    with torch.no_grad():
        torch.testing.assert_close(from_ckpt(photo, art), pred(photo, art))
    cfg = compose_config(
        predictor_overrides + ["trainer.max_steps=3", "resume=latest", f"paths.output_dir={tmp_path / 'r2'}"]
    )
    second = train(cfg)
    assert second.steps == 3 and load_predictor(second.weights).card["resumed_from"] == str(first.checkpoint)
    overrides = [f"init_weights={first.checkpoint}", "trainer.max_steps=1", f"paths.output_dir={tmp_path / 'r3'}"]
    third = train(compose_config(predictor_overrides + overrides))  # a new run (train_only=all) from a checkpoint
    warm = load_predictor(third.weights).card["recipe"]["warm_start"]
    assert third.steps == 1 and warm["mode"] == "predictor" and warm["init_steps"] == 2


def test_the_experiment_keeps_adains_held_out_paintings_and_the_classic_loss():
    import yaml

    spec = yaml.safe_load((CONFIG_DIR / "experiment" / "predictor.yaml").read_text())
    assert spec["defaults"][0] == "adain" and spec["arch"] == "predictor" and spec["init_weights"] == "classic"
    cfg = compose_config(["experiment=predictor", "paths.output_dir=/tmp/unused"])
    adain = yaml.safe_load((CONFIG_DIR / "experiment" / "adain.yaml").read_text())["adain"]
    assert list(cfg.adain.holdout_paintings) == adain["holdout_paintings"]
    assert (cfg.loss.content_weight, cfg.loss.style_weight, cfg.loss.tv_weight) == (1.0, 5.0, 5.0)


# -- the weights file and inference ---------------------------------------------------------------
def test_save_and_load_round_trip_and_a_corrupted_file(pred, pred_file, tmp_path):
    loaded = load_predictor(pred_file)
    assert loaded.card == {"name": "predictor"} and loaded.style_size == 32
    photo, art = torch.rand(1, 3, 33, 40), painting(4)
    with torch.no_grad():
        assert torch.equal(loaded(photo, art), pred(photo, art))
    data = bytearray(pred_file.read_bytes())
    data[-100] ^= 0xFF
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(StylenetError, match="does not match the digest"):
        load_predictor(bad)


def test_the_painting_network_formats_are_the_adain_and_predictor_files_own():
    from stylenet.io.weights import ARBITRARY
    from stylenet.model import adain, predictor

    assert set(ARBITRARY) == {adain.FORMAT, predictor.FORMAT}


def test_a_predictor_given_as_a_style_network_says_to_pass_a_painting(pred_file, tmp_path, capsys):
    with pytest.raises(StylenetError, match="a style predictor, which takes the style as a painting.*style_image="):
        stylenet.load(pred_file)
    photo = tmp_path / "photo.png"
    random_image(40, 32).save(photo)
    assert main(["stylize", str(photo), "--style", str(pred_file), "-o", str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--style-image" in err and len(err.splitlines()) == 1


def test_an_installed_predictor_alone_is_the_default_for_paintings_on_the_page_too(
    pred_file, isolated_home, no_painting_network
):
    """style_image without network= takes the first of adain, predictor that is installed; the web
    page's painting drop asks the same question (it once looked for "adain" only)."""
    from stylenet.infer.arbitrary import installed_default
    from stylenet.io.download import sha256_file

    assert installed_default() is None
    styles = isolated_home / "styles"
    styles.mkdir(parents=True, exist_ok=True)
    (styles / "predictor.safetensors").write_bytes(pred_file.read_bytes())
    (styles / "predictor.json").write_text(json.dumps({"sha256": sha256_file(pred_file), "card": {}}))
    assert installed_default() == "predictor"
    pytest.importorskip("starlette")
    import io

    from stylenet.web.jobs import Engine, Job, Order

    engine = Engine(["mosaic"])
    assert engine.painting_available() == (True, "")
    # a dropped painting is read at the predictor's own scale, as style_image= reads it (not AdaIN's 512)
    photo, art = random_image(40, 48, seed=5), random_image(300, 280, seed=6)
    buf = [io.BytesIO(), io.BytesIO()]
    photo.save(buf[0], format="PNG")
    art.save(buf[1], format="PNG")
    got = Image.open(io.BytesIO(Job(Order(buf[0].getvalue(), painting=buf[1].getvalue()), engine).run().png))
    want = stylenet.stylize(photo, style_image=art)
    assert np.abs(np.asarray(got, np.int16) - np.asarray(want, np.int16)).max() <= 1


def test_stylize_with_a_predictor_file_runs_the_paintings_network(pred, pred_file, painting_files):
    from stylenet.infer import arbitrary

    photo = torch.rand(3, 40, 48)
    out = stylenet.stylize(photo, style_image=painting_files[0], network=pred_file, precision="fp32")
    with torch.no_grad():
        e = pred.embed(arbitrary.read_painting(painting_files[0], 32))
        expected = pred.one_style(e)(photo[None])[0]
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)
    assert (out - photo).abs().mean() > 0.02


def test_a_half_half_mix_differs_from_both_and_is_the_mean_embeddings_network(pred, pred_file, painting_files):
    from stylenet.infer import arbitrary

    photo = torch.rand(3, 40, 48)

    def styled(paintings, weights=None):
        return stylenet.stylize(
            photo, style_image=paintings, style_weights=weights, network=pred_file, precision="fp32"
        )

    a, b = styled(painting_files[0]), styled(painting_files[1])
    mixed = styled(list(painting_files), [1, 1])
    assert (mixed - a).abs().mean() > 1e-3 and (mixed - b).abs().mean() > 1e-3
    with torch.no_grad():
        e = sum(0.5 * pred.embed(arbitrary.read_painting(f, 32)) for f in painting_files)
        torch.testing.assert_close(mixed, pred.one_style(e)(photo[None])[0], atol=1e-4, rtol=0)


def test_strength_zero_is_the_photos_own_embedding_and_between_an_interpolation(pred, pred_file, painting_files):
    from stylenet.infer import arbitrary

    photo = torch.rand(1, 3, 40, 48)
    kw = {"style_image": painting_files[0], "network": pred_file, "precision": "fp32"}
    zero, half, full = (stylenet.stylize(photo, strength=s, **kw) for s in (0.0, 0.5, 1.0))
    with torch.no_grad():
        own = pred.one_style(pred.own_embedding(photo))(photo)
        torch.testing.assert_close(zero, own, atol=1e-4, rtol=0)
        e = pred.embed(arbitrary.read_painting(painting_files[0], 32))
        torch.testing.assert_close(half, pred(photo, e, 0.5), atol=1e-4, rtol=0)
    assert (zero - full).abs().mean() > 1e-2 and (half - full).abs().mean() > 1e-3


def test_preserve_color_and_tiles_that_share_the_whole_images_statistics(pred_file, painting_files):
    photo = torch.rand(3, 72, 88)
    kw = {"style_image": painting_files[0], "network": pred_file, "precision": "fp32"}
    whole = stylenet.stylize(photo, **kw)
    tiled = stylenet.stylize(photo, tile=40, **kw)
    assert (tiled - whole).abs().mean() < 2e-3
    from stylenet.infer.controls import rgb_to_yiq

    photo = photo * 0.5 + 0.25  # mid-range: little clipping
    kept = stylenet.stylize(photo, preserve_color=True, **kw)
    inside = ((kept > 0.001) & (kept < 0.999)).all(0)
    chroma = (rgb_to_yiq(kept) - rgb_to_yiq(photo))[1:, inside]
    assert inside.float().mean() > 0.5 and chroma.abs().max() < 1e-4


def test_the_installed_predictor_is_the_default_and_none_is_a_one_line_error(
    pred_file, painting_files, capsys, no_painting_network
):
    photo = torch.rand(3, 32, 32)
    with pytest.raises(StylenetError, match="experiment=predictor") as e:
        stylenet.stylize(photo, style_image=painting_files[0])
    assert "\n" not in str(e.value)
    stylenet.install(pred_file)
    out = stylenet.stylize(photo, style_image=painting_files[0], precision="fp32")
    torch.testing.assert_close(out, stylenet.stylize(photo, style_image=painting_files[0], network=pred_file))


def test_installing_a_predictor_prints_the_painting_options_and_they_work(pred_file, painting_files, tmp_path, capsys):
    assert main(["install", str(pred_file), "--name", "mypred"]) == 0
    out = capsys.readouterr().out
    assert "--style-image painting.jpg --network mypred" in out and "--style mypred" not in out
    photo = tmp_path / "photo.png"
    random_image(40, 48, seed=3).save(photo)
    argv = ["stylize", str(photo), "--style-image", str(painting_files[0]), "--network", "mypred"]
    assert main([*argv, "-o", str(tmp_path / "o.png")]) == 0 and (tmp_path / "o.png").is_file()


@pytest.mark.parametrize(
    "network, message",
    [
        ("nosuch", "unknown painting network 'nosuch' (an AdaIN decoder or style predictor; installed: predictor)"),
        ("mosaic", "'mosaic' is a trained style, not a network that takes a painting: use style='mosaic'"),
    ],
)
def test_a_network_name_that_takes_no_painting_is_one_line(painting_files, network, message):
    with pytest.raises(StylenetError) as e:
        stylenet.stylize(torch.rand(3, 32, 32), style_image=painting_files[0], network=network)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("problem", ["no such file", "image is 8x8; at least 16x16"])
def test_a_bad_painting_is_one_line_and_exit_2(pred_file, problem, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    if "8x8" in problem:
        random_image(8, 8).save(bad)
    photo = tmp_path / "photo.png"
    random_image(40, 48, seed=3).save(photo)
    code = main(
        ["stylize", str(photo), "--style-image", str(bad), "--network", str(pred_file), "-o", str(tmp_path / "o.png")]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"error: style image {bad}: ") and problem in err
    assert not (tmp_path / "o.png").exists()


def test_the_cli_mixes_weighted_paintings_with_a_predictor(pred_file, painting_files, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    random_image(40, 48, seed=3).save(photo)
    a, b = painting_files
    argv = ["stylize", photo, "--style-image", f"{a}:0.7", "--style-image", f"{b}:0.3", "--network", pred_file]
    code = main([str(x) for x in argv + ["-o", tmp_path / "o.png", "--precision", "fp32"]])
    assert code == 0, capsys.readouterr().err
    expected = stylenet.stylize(
        photo, style_image=[a, b], style_weights=[0.7, 0.3], network=pred_file, precision="fp32"
    )
    got = np.asarray(Image.open(tmp_path / "o.png"), np.float32)
    assert np.abs(got - np.asarray(expected, np.float32)).max() <= 1


def test_a_clip_runs_the_paintings_network_with_the_clips_own_embedding_from_its_first_frame(pred, painting_files):
    from stylenet.infer import arbitrary
    from stylenet.infer.predictor import PredictorClipStylizer

    target = arbitrary.target_stats(pred, painting_files[0])[0]
    frames = [(np.random.default_rng(i).random((40, 48, 3)) * 255).astype(np.uint8) for i in range(2)]
    x = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in frames]
    full = PredictorClipStylizer(pred, target, 1.0, 0.0, 0.0, 0.0, "cpu", "fp32")
    half = PredictorClipStylizer(pred, target, 0.5, 0.0, 0.0, 0.0, "cpu", "fp32")
    with torch.no_grad():
        e = torch.lerp(pred.own_embedding(x[0]), target, 0.5)
        for f, xi in zip(frames, x):
            torch.testing.assert_close(full(f), pred.one_style(target)(xi), atol=1e-4, rtol=0)
            torch.testing.assert_close(half(f), pred.one_style(e)(xi), atol=1e-4, rtol=0)


def test_the_video_command_runs_a_clip_through_the_predictor(pred_file, painting_files, tmp_path, capsys):
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    from test_video import make_clip, probe

    clip, out = make_clip(tmp_path / "clip.mp4", n=3), tmp_path / "out.mp4"
    argv = ["video", clip, "--style-image", painting_files[0], "--network", pred_file, "-o", out, "-q"]
    assert main([str(x) for x in argv + ["--strength", "0.5", "--precision", "fp32"]]) == 0, capsys.readouterr().err
    got, src = probe(out), probe(clip)
    assert got["frames"] == src["frames"] == 3 and np.abs(got["pixels"][0] - src["pixels"][0]).mean() > 5


@pytest.mark.slow
def test_onnx_export_takes_the_photo_and_the_painting_and_matches_pytorch(pred, pred_file, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    from stylenet.infer.controls import apply_controls

    out = tmp_path / "predictor.onnx"
    assert main(["export", str(pred_file), "--format", "onnx", "-o", str(out)]) == 0, capsys.readouterr().err
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image", "style", "strength", "preserve_color"]
    art = painting(6, 41, 53)
    cases = [(torch.rand(1, 3, 37, 45), 1.0, 0.0), (torch.rand(2, 3, 64, 40), 0.6, 1.0)]  # batch, size, knobs vary
    for photo, strength, color in cases:
        inputs = (photo.numpy(), art.numpy(), np.array(strength, np.float32), np.array(color, np.float32))
        got = session.run(None, dict(zip(["image", "style", "strength", "preserve_color"], inputs)))[0]
        with torch.no_grad():
            expected = apply_controls(pred(photo, art, strength), photo, 1.0, color).numpy()
        assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-4


# -- the palette distance ---------------------------------------------------------------------------
def test_the_palette_distance_is_zero_for_the_same_colours_in_any_order_and_grows_with_a_colour_shift():
    x = torch.rand(3, 32, 40)
    shuffled = x.reshape(3, -1)[:, torch.randperm(32 * 40)].reshape(3, 40, 32)
    assert palette_distance(x, shuffled) < 1e-4
    assert palette_distance(x, x[..., :16, :]) < 3  # a part of the image: about the same colours
    warmer = (x + torch.tensor([0.15, 0.05, -0.1]).view(3, 1, 1)).clamp(0, 1)
    d1, d2 = (
        palette_distance(x, warmer),
        palette_distance(x, (x + torch.tensor([0.3, 0.1, -0.2]).view(3, 1, 1)).clamp(0, 1)),
    )
    assert 2 < d1 < d2
    gray = x.mean(0, keepdim=True).expand(3, -1, -1)
    assert palette_distance(x, gray) > d1 / 2


@pytest.mark.slow
def test_the_comparison_script_scores_each_network_on_held_out_pairs(
    predictor_overrides, pred_file, photo_dir, tmp_path, capsys
):
    from conftest import load_script

    compare = load_script("compare_arbitrary")
    report = tmp_path / "compare.json"
    argv = [
        "--network",
        f"pred={pred_file}",
        "--network",
        "warm=warm:lstsq",
        "--photos",
        "2",
        "--size",
        "32",
        "--style-size",
        "32",
    ]
    argv += ["--vgg", "random", "--init", str(tmp_path / "trio.safetensors"), "--styles-dir", str(tmp_path / "styles")]
    from stylenet.io.weights import save_weights

    (tmp_path / "rows" / "p1").mkdir(parents=True)  # a network trained on p1.jpg alone (a 15-minute row)
    save_weights(TransformerNet(width=8, blocks=1), tmp_path / "rows" / "p1" / "p1.safetensors")
    argv += ["--network", f"rows=rows:{tmp_path / 'rows'}"]
    data = [f"adain.photos=[{photo_dir}]", f"adain.paintings=[{tmp_path / 'paintings'}]"]
    data += ["adain.holdout_paintings=[p1.jpg,p2.jpg]", "data.holdout=2"]
    assert compare.main(argv + [f"--config={o}" for o in data] + ["--json", str(report), "--strength-zero"]) == 0
    saved = json.loads(report.read_text())
    assert list(saved["means"]) == ["photo (unstylized)", "pred", "warm", "rows"]
    zero = saved["strength_zero"]  # the painting networks' strength-0 distance to each photo; rows have no strength
    assert set(zero) == {"pred", "warm"} and set(zero["pred"]["per_photo"]) == {
        r["photo"] for r in saved["records"]["pred"]
    }
    assert 0 < zero["pred"]["mean"] <= zero["pred"]["max"] < 1
    assert "pred: strength 0 is " in capsys.readouterr().out
    # p2.jpg has no row: every method is scored on p1.jpg alone, so that the means compare like with like
    assert all({r["painting"] for r in records} == {"p1.jpg"} for records in saved["records"].values())
    assert len(saved["records"]["rows"]) == 2 and len(saved["records"]["warm"]) == 2
    photo, pred = saved["means"]["photo (unstylized)"], saved["means"]["pred"]
    assert photo["content"] == 0 and pred["content"] > 0 and pred["palette"] != photo["palette"]
    # --reuse: the earlier records as they were (their timings too), only the new method measured
    grown = tmp_path / "grown.json"
    more = argv + ["--network", "opt=optimize:3", "--reuse", str(report), "--json", str(grown), "--per-painting"]
    capsys.readouterr()
    assert compare.main(more + [f"--config={o}" for o in data]) == 0
    table = capsys.readouterr().out.splitlines()  # one Markdown line per painting, then the means
    assert table[-4].startswith("| painting | photo (unstylized) | pred | warm | rows | opt |")
    assert table[-2].startswith("| `p1.jpg` | 0 / ")
    assert table[-1].startswith("| **mean of 1** | 0 / ")
    again = json.loads(grown.read_text())
    assert all(again["records"][label] == saved["records"][label] for label in saved["records"])
    opt = again["means"]["opt"]  # three L-BFGS steps from the photo: lower style loss, some content loss
    assert len(again["records"]["opt"]) == 2 and opt["style"] < photo["style"] and opt["content"] > 0
    other = argv[:] + ["--reuse", str(report)]
    other[other.index("--size") + 1] = "48"
    capsys.readouterr()
    with pytest.raises(SystemExit):  # measured at other sizes: one line, before any work
        compare.main(other + [f"--config={o}" for o in data])
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and err[0] == f"error: --reuse {report}: measured with --size 32, not 48; reuse a run like this one"
    )
    with pytest.raises(SystemExit):  # its own --reuse file as --json: records not reached would be lost
        compare.main(argv + ["--reuse", str(report), "--json", str(report)] + [f"--config={o}" for o in data])
    assert "is a --reuse file" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # no rows for any painting: one line, not a traceback
        compare.main(argv[:-2] + ["--network", f"rows=rows:{tmp_path / 'styles'}"] + [f"--config={o}" for o in data])
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: no painting left to compare on")
    own = ["--network", f"pred={pred_file}", "--network", "own=rows:init", "--classic-paintings", "--photos", "1"]
    own += argv[argv.index("--size") : argv.index("--size") + 4] + argv[argv.index("--vgg") :][:6]
    with pytest.raises(SystemExit):  # an existing --json is kept unless asked
        compare.main(own + [f"--config={o}" for o in data] + ["--json", str(report)])
    assert capsys.readouterr().err.strip().endswith("exists; pass overwrite (--overwrite) to replace it")
    assert compare.main(own + [f"--config={o}" for o in data] + ["--json", str(report), "--overwrite"]) == 0
    saved = json.loads(report.read_text())  # the trio's three rows on their own paintings, next to the predictor
    assert {r["painting"] for r in saved["records"]["own"]} == {"a.png", "b.png", "c.png"}
    assert len(saved["records"]["pred"]) == 3 and saved["means"]["own"]["content"] > 0


@pytest.mark.slow
def test_a_comparison_split_by_painting_ranges_merges_by_reusing_both_parts(
    predictor_overrides, pred_file, photo_dir, tmp_path
):
    from conftest import load_script

    compare = load_script("compare_arbitrary")
    argv = ["--network", f"pred={pred_file}", "--photos", "2", "--size", "32", "--style-size", "32"]
    argv += ["--vgg", "random", "--init", str(tmp_path / "trio.safetensors"), "--styles-dir", str(tmp_path / "styles")]
    argv += [f"--config=adain.photos=[{photo_dir}]", f"--config=adain.paintings=[{tmp_path / 'paintings'}]"]
    argv += ["--config=adain.holdout_paintings=[p1.jpg,p2.jpg]", "--config=data.holdout=2"]
    parts = {}
    for span in ("1-1", "2-2"):  # two processes, one painting each
        parts[span] = tmp_path / f"part{span}.json"
        assert compare.main(argv + ["--paintings", span, "--json", str(parts[span])]) == 0
    first, second = (json.loads(parts[s].read_text())["records"]["pred"] for s in ("1-1", "2-2"))
    assert {r["painting"] for r in first} == {"p1.jpg"} and {r["painting"] for r in second} == {"p2.jpg"}
    whole = tmp_path / "whole.json"
    reuse = ["--reuse", str(parts["1-1"]), "--reuse", str(parts["2-2"])]
    assert compare.main(argv + reuse + ["--json", str(whole)]) == 0
    merged = json.loads(whole.read_text())["records"]["pred"]
    assert merged == first + second  # measured nothing again: the parts' records, their timings included


def test_the_comparisons_photo_scores_from_cached_gram_matrices_equal_the_criterions():
    from conftest import load_script

    compare = load_script("compare_arbitrary")
    torch.manual_seed(0)
    loss, photo, grams = build_perceptual_loss(LOSS), torch.rand(1, 3, 40, 48), {}
    with torch.no_grad():
        for seed in (1, 2):  # the second painting reuses the photo's Gram matrices
            loss.set_style(torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(seed)))
            fast, full = compare.photo_scores(loss, photo, "p.jpg", grams), loss(photo, photo)
            assert float(fast["content"]) == float(full["content"]) == 0.0
            assert float(fast["style"]) == float(full["style"]) > 0
    assert list(grams) == ["p.jpg"]


def test_the_comparison_reads_rows_combined_in_one_file_by_the_paintings_name(tmp_path):
    from stylenet.io.weights import save_weights

    from conftest import load_script

    compare = load_script("compare_arbitrary")
    net = TransformerNet(width=8, blocks=1, num_styles=2).eval()
    net.style_names = ["p1", "other"]
    save_weights(net, tmp_path / "rows.safetensors", {"style": "rows"})
    rows = compare.load_network(f"rows:{tmp_path}", "random", "classic", str(tmp_path))
    assert rows.has(tmp_path / "p1.jpg") and not rows.has(tmp_path / "p2.jpg")
    assert rows.for_painting(tmp_path / "p2.jpg") is None
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(rows.for_painting(tmp_path / "p1.jpg")(x), net(x, 0), atol=1e-5)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--network", "shipped"], "argument --network: shipped: use LABEL=SOURCE"),
        (["--network", "a=optimize:1", "--photos", "0"], "argument --photos: 0: use a whole number, 1 or more"),
        (["--network", "a=optimize:1", "--size", "-5"], "argument --size: -5: use a whole number, 1 or more"),
        (["--network", "a=warm:bogus"], "--network warm:bogus: use warm:lstsq"),
        (["--network", "a=/nonexistent/last.ckpt"], "--network /nonexistent/last.ckpt: not a readable training"),
        (["--network", "a=optimize:1", "--network", "a=optimize:2"], "--network a=...: the label comes twice"),
        (["--network", "a=optimize:1", "--paintings", "3-2"], "argument --paintings: 3-2: use N (the first N"),
        (["--network", "a=optimize:1", "--paintings", "0"], "argument --paintings: 0: use N (the first N"),
    ],
)
def test_the_comparison_script_refuses_bad_arguments_in_one_line(capsys, args, message):
    from conftest import load_script

    with pytest.raises(SystemExit) as e:
        load_script("compare_arbitrary").main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and message in err[-1] and "Traceback" not in "\n".join(err)


def test_shipping_checks_the_step_of_the_checkpoint_or_of_the_labelled_run_file_the_comparison_measured():
    from conftest import load_script

    ship = load_script("ship_predictor")
    cards = {
        "a": {"model": "predictor", "steps": 1009},
        "b": {"model": "predictor", "from_checkpoint": "x", "steps": 7},
    }
    comparison = {"cards": {"row": {"model": "rows"}, **cards}}
    assert ship.measured_steps(comparison, None) == 7 and ship.measured_steps(comparison, "a") == 1009
    with pytest.raises(StylenetError, match="--label c: the comparison has no such network; its labels: row, a, b"):
        ship.measured_steps(comparison, "c")
    comparison["means"] = {"photo (unstylized)": {"style": 1.7}, "row": {"style": 0.3}, "a": {"style": 0.2}, "b": {}}
    comparison["cards"]["c"] = {"from_checkpoint": "other.ckpt", "steps": 9}  # another candidate, measured from its run
    comparison["means"]["c"] = {"style": 0.25}
    assert ship.card_means(comparison, "a") == {
        "photo (unstylized)": {"style": 1.7},
        "row": {"style": 0.3},
        "predictor": {"style": 0.2},
    }


def test_shipping_a_continued_run_records_its_command_and_the_steps_it_continued_from():
    from conftest import load_script

    ship = load_script("ship_predictor")
    assert ship.lineage(None, 650) == {"steps": 650, "command": ship.FIRST_RUN, "warm_start": ship.RIDGE_START}
    run = {
        "command": "python scripts/train.py experiment=predictor init_weights=predictor time_budget=6000",
        "recipe": {"warm_start": {"init_weights": "predictor", "init_steps": 650, "mode": "predictor"}},
        "time_budget": {"seconds": 6000.0, "planned_steps": 1051},
    }
    got = ship.lineage(run, 1050)
    assert (got["steps"], got["total_steps"], got["command"]) == (1050, 1700, run["command"])
    assert got["warm_start"].startswith("the predictor 'predictor' after 650 steps") and got["time_budget"]
    with pytest.raises(StylenetError, match="not the card of a run that continued a trained predictor"):
        ship.lineage({"recipe": {"warm_start": {"mode": "lstsq", "init_steps": "10 in its last run"}}}, 3)


def test_shipping_an_average_takes_the_mean_weights_and_only_the_file_the_comparison_measured(pred, tmp_path):
    import copy

    from conftest import load_script

    ship = load_script("ship_predictor")
    a, b = copy.deepcopy(pred), copy.deepcopy(pred)
    with torch.no_grad():
        for p in b.parameters():
            p.add_(torch.randn_like(p))
    expected = {k: (v + ship.file_tensors(b)[k]) / 2 for k, v in ship.file_tensors(a).items()}
    ship.average_into(a, [b])
    for k, v in ship.file_tensors(a).items():
        assert torch.allclose(v, expected[k], atol=1e-6), k
    measured = save_predictor(a, tmp_path / "avg.safetensors")
    ship.check_measured_tensors({"sources": {"avg": str(measured)}}, "avg", a)  # the very tensors: passes
    other = save_predictor(b, tmp_path / "b.safetensors")
    with pytest.raises(StylenetError, match="does not hold the average of these checkpoints"):
        ship.check_measured_tensors({"sources": {"avg": str(other)}}, "avg", a)
    with pytest.raises(StylenetError, match="--average needs --label"):
        ship.check_measured_tensors({"sources": {}}, None, a)
    wider = StylePredictor(NET, 32, ["relu1_2", "relu2_2"], {"weights": "random"}, style_size=32)
    with pytest.raises(StylenetError, match="not the same network"):
        ship.average_into(a, [wider])


def test_an_averages_card_lists_the_loss_and_identity_weights_its_runs_differ_on():
    from conftest import load_script

    ship = load_script("ship_predictor")
    loss = {"content_weight": 1.0, "style_weight": 2.5, "tv_weight": 5.0, "vgg": {"weights": "v.pth"}}
    runs = [
        {"loss": {"content_weight": 1.0, "style_weight": w, "tv_weight": 5.0, "identity_weight": 0.0}}
        for w in (2.5, 3.0)
    ]
    assert ship.card_loss(loss, runs) == {"content_weight": 1.0, "style_weight": [2.5, 3.0], "tv_weight": 5.0}
    assert ship.card_loss(loss, None) == {"content_weight": 1.0, "style_weight": 2.5, "tv_weight": 5.0}
    assert ship.card_loss(loss, None, 5.0)["identity_weight"] == 5.0  # trained with the identity term
    # an average of a run with the identity term and one without: each run's weight, in order
    mixed = [{"loss": {**runs[1]["loss"], "identity_weight": 5.0}}, {"loss": runs[0]["loss"]}]
    assert ship.card_loss(loss, mixed, 5.0)["identity_weight"] == [5.0, 0.0]


def test_the_card_holds_the_shipped_networks_strength_zero_distance_where_the_comparison_measured_it():
    from conftest import load_script

    ship = load_script("ship_predictor")
    comparison = {"strength_zero": {"j": {"mean": 0.06412, "max": 0.14, "per_photo": {}}}}
    assert ship.card_strength_zero(comparison, "j")["strength_zero"]["mean"] == 0.0641
    assert ship.card_strength_zero(comparison, "other") == {} and ship.card_strength_zero({}, "j") == {}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--write-average", "avg.safetensors"], "--write-average: give the checkpoints to average"),
        ([], "--comparison: required to ship"),
    ],
)
def test_shipping_arguments_that_cannot_work_are_one_line_errors(capsys, args, message):
    from conftest import load_script

    with pytest.raises(SystemExit) as e:
        load_script("ship_predictor").main(["x.ckpt", "--vgg", "v.pth", *args])
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and "Traceback" not in err


def test_a_run_card_of_another_run_is_refused():
    from conftest import load_script

    ship = load_script("ship_predictor")
    run = {
        "command": "c",
        "steps": 2989,
        "recipe": {"warm_start": {"mode": "predictor", "init_weights": "p", "init_steps": 5924}},
    }
    assert ship.lineage(run, 2989)["total_steps"] == 8913
    with pytest.raises(StylenetError, match="a card of a 2989-step run, for a checkpoint at step 3215"):
        ship.lineage(run, 3215)
