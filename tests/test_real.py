"""Slow checks: real VGG weights and photos from ../shared, and DDP with two CPU processes."""

import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf

import stylenet
from stylenet.io.images import list_images, load_image
from stylenet.io.photos import load_photo, split_holdout
from stylenet.loss.perceptual import build_perceptual_loss
from stylenet.training.train import train

from conftest import ROOT, SHARED_PHOTOS, compose_config, needs_shared

pytestmark = pytest.mark.slow


@needs_shared
def test_training_on_real_photos_lowers_the_held_out_style_loss(tmp_path):
    """24 steps at 128 px from scratch (about 0.63x the untrained network's held-out style loss on an
    AVX2 CPU; 40 steps reach 0.59x at twice the time, and this test is the suite's longest)."""
    cfg = compose_config(
        [
            "style=starry_night",
            "paths=shared",
            "data.image_size=128",
            "data.num_workers=1",
            "trainer=cpu",
            "trainer.max_steps=24",
            "trainer.enable_model_summary=false",
            "preview_every_n_steps=0",
            "checkpoint_every_n_steps=24",
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.runs_dir={tmp_path}",
        ]
    )
    result = train(cfg)
    loss = build_perceptual_loss(OmegaConf.to_container(cfg.loss, resolve=True))
    loss.set_style(load_image(cfg.style.image, cfg.style.size))
    _, held = split_holdout(list_images(SHARED_PHOTOS), SHARED_PHOTOS, cfg.data.holdout)
    photos = torch.stack([load_photo(p, 128) for p in held]).float() / 255

    def style_of(net=None) -> float:
        with torch.no_grad():
            y = photos if net is None else net(photos)
            return float(loss(y, photos)["style"])

    torch.manual_seed(cfg.seed)
    untrained = stylenet.TransformerNet(**cfg.model).eval()
    before, after, raw = style_of(untrained), style_of(stylenet.load(result.weights)), style_of()
    print(f"held-out style loss: photos {raw:.3f}, untrained {before:.3f}, after 24 steps {after:.3f}")
    assert after < 0.7 * before and after < raw


def _ddp_run(tiny_overrides, run_dir, drop=(), before=(), after=()) -> subprocess.CompletedProcess:
    """scripts/train.py on two gloo CPU processes: the tiny run's trainer and folder replaced."""
    keep = [a for a in tiny_overrides if not a.startswith(("trainer=", "paths.output_dir=", *drop))]
    ddp = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.max_steps=3"]
    args = [*before, *keep, *after, *ddp, f"hydra.run.dir={run_dir}"]
    r = subprocess.run(
        [sys.executable, "scripts/train.py", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_a_4000x3000_photo_with_exif_rotation_stays_under_2_gb(tmp_path):
    """The CLI's peak RSS on a 12-megapixel photo: tiles that share the whole image's statistics,
    output buffers written in place, freed activations returned to the OS. The compact network
    (width 16) runs the same tiling path at a quarter of the default network's arithmetic (the
    default's 3-minute run dominated the suite); untiled, one of its full-size activations alone
    would be 0.77 GB. The default network's peak is in docs/performance.md#large-images."""
    from PIL import Image

    from stylenet import TransformerNet
    from stylenet.io.weights import save_weights

    from conftest import random_image

    torch.manual_seed(0)
    weights = save_weights(TransformerNet(width=16, depthwise=True, edge_kernel=5), tmp_path / "compact.safetensors")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed portrait
    src = tmp_path / "big.jpg"
    random_image(750, 1000).resize((4000, 3000)).save(src, quality=90, exif=exif.tobytes())
    script = (
        "import sys; from stylenet.cli import main; from stylenet.quality.bench import own_peak_rss_mb; "
        "code = main(sys.argv[1:]); print('peak_mb', own_peak_rss_mb()); sys.exit(code)"
    )
    out = tmp_path / "out.jpg"
    r = subprocess.run(
        [sys.executable, "-c", script, "stylize", str(src), "--style", str(weights), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    peak_mb = float(r.stdout.split("peak_mb")[1])
    print(f"4000x3000 stylize: peak RSS {peak_mb:.0f} MB")
    assert Image.open(out).size == (3000, 4000)
    assert peak_mb < 1536  # measured 1151 MB (AVX2 machine, torch 2.14.1 CUDA wheel)


def test_an_adversarial_run_trains_with_ddp_and_rank_0_alone_exports(tmp_path, tiny_overrides):
    """Two gloo CPU processes (each costs seconds to start, so one run checks both): rank 0 alone
    exports; the discriminator's step leaves the network's parameters without gradients, which
    DDP must allow."""
    run_dir = tmp_path / "run"
    adversarial = ["loss.adversarial.weight=0.1", "loss.adversarial.crop=16", "loss.adversarial.channels=8"]
    r = _ddp_run(tiny_overrides, run_dir, after=adversarial)
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in r.stderr + r.stdout
    assert r.stdout.count("exported ") == 1  # rank 0 alone writes the weights file
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert len(ckpt["optimizer_states"]) == 2 and any(k.startswith("disc.") for k in ckpt["state_dict"])
    assert stylenet.load(run_dir / "my_style.safetensors").card["steps"] == 3


def test_a_multi_style_network_trains_with_ddp_from_a_users_config_folder(tmp_path, tiny_overrides, style_image):
    """Two CPU processes, two styles listed in the user's own styles/ config (--config-dir)."""
    extra = tmp_path / "my_configs" / "styles"
    extra.mkdir(parents=True)
    (extra / "duo.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - /style@styles.members.a: custom\n  - /style@styles.members.b: custom\n"
        f"styles:\n  name: duo\n  members:\n    a: {{image: '{style_image}', size: 48}}\n"
        f"    b: {{image: '{style_image}', size: 32, weight: 2.0}}\n"
    )
    run_dir = tmp_path / "run"
    config_dir = [f"--config-dir={tmp_path / 'my_configs'}"]
    _ddp_run(tiny_overrides, run_dir, drop=("style=", "style."), before=config_dir, after=["styles=duo"])
    net = stylenet.load(run_dir / "duo.safetensors")
    assert net.style_names == ["a", "b"] and net.card["steps"] == 3 and net.card["styles"]["b"]["style_weight"] == 2.0
