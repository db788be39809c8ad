"""Shared fixtures: tiny generated photos and style images, composed configs, a small network.

Unit tests run on random-weight VGG and images of a few dozen pixels; tests that
need real VGG weights and photos use ``../shared`` and skip where it is absent.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from PIL import Image

import stylenet.training.config  # noqa: F401  (schema and resolvers)

if "PYTEST_XDIST_WORKER" in os.environ:  # `make test` runs pytest-xdist workers: share the cores, don't oversubscribe
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
    os.environ["OMP_NUM_THREADS"] = _threads  # subprocesses (CLI runs, DDP ranks) inherit it
    torch.set_num_threads(int(_threads))

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "stylenet" / "configs"
SHARED = (ROOT.parent / "shared").resolve()
SHARED_VGG = SHARED / "weights" / "vgg16_features_hed.pth"
SHARED_PHOTOS = SHARED / "data" / "photos"
SHARED_STYLES = SHARED / "data" / "styles"
SHARED_CONTENT = SHARED / "data" / "content"

needs_shared = pytest.mark.skipif(not SHARED_VGG.is_file(), reason="../shared (real VGG weights and photos) is absent")


def random_image(h: int, w: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """A smooth random image (blurred noise plus gradients), not flat, not pure noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(6 * xx + rng.uniform(0, 6)), np.cos(5 * yy + rng.uniform(0, 6)), xx * yy], -1)
    arr = 0.5 + 0.35 * base + 0.15 * rng.standard_normal((h, w, 3))
    img = Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8), "RGB")
    return img.convert(mode) if mode != "RGB" else img


def load_script(name: str):
    """``scripts/<name>.py`` as a module (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """12 small photos in nested folders, JPEG and PNG, one grayscale and one RGBA."""
    root = tmp_path / "photos"
    for i in range(12):
        sub = root / ("a" if i % 2 else Path("b", "c"))
        sub.mkdir(parents=True, exist_ok=True)
        mode = "L" if i == 3 else "RGBA" if i == 5 else "RGB"
        ext = ".png" if mode == "RGBA" or i % 3 == 0 else ".jpg"
        random_image(40 + i, 48, seed=i, mode=mode).save(sub / f"img{i:02d}{ext}")
    return root


@pytest.fixture
def style_image(tmp_path: Path) -> Path:
    path = tmp_path / "my_style.png"
    random_image(64, 64, seed=99).save(path)
    return path


@pytest.fixture
def tiny_overrides(tmp_path: Path, photo_dir: Path, style_image: Path) -> list[str]:
    """Config overrides for a seconds-long CPU run on random VGG."""
    return [
        "style=custom",
        f"style.image={style_image}",
        "style.size=48",
        f"data.root={photo_dir}",
        "data.image_size=32",
        "data.batch_size=2",
        "data.num_workers=0",
        "data.holdout=2",
        "data.preview=2",
        "loss.vgg.weights=random",
        "loss.style_layers=[relu1_2,relu2_2]",
        "model.width=8",
        "model.blocks=1",
        "trainer=cpu",
        "trainer.max_steps=4",
        "trainer.enable_model_summary=false",
        "trainer.log_every_n_steps=1",
        "preview_every_n_steps=2",
        "checkpoint_every_n_steps=2",
        f"paths.output_dir={tmp_path / 'runs' / 'my_style' / 'run'}",
        f"paths.runs_dir={tmp_path / 'runs'}",
    ]


def compose_config(overrides: list[str]):
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=overrides)


@pytest.fixture
def small_net() -> torch.nn.Module:
    from stylenet import TransformerNet

    torch.manual_seed(0)
    return TransformerNet(width=8, blocks=1).eval()


@pytest.fixture
def weights_file(tmp_path: Path, small_net) -> Path:
    from stylenet.io.weights import save_weights

    return save_weights(small_net, tmp_path / "tiny.safetensors", {"style": "tiny", "steps": 0})


def make_multi_net(names=("a", "b", "c"), seed: int = 0) -> torch.nn.Module:
    """A tiny multi-style network whose style tables differ clearly between rows."""
    from stylenet import TransformerNet

    torch.manual_seed(seed)
    net = TransformerNet(width=8, blocks=1, num_styles=len(names)).eval()
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() == 2:  # gamma/beta tables
                p.copy_(torch.randn_like(p) * 0.8 + (1.0 if p.shape == net.encoder[0][1].weight.shape else 0.0))
    net.style_names = list(names)
    return net


@pytest.fixture
def multi_file(tmp_path: Path) -> Path:
    from stylenet.io.weights import save_weights

    net = make_multi_net()
    card = {"style": "trio", "steps": 0, "styles": {n: {"style_weight": 5.0} for n in net.style_names}}
    return save_weights(net, tmp_path / "trio.safetensors", card)


@pytest.fixture
def http_server(tmp_path: Path):
    """Serve ``tmp_path / "www"`` on 127.0.0.1; yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_painting_network(monkeypatch) -> None:
    """A package without its shipped style predictor: no network takes a painting (the missing-default paths)."""
    import stylenet.styles.registry as registry

    real = registry._package_styles
    monkeypatch.setattr(registry, "_package_styles", lambda: {n: s for n, s in real().items() if not s.takes_painting})


@pytest.fixture(autouse=True)
def avx2_unless_asked(monkeypatch) -> None:
    """Every test sees the AVX2 kind of CPU (``precision="auto"`` is fp32) unless it sets the probe itself:
    tolerances and expected figures hold on either kind of machine (tests/test_precision.py simulates both)."""
    if "STYLENET_CPU_FEATURES" not in os.environ:
        monkeypatch.setenv("STYLENET_CPU_FEATURES", "avx2")


@pytest.fixture(autouse=True)
def allocator_untouched(monkeypatch) -> None:
    """The command line sets glibc's allocator for its whole process (stylenet.infer.memory): tests that
    call it in-process see a C library without ``mallopt``, so a worker's later tests run under glibc's
    own policy. tests/test_memory.py checks the real allocator in fresh processes."""
    from stylenet.infer import memory

    monkeypatch.setattr(memory, "_libc", lambda: None)
    monkeypatch.setattr(memory, "_policy", None)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch) -> Path:
    """Every test gets its own style cache, torch hub cache and registered (URL) styles."""
    import stylenet.styles.registry

    home = tmp_path / "stylenet_home"
    monkeypatch.setenv("STYLENET_HOME", str(home))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(stylenet.styles.registry, "_registered", {})  # register_style() in one test is not another's
    return home
