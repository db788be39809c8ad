"""The precision policy: every entry point resolves ``auto`` by the hardware, simulated here both ways.

``STYLENET_CPU_FEATURES`` forces the CPU probe's answer, so these tests check the same
decisions on an AVX2 machine and on one with native bf16.
"""

import re

import pytest
import torch

from stylenet import precision as policy
from stylenet.infer.runner import Runner

AVX2 = "avx2"
BF16 = "avx2,avx512f,avx512_bf16"


@pytest.fixture
def cpu(monkeypatch):
    """``cpu(flags)`` makes the probe answer ``flags``; warnings start afresh."""
    monkeypatch.setattr(policy, "_warned", set())
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    return lambda flags: monkeypatch.setenv(policy.ENV, flags)


def test_the_probe_reads_the_override_and_onednn_isa_caps_it(cpu, monkeypatch):
    cpu(BF16)
    assert policy.cpu_flags() == {"avx2", "avx512f", "avx512_bf16"}
    assert policy.native_bf16("cpu")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # what also makes oneDNN use AVX2 kernels only
    assert policy.cpu_flags() == {"avx2"} and not policy.native_bf16("cpu")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX")
    assert policy.native_bf16("cpu")
    cpu("avx2,amx_bf16")
    assert policy.native_bf16("cpu")
    cpu("")
    assert policy.cpu_flags() == frozenset() and "none of" in policy.describe_cpu()


def test_the_probe_without_override_reports_only_the_flags_that_matter(monkeypatch):
    monkeypatch.delenv(policy.ENV, raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert policy.cpu_flags() <= set(policy.FLAGS)
    with open("/proc/cpuinfo") as f:
        assert ("avx2" in f.read().split()) == ("avx2" in policy.cpu_flags())


@pytest.mark.parametrize(("flags", "inference", "training"), [(AVX2, "fp32", "32-true"), (BF16, "bf16", "bf16-mixed")])
def test_auto_resolves_by_the_hardware_for_inference_and_training(cpu, flags, inference, training):
    cpu(flags)
    assert policy.resolve("auto", "cpu") == inference
    assert Runner("cpu").precision == inference
    chosen, why = policy.resolve_training("auto", "cpu")
    assert chosen == training and why.startswith("auto:")
    assert ("has no native bf16" in why) == (training == "32-true")


def test_an_explicit_precision_wins_and_bf16_where_emulated_warns_once_in_one_line(cpu, capsys):
    cpu(AVX2)
    assert policy.resolve("bf16", "cpu") == "bf16"
    assert policy.resolve_training("bf16-mixed", "cpu")[0] == "bf16-mixed"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.match(r"warning: bf16 is emulated here .*15x slower than fp32", err)
    assert policy.resolve("fp32", "cpu") == "fp32" and policy.resolve_training("32-true", "cpu")[0] == "32-true"
    cpu(BF16)
    assert policy.resolve("bf16", "cpu") == "bf16"
    assert capsys.readouterr().err == ""  # said once; and native bf16 never warns


def test_native_bf16_never_warns(cpu, capsys):
    cpu(BF16)
    policy.resolve("bf16", "cpu")
    policy.resolve_training("bf16-mixed", "cpu")
    assert capsys.readouterr().err == ""


def test_unknown_precisions_name_the_choices(cpu):
    with pytest.raises(ValueError, match=r"unknown precision 'fp8'; use auto, fp32, bf16"):
        policy.resolve("fp8", "cpu")
    with pytest.raises(ValueError, match=r"trainer.precision=16-mixed is not supported; use one of auto, 32-true"):
        policy.resolve_training("16-mixed", "cpu")


@pytest.mark.parametrize(("flags", "dtype"), [(AVX2, torch.float32), (BF16, torch.bfloat16)])
def test_stylize_runs_the_network_at_the_resolved_precision(cpu, small_net, flags, dtype):
    import stylenet
    from stylenet.infer.runner import shared_runner

    cpu(flags)
    stylenet.stylize(torch.rand(3, 16, 16), small_net)
    runner = shared_runner(torch.device("cpu"), "auto")
    assert next(runner.fast(small_net).parameters()).dtype == dtype


def test_optimize_auto_is_fp32_exactly_where_bf16_is_emulated(cpu):
    from stylenet.loss.perceptual import loss_config
    from stylenet.quality.optimize import optimize

    cpu(AVX2)
    torch.manual_seed(0)
    photo, painting = torch.rand(3, 24, 24), torch.rand(3, 24, 24)
    loss = loss_config("random")
    auto = optimize(photo, painting, steps=2, size=None, loss=loss, progress=False)
    fp32 = optimize(photo, painting, steps=2, size=None, loss=loss, precision="fp32", progress=False)
    bf16 = optimize(photo, painting, steps=2, size=None, loss=loss, precision="bf16", progress=False)
    assert torch.equal(auto, fp32)
    assert not torch.equal(bf16, fp32) and (bf16 - fp32).abs().mean() < 0.05


@pytest.mark.parametrize(
    ("flags", "used", "vgg_dtype"), [(AVX2, "32-true", torch.float32), (BF16, "bf16-mixed", torch.bfloat16)]
)
def test_training_resolves_auto_before_lightning_prints_it_and_records_it_in_the_card(
    cpu, capsys, tiny_overrides, flags, used, vgg_dtype
):
    import pytorch_lightning as pl

    from stylenet.io.weights import read_weights
    from stylenet.training.train import train

    from conftest import compose_config

    seen = {}

    class Probe(pl.Callback):
        def on_train_start(self, trainer, module):
            seen["lightning"] = str(trainer.precision)
            seen["vgg"] = module.loss.vgg.features[0].weight.dtype

    cpu(flags)
    result = train(compose_config(tiny_overrides + ["trainer.max_steps=1"]), extra_callbacks=[Probe()])
    assert seen == {"lightning": used, "vgg": vgg_dtype}
    assert f"precision: {used} (auto: " in capsys.readouterr().out
    recipe = read_weights(result.weights)[2]["recipe"]
    assert recipe["precision"] == used and recipe["precision_asked"] == "auto"


def test_bench_marks_the_row_the_default_runs_and_names_the_cpu(cpu, capsys):
    from stylenet.cli import main

    cpu(AVX2)
    assert main(["bench", "inference", "--size", "32", "--rounds", "1", "--model", "compact"]) == 0
    out = capsys.readouterr().out
    assert "stylenet fp32 (fast copy) (default)" in out and "bf16" not in out.split("(medians")[0]
    assert "flags: avx2 (bf16 emulated)" in out
    cpu(BF16)
    assert main(["bench", "training", "--size", "32", "--batch", "1", "--rounds", "1", "--model", "compact"]) == 0
    out = capsys.readouterr().out
    assert "stylenet bf16 (default)" in out and "stylenet fp32 (default)" not in out
    assert "flags: avx2, avx512f, avx512_bf16 (native bf16)" in out
