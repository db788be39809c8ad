"""GPU paths (skipped without CUDA): the same functions as on the CPU."""

import pytest
import torch

from stylenet import TransformerNet, stylize
from stylenet.infer.runner import Runner

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_gpu_inference_matches_cpu_fp32():
    torch.manual_seed(0)
    net = TransformerNet().eval()
    x = torch.rand(1, 3, 256, 320)
    cpu = Runner("cpu", "fp32")(net, x)
    gpu = Runner("cuda", "auto")(net.cuda(), x)
    assert (cpu - gpu).abs().mean() < 2 / 255


def test_stylize_keeps_tensors_on_the_gpu():
    net = TransformerNet(width=8, blocks=1).cuda().eval()
    x = torch.rand(3, 64, 64, device="cuda")
    y = stylize(x, net)
    assert y.device.type == "cuda" and y.shape == x.shape
