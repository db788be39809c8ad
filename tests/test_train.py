"""Training end to end on CPU: tiny generated photos, random VGG, a few steps."""

import logging
import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

import stylenet
from stylenet.errors import StylenetError
from stylenet.training.module import LossGuard, TrainingDiverged
from stylenet.training.train import train

from conftest import compose_config


def tensorboard_tags(folder) -> tuple[set[str], set[str]]:
    """Scalar and image tags over every event file of a run (the final validation adds one)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars, images = set(), set()
    events = sorted(folder.glob("events.out.tfevents.*"))
    assert events
    for f in events:
        acc = EventAccumulator(str(f))
        acc.Reload()
        scalars |= set(acc.Tags()["scalars"])
        images |= set(acc.Tags()["images"])
    return scalars, images


def test_train_checkpoint_export_load_stylize(tiny_overrides, tmp_path):
    result = train(compose_config(tiny_overrides))
    assert result.steps == 4
    assert result.checkpoint.is_file() and result.weights.is_file()
    # TensorBoard event files with scalars and image grids
    scalars, images = tensorboard_tags(result.output_dir / "tensorboard")
    assert {"train/total", "train/style", "train/content", "train/tv", "holdout/style"} <= scalars
    assert "preview" in images
    # the exported file is a working network with a complete card
    net = stylenet.load(result.weights)
    card = net.card
    assert card["style"] == "my_style" and card["steps"] == 4 and card["vgg"].startswith("vgg16 random")
    assert card["style_image"]["title"] == "user-supplied image"
    assert set(card["final_losses"]) >= {"train_style", "holdout_style"}
    out = stylenet.stylize(torch.rand(3, 40, 50), net)
    assert out.shape == (3, 40, 50)


def test_checkpoints_hold_no_vgg_and_plain_hyperparameters(tiny_overrides):
    result = train(compose_config(tiny_overrides))
    ckpt = torch.load(result.checkpoint, map_location="cpu", weights_only=True)  # no pickled code needed
    assert all(k.startswith("net.") for k in ckpt["state_dict"])
    assert "loss_guard" in ckpt


def test_resume_continues_with_the_same_step_count_and_optimizer_state(tiny_overrides, tmp_path):
    first = train(compose_config(tiny_overrides + ["trainer.max_steps=2"]))
    saved = torch.load(first.checkpoint, map_location="cpu", weights_only=True)
    assert saved["global_step"] == 2

    seen = {}

    class Spy(pl.Callback):
        def on_train_start(self, trainer, module):
            seen["step"] = trainer.global_step
            seen["exp_avg"] = trainer.optimizers[0].state_dict()["state"][0]["exp_avg"].clone()

    second_dir = tmp_path / "runs" / "my_style" / "run2"
    cfg = compose_config(tiny_overrides + ["trainer.max_steps=4", "resume=latest", f"paths.output_dir={second_dir}"])
    result = train(cfg, extra_callbacks=[Spy()])
    assert seen["step"] == 2
    assert torch.equal(seen["exp_avg"], saved["optimizer_states"][0]["state"][0]["exp_avg"])
    assert result.steps == 4 and result.output_dir == second_dir
    assert first.checkpoint.is_file()  # the first run's files are untouched


def test_loss_guard_detects_non_finite_and_spikes():
    g = LossGuard(spike_factor=10, warmup_steps=2)
    assert g.is_bad(math.nan) and g.is_bad(math.inf)
    for v in (5.0, 4.0, 3.0):
        assert not g.is_bad(v)
        g.accept(v)
    assert not g.is_bad(20.0) and g.is_bad(100.0)


class ForceBadSteps(pl.Callback):
    """Poisons the loss at chosen batch indices and records parameters around every batch."""

    def __init__(self, bad: set[int]):
        self.bad, self.changed, self.disc_changed = bad, {}, {}

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.before = [p.detach().clone() for p in module.net.parameters()]
        self.disc_before = [p.detach().clone() for p in module.disc.parameters()] if module.disc else []
        idx = trainer.fit_loop.total_batch_idx
        if idx in self.bad:
            forward = module.loss.forward

            def poisoned(y, x, style=None):
                parts = forward(y, x, style)
                parts.add("content", parts["content"], parts.weighted["content"] * float("nan"))
                module.loss.forward = forward
                return parts

            module.loss.forward = poisoned
        self.idx = idx

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        after = list(module.net.parameters())
        self.changed[self.idx] = any(not torch.equal(a, b) for a, b in zip(self.before, after))
        if module.disc is not None:
            disc = list(module.disc.parameters())
            self.disc_changed[self.idx] = any(not torch.equal(a, b) for a, b in zip(self.disc_before, disc))


def test_a_forced_bad_step_is_skipped_and_training_goes_on(tiny_overrides):
    spy = ForceBadSteps({1})
    result = train(compose_config(tiny_overrides), extra_callbacks=[spy])
    assert spy.changed[1] is False and spy.changed[0] and spy.changed[2]
    assert result.steps == 4  # the skipped batch did not count as a step
    assert stylenet.load(result.weights).card["skipped_steps"] == 1


def test_persistent_bad_steps_stop_with_the_last_good_checkpoint(tiny_overrides):
    spy = ForceBadSteps(set(range(2, 100)))
    cfg = compose_config(tiny_overrides + ["trainer.max_steps=50", "guard.max_consecutive=3"])
    with pytest.raises(TrainingDiverged, match=r"3 bad steps in a row .*last good checkpoint: .*step0000002\.ckpt"):
        train(cfg, extra_callbacks=[spy])


@pytest.mark.parametrize(
    "override,message",
    [
        ("style.image=/nonexistent/painting.jpg", r"style image /nonexistent/painting.jpg not found; .*style.image="),
        ("data.root=/nonexistent/photos", r"data.root '/nonexistent/photos' is not a folder"),
        ("loss.vgg.weights=/nonexistent/vgg.pth", r"VGG weights '/nonexistent/vgg.pth' is neither a file"),
        ("trainer.precision=16-mixed", r"trainer.precision=16-mixed is not supported"),
        ("resume=latest", r"resume=latest: no checkpoints/last.ckpt under"),
    ],
)
def test_bad_input_fails_before_training_with_one_line(tiny_overrides, override, message, tmp_path):
    with pytest.raises(StylenetError, match=message) as e:
        train(compose_config(tiny_overrides + [override]))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "runs" / "my_style" / "run" / "checkpoints").exists()


def test_mismatched_vgg_file_fails_before_training(tiny_overrides, tmp_path):
    bad = tmp_path / "vgg19.pth"
    torch.save({"features.0.weight": torch.zeros(3, 3, 3, 3)}, bad)
    with pytest.raises(StylenetError, match="do not match vgg16"):
        train(compose_config(tiny_overrides + [f"loss.vgg.weights={bad}"]))
    assert not (tmp_path / "runs" / "my_style" / "run" / "checkpoints").exists()


def test_init_weights_starts_training_from_an_exported_network(tiny_overrides, weights_file, small_net):
    seen = {}

    class Spy(pl.Callback):
        def on_train_start(self, trainer, module):
            seen["state"] = {k: v.clone() for k, v in module.net.state_dict().items()}

    from stylenet.io.weights import save_weights

    start = save_weights(small_net, weights_file.with_name("start.safetensors"), {"style": "tiny", "steps": 2000})
    result = train(compose_config(tiny_overrides + [f"init_weights={start}"]), extra_callbacks=[Spy()])
    assert all(torch.equal(seen["state"][k], v) for k, v in small_net.state_dict().items())
    card = stylenet.load(result.weights).card
    assert card["recipe"]["init_weights"] == str(start) and card["steps"] == 4
    assert card["total_steps"] == 2004  # the start's 2,000 steps from random, then these 4
    # a start that was itself a fine-tune with no recorded total: the total is unknown, so none is written
    tuned = save_weights(small_net, weights_file.with_name("tuned.safetensors"), {**card, "total_steps": None})
    out = f"{tiny_overrides[-2]}2"  # another run folder
    again = train(compose_config(tiny_overrides + [f"init_weights={tuned}", out]))
    assert "total_steps" not in stylenet.load(again.weights).card


def test_init_weights_of_another_architecture_is_a_clear_error(tiny_overrides, weights_file):
    with pytest.raises(StylenetError, match="init_weights=.*model="):
        train(compose_config(tiny_overrides + [f"init_weights={weights_file}", "model.width=16"]))


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_run_saves_last_ckpt_and_resumes_from_it(tiny_overrides, tmp_path, how):
    import os
    import signal

    class Interrupt(pl.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            if trainer.global_step == 3:
                if how == "sigterm":
                    os.kill(os.getpid(), signal.SIGTERM)  # what `kill PID` sends
                else:
                    raise KeyboardInterrupt

    overrides = tiny_overrides + ["trainer.max_steps=6", "checkpoint_every_n_steps=100"]
    with pytest.raises(SystemExit):
        train(compose_config(overrides), extra_callbacks=[Interrupt()])
    last = tmp_path / "runs" / "my_style" / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] >= 3

    second = compose_config(
        overrides + ["resume=latest", f"paths.output_dir={tmp_path / 'runs' / 'my_style' / 'run2'}"]
    )
    assert train(second).steps == 6


# -- multi-style training ------------------------------------------------------------------
def _two_styles(tiny_overrides, tmp_path, steps=4):
    from stylenet.training.config import StyleConfig

    from conftest import random_image

    for name, seed in (("a", 1), ("b", 2)):
        random_image(64, 64, seed=seed).save(tmp_path / f"{name}.png")
    out = tmp_path / "runs" / "duo" / "run"
    cfg = compose_config(
        tiny_overrides
        + ["styles.name=duo", "optim.table_lr=0.02", f"trainer.max_steps={steps}", f"paths.output_dir={out}"]
    )
    cfg.styles.members = {
        "a": StyleConfig(image=str(tmp_path / "a.png"), size=48),
        "b": StyleConfig(image=str(tmp_path / "b.png"), size=48, weight=2.0),
    }
    return cfg


def test_a_multi_style_run_trains_one_network_for_every_style(tiny_overrides, tmp_path):
    seen = {}

    class Spy(pl.Callback):
        def on_train_start(self, trainer, module):
            seen["lrs"] = sorted(g["lr"] for g in trainer.optimizers[0].param_groups)
            seen["tables"] = [p.detach().clone() for p in module.net.parameters() if p.dim() == 2]
            # the loss weights each member's style term by its own weight (a: the default 5, b: 2)
            seen["scale"] = module.loss.style_scale.tolist()
            with torch.no_grad():
                x = torch.rand(2, 3, 32, 32, device=module.device)
                y = torch.rand(2, 3, 32, 32, device=module.device)
                terms = module.loss(y, x, torch.tensor([0, 1], device=module.device))
                seen["weighted"] = float(terms.weighted["style"])
                seen["each"] = module.loss.last_style_each.tolist()

        def on_train_end(self, trainer, module):
            seen["after"] = [p.detach().clone() for p in module.net.parameters() if p.dim() == 2]

    result = train(_two_styles(tiny_overrides, tmp_path), extra_callbacks=[Spy()])
    assert seen["lrs"] == [1e-3, 0.02]  # the tables have their own learning rate
    assert seen["scale"] == [5.0, 2.0]
    assert seen["weighted"] == pytest.approx((5.0 * seen["each"][0] + 2.0 * seen["each"][1]) / 2, rel=1e-6)
    assert all(
        not torch.equal(b[0], a[0]) and not torch.equal(b[1], a[1]) for b, a in zip(seen["tables"], seen["after"])
    )
    net = stylenet.load(result.weights)
    assert net.num_styles == 2 and net.style_names == ["a", "b"]
    card = net.card
    assert card["style"] == "duo" and set(card["styles"]) == {"a", "b"} and card["styles"]["b"]["style_weight"] == 2.0
    assert {"holdout_style/a", "holdout_style/b"} <= set(result.losses)
    # its checkpoint exports (and installs) under the network's name, not the file's ("last"), wherever it lies
    import shutil

    from stylenet.io.weights import checkpoint_to_weights

    moved = shutil.copy(result.checkpoint, tmp_path / "last.ckpt")
    exported = checkpoint_to_weights(moved, tmp_path / "exported.safetensors")
    assert stylenet.load(exported).card["style"] == "duo" and stylenet.styles.install.install(exported).name == "duo"
    scalars, images = tensorboard_tags(result.output_dir / "tensorboard")
    assert {"preview/a", "preview/b"} <= images
    assert {"train/style/a", "train/style/b", "holdout/style/a"} <= scalars
    x = torch.rand(1, 3, 32, 32)
    assert (stylenet.stylize(x, "a", network=net) - stylenet.stylize(x, "b", network=net)).abs().mean() > 0


def test_batches_rotate_through_every_style_equally():
    from stylenet.training.module import StyleTransferModule

    module = StyleTransferModule(
        net={"width": 8, "blocks": 1, "num_styles": 3},
        loss={"vgg": {"weights": "random"}, "content_layers": ["relu2_2"], "style_layers": ["relu1_2"]},
        optim={"lr": 1e-3},
        styles=[{"name": n, "image": "", "row": i} for i, n in enumerate("abc")],
        style_names=list("abc"),
    )
    drawn = torch.cat([module.batch_styles(4, step) for step in range(3)])
    assert torch.bincount(drawn, minlength=3).tolist() == [4, 4, 4]


def test_adding_a_style_trains_only_its_new_row(tiny_overrides, tmp_path):
    first = train(_two_styles(tiny_overrides, tmp_path))
    out = tmp_path / "runs" / "my_style" / "added"
    cfg = compose_config(
        tiny_overrides + [f"init_weights={first.weights}", "train_only=norm", f"paths.output_dir={out}"]
    )
    result = train(cfg)
    old, new = stylenet.load(first.weights), stylenet.load(result.weights)
    assert new.style_names == ["a", "b", "my_style"] and set(new.card["styles"]) == {"a", "b", "my_style"}
    assert new.card["styles"]["a"] == old.card["styles"]["a"]  # the old styles' card blocks are kept
    before, after = old.state_dict(), new.state_dict()
    for k, v in before.items():
        if v.dim() == 2:  # old rows untouched, the new row trained away from its start (the mean row)
            assert torch.equal(after[k][:2], v)
            assert not torch.equal(after[k][2], v.mean(0))
        else:  # convolutions frozen
            assert torch.equal(after[k], v)


def test_train_only_norm_needs_a_multi_style_start(tiny_overrides):
    with pytest.raises(StylenetError, match="train_only=norm trains only a multi-style network"):
        train(compose_config(tiny_overrides + ["train_only=norm"]))


def test_a_multi_style_run_resumes_with_its_tables(tiny_overrides, tmp_path):
    first = train(_two_styles(tiny_overrides, tmp_path, steps=2))
    cfg = _two_styles(tiny_overrides, tmp_path, steps=4)
    cfg.resume = str(first.checkpoint)
    cfg.paths.output_dir = str(tmp_path / "runs" / "duo" / "resumed")
    seen = {}

    class Spy(pl.Callback):
        def on_train_start(self, trainer, module):
            seen["step"] = trainer.global_step
            seen["table"] = module.net.encoder[0][1].weight.detach().clone()

    result = train(cfg, extra_callbacks=[Spy()])
    saved = torch.load(first.checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    assert seen["step"] == 2 and torch.equal(seen["table"], saved["net.encoder.0.1.weight"])
    assert result.steps == 4 and stylenet.load(result.weights).style_names == ["a", "b"]


@pytest.mark.slow
def test_a_hydra_sweep_trains_each_job_and_resume_finds_sweep_runs(tiny_overrides, tmp_path):
    import subprocess
    import sys

    from stylenet.training.train import find_checkpoint

    from conftest import ROOT

    overrides = [o for o in tiny_overrides if not o.startswith("paths.output_dir")] + ["logger=none"]
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "-m", *overrides, "seed=0,1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    jobs = sorted((tmp_path / "runs" / "multirun").glob("*/*_my_style"))
    assert [j.name for j in jobs] == ["0_my_style", "1_my_style"]
    assert all((j / "my_style.safetensors").is_file() for j in jobs)
    found = find_checkpoint("latest", tmp_path / "runs", "my_style")
    assert found.parent.parent in jobs


def test_sweep_values_of_a_group_are_each_checked(capsys):
    from stylenet.cli.errors import check_group_overrides

    from conftest import CONFIG_DIR

    check_group_overrides(CONFIG_DIR, ["style=mosaic,candy", "style=glob(*)"])  # no error
    with pytest.raises(SystemExit):
        check_group_overrides(CONFIG_DIR, ["style=mosaic,cnady"])
    assert "unknown style 'cnady'" in capsys.readouterr().err


def test_warmup_then_cosine_schedule_reaches_its_floor(tiny_overrides):
    lrs, after = [], []

    class Spy(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            after.append(trainer.optimizers[0].param_groups[0]["lr"])

    overrides = ["optim.schedule=cosine", "optim.warmup_steps=2", "optim.min_lr_ratio=0.1", "trainer.max_steps=6"]
    train(compose_config(tiny_overrides + overrides), extra_callbacks=[Spy()])
    # warmup 1/2, 2/2 of lr 1e-3, then 0.1 + 0.9 (1 + cos(pi t / 4)) / 2 for t = 0..3, written out
    assert lrs == pytest.approx([5e-4, 1e-3, 1e-3, 8.681981e-4, 5.5e-4, 2.318019e-4], rel=1e-6)
    assert after[-1] == pytest.approx(1e-4, rel=1e-6)  # the last step leaves it at the floor, 0.1 x lr


def test_an_epoch_based_run_validates_per_epoch_and_spreads_its_cosine_over_every_step(tiny_overrides):
    lrs, validations = [], []

    class Spy(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

        def on_validation_start(self, trainer, module):
            if trainer.state.fn == "fit" and not trainer.sanity_checking:  # not the final trainer.validate
                validations.append(trainer.global_step)

    overrides = ["optim.schedule=cosine", "optim.min_lr_ratio=0.1", "trainer.max_steps=-1", "trainer.max_epochs=2"]
    overrides += ["preview_every_n_steps=0", "checkpoint_every_n_steps=0"]
    result = train(compose_config(tiny_overrides + overrides), extra_callbacks=[Spy()])
    assert result.steps == len(lrs) == 10  # 10 training photos, batches of 2, two epochs
    assert validations in ([5, 10], [10])  # per epoch or at the end, never every step
    assert lrs[0] == pytest.approx(1e-3) and lrs[5] == pytest.approx(5.5e-4, rel=1e-6)  # half way: 0.1 + 0.9 / 2
    assert all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] > 1e-4


def test_held_out_losses_come_from_the_validation_loop_and_checkpoints_can_monitor_them(tiny_overrides, tmp_path):
    from omegaconf import OmegaConf
    from pytorch_lightning.callbacks import ModelCheckpoint

    from stylenet.io.images import load_image
    from stylenet.loss.perceptual import build_perceptual_loss
    from stylenet.training.data import PhotoDataModule, PhotoDataset

    # more held-out photos (5) than previews (2), in batches of 2, 2 and 1
    # in fp32 on any CPU, so that the figures can be compared exactly
    cfg = compose_config(tiny_overrides + ["data.holdout=5", "data.preview=2", "trainer.precision=32-true"])
    best = ModelCheckpoint(dirpath=tmp_path / "best", monitor="holdout/total", mode="min", save_top_k=1)
    result = train(cfg, extra_callbacks=[best])
    assert best.best_model_path and best.best_model_score is not None  # saved on a held-out loss
    assert {"holdout_total", "holdout_content", "holdout_style"} <= set(result.losses)
    # the logged figure is the mean over every held-out photo, not a preview subset
    data = PhotoDataModule(**cfg.data)
    data.scan()
    held = PhotoDataset(data.holdout_files, cfg.data.image_size, random_crop=False)  # centre crops
    photos = torch.stack([held[i] for i in range(len(held))]).float() / 255
    assert len(photos) == 5 > cfg.data.preview
    net = stylenet.load(result.weights)
    loss = build_perceptual_loss(OmegaConf.to_container(cfg.loss, resolve=True))
    loss.set_style(load_image(cfg.style.image, cfg.style.size))
    with torch.no_grad():
        each = [loss(net(p[None]), p[None]) for p in photos]  # one photo at a time
    for term in ("content", "style", "total"):
        values = torch.tensor([float(e[term]) for e in each])
        assert result.losses[f"holdout_{term}"] == pytest.approx(float(values.mean()), rel=1e-4)
        # the preview photos alone, or an unweighted mean of the batch means, give other figures
        assert float(values[: cfg.data.preview].mean()) != pytest.approx(float(values.mean()), rel=1e-3)
        batch_means = torch.stack([values[:2].mean(), values[2:4].mean(), values[4:].mean()]).mean()
        assert float(batch_means) != pytest.approx(float(values.mean()), rel=1e-3)


ADVERSARIAL = ["loss.adversarial.weight=0.1", "loss.adversarial.crop=16", "loss.adversarial.channels=8"]


def test_an_adversarial_run_trains_both_networks_resumes_both_and_exports_the_generator(tiny_overrides, tmp_path):
    first = train(compose_config(tiny_overrides + ADVERSARIAL + ["trainer.max_steps=2"]))
    saved = torch.load(first.checkpoint, map_location="cpu", weights_only=True)
    assert any(k.startswith("disc.") for k in saved["state_dict"])
    assert len(saved["optimizer_states"]) == 2  # the network's Adam and the discriminator's
    assert saved["global_step"] == 2 and first.steps == 2  # a step is one step of both
    assert int(saved["optimizer_states"][1]["state"][0]["step"]) == 2
    assert {"train_adversarial", "train_adversarial/d_accuracy"} <= set(first.losses)
    scalars, _ = tensorboard_tags(first.output_dir / "tensorboard")
    assert {"train/adversarial", "train/adversarial/d_loss", "train/adversarial/d_accuracy"} <= scalars
    exported = stylenet.load(first.weights)
    assert not any("disc" in k for k in exported.state_dict())  # users get the generator only
    assert exported.card["loss"]["adversarial"]["weight"] == 0.1

    seen = {}

    class Spy(pl.Callback):
        def on_train_start(self, trainer, module):
            seen["disc"] = {k: v.clone() for k, v in module.disc.state_dict().items()}
            seen["exp_avg"] = trainer.optimizers[1].state_dict()["state"][0]["exp_avg"].clone()

    second = tmp_path / "runs" / "my_style" / "run2"
    cfg = compose_config(
        tiny_overrides + ADVERSARIAL + ["trainer.max_steps=4", "resume=latest", f"paths.output_dir={second}"]
    )
    assert train(cfg, extra_callbacks=[Spy()]).steps == 4
    for k, v in seen["disc"].items():
        assert torch.equal(v, saved["state_dict"][f"disc.{k}"])
    assert torch.equal(seen["exp_avg"], saved["optimizer_states"][1]["state"][0]["exp_avg"])


def test_resuming_without_the_discriminator_it_was_trained_with_is_a_clear_error(tiny_overrides, tmp_path):
    train(compose_config(tiny_overrides + ADVERSARIAL + ["trainer.max_steps=2"]))
    second = tmp_path / "runs" / "my_style" / "run2"
    with pytest.raises(ValueError, match="trained with loss.adversarial"):
        train(compose_config(tiny_overrides + ["trainer.max_steps=3", "resume=latest", f"paths.output_dir={second}"]))


def test_a_bad_step_updates_neither_the_network_nor_the_discriminator(tiny_overrides):
    spy = ForceBadSteps({1})
    result = train(compose_config(tiny_overrides + ADVERSARIAL), extra_callbacks=[spy])
    assert spy.changed[1] is False and spy.changed[0]
    assert spy.disc_changed[1] is False and spy.disc_changed[0]
    assert result.steps == 4


@pytest.mark.filterwarnings("ignore:Found keys that are in the model state dict")  # the VGG, rebuilt
def test_the_stability_term_is_a_named_weighted_term_of_the_loss(tiny_overrides):
    from stylenet.training.module import StyleTransferModule

    cfg = compose_config(tiny_overrides + ["loss.stability.weight=3", "loss.stability.noise=0.05"])
    result = train(cfg)
    assert result.losses["train_stability"] > 0
    assert stylenet.load(result.weights).card["loss"]["stability"]["weight"] == 3
    module = StyleTransferModule.load_from_checkpoint(result.checkpoint, map_location="cpu")
    module.setup("fit")
    torch.manual_seed(0)
    terms = module.step_losses(torch.rand(2, 3, 32, 32))
    assert set(terms.weighted) == {"content", "style", "tv", "stability"}
    assert torch.isclose(terms["total"], sum(terms.weighted.values()))
    assert torch.isclose(terms.weighted["stability"], 3 * terms["stability"])


def test_a_style_weight_of_zero_is_kept_and_none_takes_the_default(style_image):
    from stylenet.training.module import StyleTransferModule

    module = StyleTransferModule(
        net={"width": 8, "blocks": 1, "num_styles": 3},
        loss={
            "vgg": {"weights": "random"},
            "content_layers": ["relu2_2"],
            "style_layers": ["relu1_2"],
            "style_weight": 5.0,
        },
        optim={"lr": 1e-3},
        styles=[
            {"name": n, "image": str(style_image), "row": i, "weight": w}
            for i, (n, w) in enumerate([("a", 0.0), ("b", None), ("c", 2.5)])
        ],
        style_names=list("abc"),
    )
    module.setup("fit")
    assert module.loss.style_scale.tolist() == [0.0, 5.0, 2.5]


def test_extra_roots_are_trained_on_and_leave_the_held_out_split_of_root(tiny_overrides, photo_dir, tmp_path):
    from stylenet.io.images import list_images
    from stylenet.io.photos import split_holdout
    from stylenet.training.data import PhotoDataModule

    from conftest import random_image

    more = tmp_path / "more"
    more.mkdir()
    for i in range(5):
        random_image(40, 44, seed=50 + i).save(more / f"m{i}.jpg")
    data = PhotoDataModule(str(photo_dir), 32, 2, 0, holdout=3, extra_roots=[str(more)])
    data.scan()
    train_alone, held_alone = split_holdout(list_images(photo_dir), photo_dir, 3)
    assert data.holdout_files == held_alone
    assert data.train_files == train_alone + sorted(more.glob("*.jpg")) and len(data.extra_files) == 5
    with pytest.raises(StylenetError, match="extra_roots"):
        PhotoDataModule(str(photo_dir), 32, 2, 0, holdout=3, extra_roots=[str(tmp_path / "nowhere")]).scan()
    result = train(compose_config(tiny_overrides + [f"data.extra_roots=[{more}]", "data.holdout=2"]))
    td = stylenet.load(result.weights).card["training_data"]
    assert td["photos"] == 10 + 5 and td["extra_photos"] == 5 and td["extra_roots"] == [str(more)]


@pytest.mark.slow
def test_a_time_budget_fits_max_steps_and_the_cosine_to_the_time_and_still_exports(tiny_overrides):
    import time

    class Slow(pl.Callback):  # 200 ms more a step: at most 100 steps fit in the budget
        def on_train_batch_end(self, trainer, module, *args):
            time.sleep(0.2)
            self.lr = trainer.optimizers[0].param_groups[0]["lr"]

    spy = Slow()
    overrides = ["trainer.max_steps=100000", "optim.schedule=cosine", "preview_every_n_steps=0"]
    overrides += ["checkpoint_every_n_steps=1000", "logger=none", "time_budget=20", "time_budget_warmup_steps=4"]
    t0 = time.time()
    result = train(compose_config(tiny_overrides + overrides), extra_callbacks=[spy])
    fit = time.time() - t0
    budget = stylenet.load(result.weights).card["time_budget"]
    assert 8 < result.steps < 100 and fit < 40  # the budget counts from the run's start, setup included
    assert budget["planned_steps"] is not None and budget["steps_per_second"] > 0
    # the schedule ran its course to about its floor (0.1 x lr) where the run stopped
    assert spy.lr < 3e-4
    saved = torch.load(result.checkpoint, weights_only=False)
    assert saved["global_step"] == result.steps
    assert saved["schedule"] == {"steps": budget["planned_steps"], "planned": 100000}

    class Watch(pl.Callback):  # the resumed run's learning rates; a runaway stops after 10 steps
        lrs: list = []

        def on_train_batch_start(self, trainer, module, *args):
            self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])
            trainer.should_stop = trainer.global_step >= budget["planned_steps"] + 10

    watch = Watch()  # resumed without a budget: it keeps the fitted cosine and ends where it was planned to
    again = [o for o in tiny_overrides + overrides if not o.startswith(("time_budget=", "paths.output_dir="))]
    again += [f"resume={result.checkpoint}", f"paths.output_dir={Path(result.checkpoint).parents[2] / 'resumed'}"]
    resumed = train(compose_config(again), extra_callbacks=[watch])
    assert resumed.steps == max(budget["planned_steps"], result.steps)
    assert all(lr < 3e-4 for lr in watch.lrs)  # not back up the cosine of 100,000 steps (1e-3 at its start)


def test_last_ckpt_holds_the_final_step_when_a_run_ends_between_two_checkpoints(tiny_overrides, caplog):
    overrides = ["trainer.max_steps=5", "checkpoint_every_n_steps=3", "preview_every_n_steps=100", "logger=none"]
    with caplog.at_level(logging.INFO):
        result = train(compose_config(tiny_overrides + overrides))
    assert result.steps == 5
    saved = torch.load(result.checkpoint, weights_only=True)
    assert saved["global_step"] == 5 and saved["optimizer_states"]  # not 3: nothing to train again; resumable
    assert "weights_only" not in caplog.text  # Lightning's note on every run's last lines, for a choice made here


def test_the_fused_adam_is_fused_and_updates_as_the_per_tensor_loop_does():
    from stylenet.training.module import adam

    torch.manual_seed(0)
    a = list(stylenet.TransformerNet(width=8, blocks=1).parameters())
    b = [p.detach().clone().requires_grad_() for p in a]
    start = [p.detach().clone() for p in a]
    fused, loop = adam(a, 1e-2), torch.optim.Adam(b, lr=1e-2, foreach=False)
    assert fused.defaults["fused"]
    for _ in range(3):  # the same gradients into both
        for p, q in zip(a, b):
            p.grad = torch.randn_like(p)
            q.grad = p.grad.clone()
        fused.step()
        loop.step()
    for p, q, s in zip(a, b, start):
        assert torch.allclose(p, q, atol=1e-6), (p - q).abs().max()
        assert (p - s).abs().max() > 1e-3  # and it did update


def test_a_run_whose_last_step_was_just_validated_is_not_validated_again(tiny_overrides, monkeypatch):
    """max_steps a multiple of the preview interval (the recipe's 40,000 and 200): the held-out
    losses of the last step's validation are the final ones, not a second pass over the photos."""
    from stylenet.training.module import StyleTransferModule

    passes = []  # a Lightning hook the module does not override
    monkeypatch.setattr(StyleTransferModule, "on_validation_epoch_end", lambda self: passes.append(self.global_step))
    result = train(compose_config(tiny_overrides))  # 4 steps, validation every 2
    assert passes == [2, 4]
    assert result.steps == 4 and result.losses["holdout_total"] > 0
