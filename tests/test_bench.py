"""``stylenet bench``: both tables print every path with its ratio to the eager fp32 baseline."""

import re

import pytest

from stylenet.cli import main


def _rows(text: str) -> dict[str, str]:
    return {line[:36].strip(): line for line in text.splitlines() if re.search(r"\d+\.\d+x", line)}


def _ratio_is_the_baseline_over_the_row(rows: dict[str, str], time: str) -> None:
    """Each row's ratio column is the baseline's median over the row's (``time``: the regex of its median)."""
    median = {k: float(re.search(time, line).group(1)) for k, line in rows.items()}
    for k, line in rows.items():
        ratio = float(re.search(r"\s([\d.]+)x(\s|$)", line).group(1))
        assert ratio == pytest.approx(median["eager fp32 (baseline)"] / median[k], rel=0.15), (
            line
        )  # ms are printed rounded


def test_inference_bench_prints_each_path_against_the_baseline(capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("STYLENET_CPU_FEATURES", "avx2")
    # 160 px: on a fast machine a 64 px path takes 3 ms, and whole milliseconds are too coarse for the ratio
    assert main(["bench", "inference", "--size", "160", "--rounds", "1", "--model", "compact", "--onnx"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == {"eager fp32 (baseline)", "stylenet fp32 (fast copy) (default)", "onnxruntime fp32"}
    _ratio_is_the_baseline_over_the_row(rows, r"160x160\s+(\d+)")
    for line in rows.values():  # fp32 paths compute the same function
        assert float(re.findall(r"([\d.]+)/255", line)[0]) < 0.1


def test_training_bench_times_a_multi_style_step_too(capsys, monkeypatch):
    monkeypatch.setenv("STYLENET_CPU_FEATURES", "avx2")
    assert main(["bench", "training", "--size", "32", "--batch", "2", "--rounds", "1", "--styles", "3"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == {"eager fp32 (baseline)", "stylenet fp32 (default)", "stylenet fp32, 3 styles"}
    _ratio_is_the_baseline_over_the_row(rows, r"32\s+2\s+([\d.]+)")


def test_painting_bench_times_the_predictor_and_adain_against_the_johnson_network(capsys, monkeypatch):
    monkeypatch.setenv("STYLENET_CPU_FEATURES", "avx2")
    assert main(["bench", "painting", "--size", "64", "--rounds", "1", "--adain"]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert set(rows) == {
        "Johnson, eager fp32 (baseline)",
        "Johnson, stylize (default)",
        "predictor, painting cached",
        "predictor, a new painting each call",
        "AdaIN, painting cached",
        "AdaIN, a new painting each call",
    }
    median = {k: float(re.search(r"64x64\s+(\d+)", line).group(1)) for k, line in rows.items()}
    for k, line in rows.items():
        vs_base, vs_johnson = (float(v) for v in re.findall(r"\s([\d.]+)x(?:\s|$)", line))
        assert vs_base == pytest.approx(median["Johnson, eager fp32 (baseline)"] / median[k], rel=0.15, abs=0.02)
        assert vs_johnson == pytest.approx(median[k] / median["Johnson, stylize (default)"], rel=0.15, abs=0.02)
    assert "flags: avx2" in out


@pytest.mark.slow
def test_compiled_paths_run_and_match(capsys):
    """The torch.compile paths of inference and training (about a minute to compile on 2 cores)."""
    assert main(["bench", "inference", "--size", "64", "--rounds", "1", "--model", "compact", "--compile"]) == 0
    rows = _rows(capsys.readouterr().out)
    compiled = [line for k, line in rows.items() if "compile" in k]
    assert compiled and all(float(re.findall(r"([\d.]+)/255", line)[-1]) < 2 for line in compiled)
    assert (
        main(["bench", "training", "--size", "32", "--batch", "2", "--rounds", "1", "--model", "compact", "--compile"])
        == 0
    )
    assert any("compile" in k for k in _rows(capsys.readouterr().out))


def test_peak_memory_is_the_measuring_process_own_not_its_parents():
    """A fresh process's peak RSS must not inherit the peak of the (large) process that started it."""
    import subprocess
    import sys

    import numpy as np

    from stylenet.quality.bench import own_peak_rss_mb

    ballast = np.ones(1500 * 2**20, np.uint8)  # 1.5 GB touched in this process
    code = "from stylenet.quality.bench import own_peak_rss_mb; print(own_peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert own_peak_rss_mb() > 1500 > child + 500, (own_peak_rss_mb(), child)  # the child: torch, about 0.5 GB
    del ballast


def test_kept_freed_memory_is_for_stylenets_paths_and_the_plain_ones_keep_glibcs(capsys, monkeypatch):
    """--keep-freed-memory: each path runs under the allocator policy it would have for a user: stylenet's
    as ``stylenet stylize`` and ``video`` set it, the baseline, autocast and ONNX Runtime under glibc's."""
    from stylenet.infer import memory
    from stylenet.quality import bench

    state, seen = {}, {}
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: state.update(policy="keep"))
    monkeypatch.setattr(memory, "glibc_defaults", lambda: state.update(policy="glibc"))
    paths = ["eager fp32 (baseline)", "stylenet bf16 (fast copy)", "bf16 autocast", "onnxruntime fp32"]
    paths += ["+ stability 0.9 (norms)", "predictor, painting cached"]
    bench.interleaved({k: lambda k=k: seen.setdefault(k, set()).add(state["policy"]) for k in paths}, 2, keep=True)
    assert seen == {k: {"glibc" if k in paths[0:1] + paths[2:4] else "keep"} for k in paths}

    monkeypatch.setenv("STYLENET_CPU_FEATURES", "avx2")
    args = ["bench", "inference", "--size", "32", "--rounds", "1", "--model", "compact", "--keep-freed-memory"]
    assert main(args) == 0  # off glibc (the suite's stand-in C library) the flag says it does nothing
    out = capsys.readouterr().out
    assert "--keep-freed-memory: this C library is not glibc" in out
    assert "allocator: the C library's own policy for every path" in out
    monkeypatch.setattr(memory, "available", lambda: True)
    assert main(args) == 0
    assert "allocator: stylenet's paths keep freed memory" in capsys.readouterr().out
    assert main(args[:-1]) == 0  # and a run without the flag says so
    assert "allocator: glibc's policy for every path" in capsys.readouterr().out
    training = ["bench", "training", "--size", "32", "--batch", "2", "--rounds", "1", "--keep-freed-memory"]
    assert main(training) == 0  # training is timed as the training script runs it: glibc's policy
    assert "allocator: glibc's policy for every path" in capsys.readouterr().out


def test_the_blocks_benchmark_times_both_output_layers_of_both_networks(capsys, monkeypatch):
    from conftest import load_script

    monkeypatch.setattr("sys.argv", ["bench_blocks.py", "--size", "40", "--rounds", "1"])
    load_script("bench_blocks").main()
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:-1]]
    assert [r[:2] for r in rows] == [["johnson", "fp32"], ["compact", "fp32"]]  # the AVX2 kind: fp32 only
    for _, _, blocks, plain, ratio in rows:
        assert float(blocks) > 0 and float(plain) > 0 and ratio.endswith("x") and float(ratio[:-1]) > 0
