"""The install boundary: inference and the quality tools never need Lightning, Hydra or TensorBoard;
a wheel with the base dependencies only stylizes; an installed package trains from any folder."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SHARED_PHOTOS, SHARED_STYLES, SHARED_VGG, needs_shared

TRAINING_ONLY = ("pytorch_lightning", "lightning", "lightning_fabric", "hydra", "omegaconf", "tensorboard")
WEB_ONLY = ("starlette", "uvicorn")  # stylenet serve's stack: imported when it runs, never before


def test_inference_and_quality_tools_import_nothing_of_training_or_the_web_stack():
    code = f"""
import importlib, pkgutil, sys, torch, stylenet
for m in pkgutil.walk_packages(stylenet.__path__, "stylenet."):  # every module but training's and the web server's
    if not m.name.startswith(("stylenet.training", "stylenet.web", "stylenet.__main__")):
        importlib.import_module(m.name)
out = stylenet.stylize(torch.rand(3, 32, 32), "mosaic")
stylenet.cli.build_parser()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {TRAINING_ONLY + WEB_ONLY!r})
assert not loaded, loaded
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]


def base_closure(requires: list[str]) -> list:
    """The installed distributions that ``requires`` (Requirement strings) need, transitively, extras included."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    dists: dict[str, object] = {}
    done: set[tuple[str, str]] = set()
    todo = [(Requirement(r), "") for r in requires]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        key = req.name.lower().replace("_", "-")
        try:
            dist = dists.setdefault(key, distribution(req.name))
        except PackageNotFoundError:
            continue  # left for pip to report: the install below fails if it is needed
        for x in ("", *req.extras):
            if (key, x) not in done:
                done.add((key, x))
                todo += [(Requirement(r), x) for r in dist.requires or []]
    return list(dists.values())


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_with_the_base_dependencies_only_and_stylizes(tmp_path):
    """A fresh venv holding only the base dependencies' closure (linked from this venv: an index
    install of torch is gigabytes), the wheel installed with dependency checks and no index:
    pip finds the base requirements met, and without Lightning, Hydra or TensorBoard present
    the installed ``stylenet`` stylizes and ``stylenet train`` names the [train] extra."""
    import zipfile

    wheels = tmp_path / "wheels"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, ROOT], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = wheels.glob("stylenet-*.whl")
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith("METADATA"))).decode()
        names = z.namelist()
    base = [line.partition(":")[2].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    base = [b for b in base if "extra ==" not in b]
    assert base and not any(t in b.lower() for b in base for t in ("lightning", "hydra", "tensorboard"))
    assert "stylenet/styles/index.json" in names and "stylenet/configs/train.yaml" in names

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)  # pip from outside
    site = next((venv / "lib").glob("python3*/site-packages"))
    linked = set()
    for dist in base_closure(base):
        for f in dist.files or []:
            top = f.parts[0]
            if top not in linked and top != ".." and not (site / top).exists():
                (site / top).symlink_to(Path(dist.locate_file(top)))
                linked.add(top)
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-index"]
    quiet = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull}
    r = subprocess.run([*pip, wheel], capture_output=True, text=True, env=quiet)  # no index, no wheel folders
    assert r.returncode == 0, r.stderr[-2000:]  # every base requirement met by the closure alone

    from conftest import random_image

    random_image(40, 48).save(tmp_path / "photo.png")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    python = venv / "bin" / "python"
    r = subprocess.run([python, "-c", "import lightning"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode != 0 and "No module named 'lightning'" in r.stderr
    stylenet = [venv / "bin" / "stylenet"]
    r = subprocess.run(
        [*stylenet, "stylize", "photo.png", "--style", "mosaic", "-o", "out.png"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert r.returncode == 0 and (tmp_path / "out.png").is_file(), r.stderr[-2000:]
    r = subprocess.run(
        [python, "-c", "import stylenet; print(stylenet.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert r.stdout.startswith(str(site)), r.stdout  # the installed copy, not the repository's
    r = subprocess.run([*stylenet, "train", "style=mosaic"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 2 and "pip install 'stylenet[train]'" in r.stderr, r.stderr[-2000:]


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
