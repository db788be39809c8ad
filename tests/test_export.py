import json

import pytest
import torch

from stylenet.io.weights import WeightsError, load_weights, read_weights, save_weights
from stylenet.model.transformer import TransformerNet


def test_round_trip_keeps_weights_arguments_and_card(tmp_path, small_net):
    path = save_weights(small_net, tmp_path / "w.safetensors", {"style": "x", "steps": 3})
    net, card = load_weights(path)
    assert net.config == small_net.config and card == {"style": "x", "steps": 3}
    assert not net.training
    for (k, a), b in zip(small_net.state_dict().items(), net.state_dict().values()):
        assert torch.equal(a, b), k


def test_half_precision_files_are_half_the_size_and_load_as_float32(tmp_path):
    net = TransformerNet()
    full = save_weights(net, tmp_path / "f.safetensors")
    half = save_weights(net, tmp_path / "h.safetensors", half=True)
    assert half.stat().st_size < 0.55 * full.stat().st_size < 4e6 * 2
    loaded, _ = load_weights(half)
    assert next(loaded.parameters()).dtype == torch.float32


def test_a_half_precision_file_holds_the_weights_rounded_to_fp16_and_computes_nearly_the_same_output(tmp_path):
    from test_fast import perturbed

    torch.manual_seed(0)
    net = perturbed(TransformerNet()).eval()  # non-trivial norm affines: every weight matters
    loaded, _ = load_weights(save_weights(net, tmp_path / "h.safetensors", half=True))
    for k, v in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v.half().float()), k  # round to nearest fp16, nothing else
    x = torch.rand(1, 3, 64, 80)
    with torch.no_grad():
        err = (loaded(x) - net(x)).abs()
    # measured: max 0.9/255, mean 0.11/255 (bf16-rounded weights would give max 6.1/255, mean 0.86/255)
    assert err.max() < 2 / 255 and err.mean() < 0.25 / 255


def test_existing_files_are_not_overwritten(tmp_path, small_net):
    path = save_weights(small_net, tmp_path / "w.safetensors")
    with pytest.raises(FileExistsError):
        save_weights(small_net, path)
    save_weights(small_net, path, overwrite=True)


def test_truncated_file_is_an_error(tmp_path, weights_file):
    data = weights_file.read_bytes()
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_weights(bad)


def test_tampered_tensor_bytes_are_detected(tmp_path, weights_file):
    data = bytearray(weights_file.read_bytes())
    data[-10] ^= 0xFF  # flip bits inside the last tensor
    bad = tmp_path / "tampered.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="corrupted or tampered"):
        load_weights(bad)


def test_wrong_architecture_is_an_error_not_a_random_network(tmp_path, small_net):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = save_weights(small_net, tmp_path / "w.safetensors")
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    meta["net"] = json.dumps({"width": 16, "blocks": 1, "depthwise": False})  # claims another width
    save_file(load_file(path), tmp_path / "liar.safetensors", metadata=meta)
    with pytest.raises(WeightsError, match="do not match TransformerNet.*wrong shape"):
        load_weights(tmp_path / "liar.safetensors")


def test_other_files_are_refused_with_the_reason(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(WeightsError, match="not a stylenet weights file"):
        read_weights(tmp_path / "other.safetensors")
    with pytest.raises(WeightsError, match="no such weights file"):
        read_weights(tmp_path / "missing.safetensors")
    (tmp_path / "run.ckpt").write_bytes(b"x")
    with pytest.raises(WeightsError, match="Lightning checkpoint"):
        read_weights(tmp_path / "run.ckpt")


def test_a_folder_is_named_as_one(tmp_path):
    with pytest.raises(WeightsError, match="is a folder"):
        read_weights(tmp_path)


def test_an_older_multi_style_checkpoint_exports_under_its_run_folders_name(tmp_path):
    from stylenet.io.weights import checkpoint_to_weights, load_weights

    from conftest import make_multi_net

    net = make_multi_net()
    ckpt = tmp_path / "runs" / "classic" / "2026-01-01_00-00-00" / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    hp = {"net": net.config.to_dict(), "style_names": net.style_names, "styles": [{"name": n} for n in net.style_names]}
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    torch.save({"hyper_parameters": hp, "state_dict": state, "global_step": 7}, ckpt)  # no "name": before issue 25
    _, card = load_weights(checkpoint_to_weights(ckpt, tmp_path / "w.safetensors"))
    assert card["style"] == "classic" and card["steps"] == 7 and set(card["styles"]) == {"a", "b", "c"}
