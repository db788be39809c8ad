"""The install boundary: inference and the quality tools never need Lightning, Hydra or TensorBoard;
a wheel with the base dependencies only stylizes; an installed package trains from any folder."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SHARED_PHOTOS, SHARED_STYLES, SHARED_VGG, needs_shared

TRAINING_ONLY = ("pytorch_lightning", "lightning", "lightning_fabric", "hydra", "omegaconf", "tensorboard")


def test_inference_and_quality_tools_import_nothing_of_training():
    code = f"""
import sys, torch, stylenet
import stylenet.cli, stylenet.evaluate, stylenet.optimize, stylenet.onnx_export, stylenet.bench
out = stylenet.stylize(torch.rand(3, 32, 32), "mosaic")
stylenet.cli.build_parser()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {TRAINING_ONLY!r})
assert not loaded, loaded
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]


BLOCK_TRAINING = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {TRAINING_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
"""


@pytest.mark.slow
def test_the_wheel_needs_only_the_base_dependencies_to_stylize(tmp_path):
    import zipfile

    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    r = subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", wheels, ROOT], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = wheels.glob("stylenet-*.whl")
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith("METADATA"))).decode()
        names = z.namelist()
    base = [line for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert base and not any(t in line.lower() for line in base for t in ("lightning", "hydra", "tensorboard"))
    assert "stylenet/styles/index.json" in names and "stylenet/configs/train.yaml" in names
    target = tmp_path / "site"
    r = subprocess.run([*pip, "install", "-q", "--no-deps", "--target", target, wheel], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    from conftest import random_image

    random_image(40, 48).save(tmp_path / "photo.png")
    code = (
        BLOCK_TRAINING
        + """
import stylenet, stylenet.cli
assert stylenet.__file__.startswith(sys.argv[1]), stylenet.__file__
assert stylenet.cli.main(["stylize", "photo.png", "--style", "mosaic", "-o", "out.png"]) == 0
assert stylenet.cli.main(["train", "style=mosaic"]) == 2
"""
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    r = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "out.png").is_file() and "pip install 'stylenet[train]'" in r.stderr


@pytest.mark.slow
@needs_shared
def test_stylenet_train_runs_from_outside_the_repository(tmp_path):
    stylenet = Path(sys.executable).parent / "stylenet"
    args = [
        "style=custom",
        f"style.image={SHARED_STYLES / 'mosaic.jpg'}",
        "style.size=64",
        f"data.root={SHARED_PHOTOS}",
        f"loss.vgg.weights={SHARED_VGG}",
        "data.image_size=32",
        "data.batch_size=2",
        "data.num_workers=0",
        "model.width=8",
        "model.blocks=1",
        "trainer.max_steps=2",
        "logger=none",
    ]
    r = subprocess.run([stylenet, "train", *args], capture_output=True, text=True, cwd=tmp_path, env={**os.environ})
    assert r.returncode == 0, r.stderr[-2000:]
    (weights,) = (tmp_path / "runs" / "mosaic").glob("*/mosaic.safetensors")
    import stylenet as sn

    assert sn.load(weights).card["steps"] == 2
