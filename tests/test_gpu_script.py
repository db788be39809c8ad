"""scripts/gpu_train.sh in its tiny CPU mode (DRY=1): the device run's script, end to end, here, for each recipe."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import ROOT, SHARED, needs_shared


@pytest.mark.slow
@needs_shared
def test_the_gpu_script_trains_exports_and_writes_every_file_in_its_tiny_mode(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "DRY": "1", "STAGE": "none", "SHARED": str(SHARED), "OUT": str(out), "PYTHON": sys.executable}
    env["PYTHONPATH"] = ""  # the script puts its own tree first
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_train.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"run/card.json", "run/classic.safetensors", "steps_per_second.txt", "train.log", "run.tar.00"} <= files
    assert len(files) <= 8  # what the device tool returns
    assert all(p.stat().st_size <= 16 << 20 for p in out.rglob("*") if p.is_file())
    card = json.loads((out / "run" / "card.json").read_text())
    assert card["steps"] == 3 and card["recipe"]["init_weights"].endswith("classic.safetensors")
    assert (
        card["training_data"]["extra_photos"] == 600
        and card["training_data"]["holdout"] == 4
        and card["time_budget"]["planned_steps"] == 3
    )
    assert len(card["styles"]) == 10 and card["recipe"]["image_size"] == 64
    speed = (out / "steps_per_second.txt").read_text()
    assert "steps_per_second" in speed and "batch: 2" in speed and "frames/s" in speed and "precision: 32-true" in speed
    parts = sorted(out.glob("run.tar.*"))
    whole = tmp_path / "run.tar"
    whole.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(whole) as tar:
        names = tar.getnames()
    assert "run/checkpoints/last.ckpt" in names and "run/classic.safetensors" in names
    assert any(n.startswith("run/tensorboard/events.out.tfevents") for n in names)
    assert "== summary" in done.stdout and "ship_styles.py" in done.stdout


@pytest.mark.slow
@needs_shared
def test_the_gpu_script_trains_the_style_predictor_from_the_shipped_one_in_its_tiny_mode(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "DRY": "1", "RECIPE": "predictor", "STAGE": "none", "SHARED": str(SHARED), "OUT": str(out)}
    env.update(PYTHON=sys.executable, PYTHONPATH="")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_train.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"run/card.json", "run/predictor.safetensors", "steps_per_second.txt", "train.log", "run.tar.00"} <= files
    assert len(files) <= 8 and all(p.stat().st_size <= 16 << 20 for p in out.rglob("*") if p.is_file())
    card = json.loads((out / "run" / "card.json").read_text())
    assert card["model"] == "predictor" and card["steps"] == 3 and card["time_budget"]["planned_steps"] == 3
    shipped = json.loads((ROOT / "stylenet" / "styles" / "index.json").read_text())["styles"]["predictor"]["card"]
    assert card["recipe"]["warm_start"]["init_steps"] == shipped["total_steps"]  # continues the shipped predictor
    assert len(card["training_data"]["holdout_paintings"]) == 20 and card["training_data"]["train_paintings"] > 150
    speed = (out / "steps_per_second.txt").read_text()
    assert "batch: 2" in speed and "the predictor with a cached painting" in speed and "frames/s" in speed
    assert "ship_predictor.py" in done.stdout


@pytest.mark.parametrize(
    "env,message",
    [
        ({"RECIPE": "adain"}, "error: RECIPE=adain: use classic or predictor"),
        ({"DRY": "yes"}, "error: DRY=yes: use 1 (the tiny CPU run) or 0"),
        ({"OUT": ""}, "error: OUT is not set: the device tool sets it; here, DRY=1 (or OUT=/some/folder)"),
    ],
)
def test_a_wrong_setting_is_one_line_before_any_work(tmp_path, env, message):
    env = {**os.environ, "OUT": str(tmp_path / "out"), **env}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_train.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip() == message and not (tmp_path / "out").exists()


def test_the_gpu_script_is_valid_bash_and_names_its_device_commands():
    script = ROOT / "scripts" / "gpu_train.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = script.read_text()
    assert 'run(command="bash scripts/gpu_train.sh", carry=[".gpu"], timeout_s=540)' in text
    assert 'run(command="RECIPE=predictor bash scripts/gpu_train.sh", carry=[".gpu"], timeout_s=540)' in text
    assert Path(ROOT / "scripts" / "gpu_stage.py").is_file()


@pytest.mark.parametrize("recipe", ["classic", "predictor"])
def test_the_stage_holds_what_its_recipe_trains_on_and_nothing_more(tmp_path, recipe):
    import torch

    from conftest import load_script, random_image

    stage = load_script("gpu_stage")
    shared = tmp_path / "shared"
    (shared / "weights").mkdir(parents=True)
    vgg = {"features.0.weight": torch.rand(4, 3, 3, 3), "features.28.weight": torch.rand(2, 2, 3, 3)}
    torch.save(vgg, shared / "weights" / "vgg16_features_hed.pth")
    for folder, names in (
        ("styles", [f"{n}.jpg" for n in stage.classic_styles()] + ["extra.jpg"]),
        ("paintings", ["big.png", "small.jpg"]),
        ("photos", ["a.jpg", "b.jpg"]),
        ("photos_more", ["c.jpg"]),
    ):
        (shared / "data" / folder).mkdir(parents=True)
        for i, name in enumerate(names):
            size = (600, 500) if name == "big.png" else (40, 30)
            random_image(*size, seed=i).save(shared / "data" / folder / name)
    into = tmp_path / "repo" / ".gpu"
    args = ["--into", str(into), "--shared", str(shared), "--recipe", recipe, "--workers", "1"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_stage.py"), *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr  # (its workers are processes: a script, not main())
    staged = {p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file() and "site/" not in p.as_posix()}
    assert "vgg/vgg16_features_hed.pth" in staged and "photos/a.jpg" in staged and "src/stylenet" not in str(staged)
    assert set(torch.load(into / "vgg" / "vgg16_features_hed.pth")) == {"features.0.weight"}  # cut after conv4_3
    if recipe == "classic":
        assert "photos_more/c.jpg" in staged and "styles/extra.jpg" not in staged and not (into / "paintings").exists()
    else:
        assert "photos_more/c.jpg" not in staged and "styles/extra.jpg" in staged
        from PIL import Image

        with Image.open(into / "paintings" / "big.png") as img:  # a large painting: 320 px, JPEG bytes
            assert min(img.size) == 320 and img.format == "JPEG"
        assert (into / "paintings" / "small.jpg").read_bytes() == (
            shared / "data" / "paintings" / "small.jpg"
        ).read_bytes()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--workers", "0"], "argument --workers: 0: use a whole number, 1 or more"),
        (["--quality", "500"], "argument --quality: 500: use a JPEG quality from 1 to 95"),
        (["--recipe", "foo"], "argument --recipe: invalid choice: 'foo'"),
    ],
)
def test_the_stage_refuses_bad_arguments_in_one_line(args, message):
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_stage.py"), *args], capture_output=True, text=True
    )
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_the_stage_never_clears_a_folder_it_did_not_make(tmp_path):
    shared = tmp_path / "shared"
    for need in ("data/styles", "data/photos", "data/photos_more"):
        (shared / need).mkdir(parents=True)
    (shared / "weights").mkdir()
    (shared / "weights" / "vgg16_features_hed.pth").write_bytes(b"")
    mine = tmp_path / "mine"
    (mine / "styles").mkdir(parents=True)
    (mine / "styles" / "my_painting.jpg").write_bytes(b"keep me")
    script = [sys.executable, str(ROOT / "scripts" / "gpu_stage.py"), "--shared", str(shared)]
    done = subprocess.run([*script, "--into", str(mine)], capture_output=True, text=True)
    assert done.returncode == 2 and "a folder that gpu_stage.py did not make" in done.stderr
    assert (mine / "styles" / "my_painting.jpg").read_bytes() == b"keep me"
    (tmp_path / "afile").write_text("x")
    done = subprocess.run([*script, "--into", str(tmp_path / "afile")], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip().endswith("is a file; give a folder (default ./.gpu)")
    done = subprocess.run(
        [*script, "--recipe", "predictor", "--into", str(tmp_path / "new")], capture_output=True, text=True
    )
    assert done.returncode == 2 and "has no data/paintings" in done.stderr and not (tmp_path / "new").exists()
