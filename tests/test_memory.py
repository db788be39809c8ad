"""stylenet.infer.memory: the command line keeps freed activations for the next forward pass,
and tiling hands them back. Checks of the real allocator run in a fresh process: the policy is
process-wide, and page faults are counted there (``ru_minflt``), not timed; the policy's logic is
checked in-process against a stand-in C library that records ``mallopt``."""

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from stylenet.infer import memory

ROOT = Path(__file__).resolve().parents[1]

glibc = pytest.mark.skipif(not memory.available(), reason="glibc's mallopt (this C library has none)")


def _run(code: str) -> dict:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


@glibc
def test_kept_memory_spares_a_repeated_forward_pass_its_page_faults_and_tiling_returns_it():
    # 640x640: the first layer's 52 MB activations are over glibc's largest mmap threshold (32 MB),
    # so with its defaults every call maps them afresh
    out = _run(
        "import json, resource, torch\n"
        "from stylenet.infer import memory\n"
        "from stylenet.infer.runner import Runner\n"
        "from stylenet.model.transformer import TransformerNet\n"
        "torch.manual_seed(0); net = TransformerNet().eval(); x = torch.rand(1, 3, 640, 640)\n"
        "run = Runner('cpu', 'fp32')\n"
        "def faults():\n"
        "    run(net, x); f = resource.getrusage(resource.RUSAGE_SELF).ru_minflt; run(net, x)\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f\n"
        "out = {'before': memory.policy(), 'glibc': faults()}\n"
        "memory.keep_freed_memory(); out['keep'] = faults()\n"
        "with memory.bounded():\n"
        "    out['inside'] = memory.policy(); out['bounded'] = faults()\n"
        "out['after'] = memory.policy()\n"
        "print(json.dumps(out))"
    )
    assert out["before"] is None  # importing stylenet leaves the allocator alone
    assert out["keep"] * 10 < out["glibc"], out  # measured 0 against 126,635 (Zen 4 machine, torch 2.14.1)
    assert out["inside"] == "return" and out["after"] == "keep"
    assert out["bounded"] > out["glibc"] / 2, out  # within tiling, freed blocks go back to the OS (261,287)


@glibc
def test_stylize_on_the_command_line_keeps_freed_memory(tmp_path):
    from stylenet import TransformerNet
    from stylenet.io.weights import save_weights

    from conftest import random_image

    weights = save_weights(TransformerNet(width=8), tmp_path / "tiny.safetensors")
    random_image(32, 24).save(tmp_path / "p.png")
    out = _run(
        "import json; from stylenet.cli import main; from stylenet.infer import memory\n"
        f"code = main(['stylize', {str(tmp_path / 'p.png')!r}, '--style', {str(weights)!r},"
        f" '-o', {str(tmp_path / 'out.png')!r}])\n"
        "print(json.dumps({'code': code, 'policy': memory.policy()}))"
    )
    assert out == {"code": 0, "policy": "keep"}


class FakeLibc:
    """Records the ``mallopt`` calls instead of changing this process's allocator."""

    def __init__(self) -> None:
        self.options: dict[int, int] = {}

    def mallopt(self, option: int, value: int) -> int:
        self.options[option] = value
        return 1

    def malloc_trim(self, pad: int) -> int:
        return 0


def test_without_glibc_every_policy_is_a_no_op():
    # the suite's stand-in (tests/conftest.py): no mallopt, as on macOS, musl and Windows
    assert not memory.available()
    memory.keep_freed_memory()
    assert memory.policy() is None
    with memory.bounded():
        assert memory.policy() is None
    with pytest.raises(ValueError, match="unknown allocator policy 'kept'"):
        memory._apply("kept")


def test_policies_set_glibcs_thresholds_and_tiling_threads_return_memory_until_the_last_leaves(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(memory, "_libc", lambda: libc)
    memory.keep_freed_memory()
    assert memory.policy() == "keep" and libc.options[memory.M_MMAP_MAX] == 0
    inside, release = [threading.Event(), threading.Event()], [threading.Event(), threading.Event()]

    def tile(i: int) -> None:
        with memory.bounded():
            inside[i].set()
            release[i].wait()

    threads = [threading.Thread(target=tile, args=(i,)) for i in range(2)]
    for i, t in enumerate(threads):  # the first tiler is inside before the second starts
        t.start()
        inside[i].wait()
    assert memory.policy() == "return" and libc.options[memory.M_MMAP_THRESHOLD] == 4 << 20
    release[0].set()
    threads[0].join()  # one tiler left, the other still tiling: memory still goes back
    assert memory.policy() == "return" and libc.options[memory.M_MMAP_MAX] == 65536
    release[1].set()
    threads[1].join()
    assert memory.policy() == "keep" and libc.options[memory.M_MMAP_MAX] == 0

    memory.glibc_defaults()  # bench's plain paths: where glibc's sliding threshold settles
    assert memory.policy() == "glibc" and libc.options[memory.M_MMAP_THRESHOLD] == 32 << 20
    memory.set_policy("keep")
    assert memory.policy() == "keep"
