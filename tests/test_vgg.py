import hashlib

import pytest
import torch

from stylenet.loss.vgg import VGGFeatures, VGGWeightsError, _build_features, layer_names


def vgg16_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    sd = {f"features.{k}": v for k, v in _build_features("vgg16", 31).state_dict().items()}
    sd["classifier.0.weight"] = torch.full((2, 2), float("nan"))  # as in torchvision's features-only file
    return sd


def test_layer_names_follow_the_paper():
    names = layer_names("vgg16")
    assert len(names) == 31 and names[3] == "relu1_2" and names[8] == "relu2_2" and names[22] == "relu4_3"
    assert layer_names("vgg19")[35] == "relu5_4"


def test_network_is_cut_after_the_deepest_tap_and_frozen():
    vgg = VGGFeatures(["relu2_2", "relu1_2"], weights="random")
    assert len(vgg.features) == 9
    assert not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training


def test_forward_returns_the_requested_taps_only():
    vgg = VGGFeatures(["relu1_2", "relu3_3"], weights="random")
    out = vgg(torch.rand(2, 3, 32, 32), ["relu1_2"])
    assert list(out) == ["relu1_2"] and out["relu1_2"].shape == (2, 64, 32, 32)
    out = vgg(torch.rand(1, 3, 32, 32), ["relu1_2", "relu3_3"])
    assert out["relu3_3"].shape == (1, 256, 8, 8)


def test_caffe_convention_is_0_255_minus_mean_inside_the_wrapper():
    vgg = VGGFeatures(["relu1_1"], weights="random")
    x = torch.rand(1, 3, 4, 4)
    expected = x * 255 - torch.tensor([123.0, 117.0, 104.0]).view(1, 3, 1, 1)
    assert torch.allclose((x - vgg.mean) / vgg.std, expected, atol=1e-4)
    assert VGGFeatures(["relu1_1"], weights="random", input="torch").convention == "torch"


def test_forward_applies_the_normalisation_buffers():
    vgg = VGGFeatures(["relu1_1"], weights="random")
    x = torch.rand(1, 3, 8, 8)
    expected = vgg.features[1](vgg.features[0]((x - vgg.mean) / vgg.std))  # conv1_1, relu1_1 on the normalised input
    assert torch.allclose(vgg(x, ["relu1_1"])["relu1_1"], expected, atol=1e-5)
    with torch.no_grad():
        vgg.mean.add_(0.5)  # the buffers really are what forward uses
    assert not torch.allclose(vgg(x, ["relu1_1"])["relu1_1"], expected, atol=1e-3)


def test_local_file_loads_in_torchvisions_key_layout(tmp_path):
    sd = vgg16_state_dict()
    path = tmp_path / "vgg.pth"
    torch.save(sd, path)
    vgg = VGGFeatures(["relu2_2"], weights=str(path))
    assert torch.equal(vgg.features[0].weight, sd["features.0.weight"])
    assert vgg.convention == "caffe" and "vgg.pth" in vgg.describe()


def test_file_for_another_architecture_is_a_one_line_error(tmp_path):
    sd = vgg16_state_dict()
    sd["features.2.weight"] = torch.zeros(64, 32, 3, 3)
    bad_shape, missing = tmp_path / "shape.pth", tmp_path / "missing.pth"
    torch.save(sd, bad_shape)
    torch.save({"conv.weight": torch.zeros(1)}, missing)
    with pytest.raises(VGGWeightsError, match=r"features\.2\.weight has shape \(64, 32, 3, 3\), expected") as e:
        VGGFeatures(["relu2_2"], weights=str(bad_shape))
    assert "\n" not in str(e.value)
    with pytest.raises(VGGWeightsError, match="missing features.0.weight.*torchvision's key layout"):
        VGGFeatures(["relu2_2"], weights=str(missing))


def test_bad_sources_name_the_value_and_the_fix(tmp_path):
    with pytest.raises(VGGWeightsError, match="'nope.pth' is neither a file.*loss.vgg.weights="):
        VGGFeatures(["relu1_2"], weights="nope.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(VGGWeightsError, match="could not read VGG weights file"):
        VGGFeatures(["relu1_2"], weights=str(garbage))
    with pytest.raises(VGGWeightsError, match="unknown vgg16 layer"):
        VGGFeatures(["relu9_9"], weights="random")
    with pytest.raises(VGGWeightsError, match="unknown VGG architecture"):
        VGGFeatures(["relu1_2"], arch="vgg11", weights="random")


def test_url_source_downloads_and_checks_the_hash(http_server):
    www, base = http_server
    sd = vgg16_state_dict(seed=1)
    torch.save(sd, www / "tmp.pth")
    digest = hashlib.sha256((www / "tmp.pth").read_bytes()).hexdigest()
    (www / "tmp.pth").rename(www / f"vgg16test-{digest[:8]}.pth")
    vgg = VGGFeatures(["relu1_2"], weights=f"{base}/vgg16test-{digest[:8]}.pth")
    assert torch.equal(vgg.features[2].weight, sd["features.2.weight"])

    (www / f"vgg16test-{digest[:8]}.pth").rename(www / "vgg16bad-00000000.pth")
    with pytest.raises(VGGWeightsError, match="could not fetch VGG weights"):
        VGGFeatures(["relu1_2"], weights=f"{base}/vgg16bad-00000000.pth")


def test_torchvision_source_goes_through_torchvisions_weights_enum(http_server, monkeypatch):
    import torchvision.models._api as api

    www, base = http_server
    torch.save(vgg16_state_dict(seed=2), www / "vgg16_features.pth")
    real = api.load_state_dict_from_url
    seen = []

    def local(url, *args, **kwargs):  # the enum's URL, served from 127.0.0.1 instead
        seen.append(url)
        kwargs["check_hash"] = False
        return real(f"{base}/vgg16_features.pth", *args, **kwargs)

    monkeypatch.setattr(api, "load_state_dict_from_url", local)
    vgg = VGGFeatures(["relu1_2"], weights="IMAGENET1K_FEATURES")
    assert seen == ["https://download.pytorch.org/models/vgg16_features-amdegroot-88682ab5.pth"]
    assert vgg.convention == "caffe"
    with pytest.raises(VGGWeightsError, match="expects 'caffe' input"):
        VGGFeatures(["relu1_2"], weights="IMAGENET1K_FEATURES", input="torch")


def test_offline_torchvision_download_failure_is_a_clear_error(monkeypatch):
    import torchvision.models._api as api

    def offline(*a, **k):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    with pytest.raises(VGGWeightsError, match="could not download torchvision's vgg16 IMAGENET1K_FEATURES.*offline"):
        VGGFeatures(["relu1_2"], weights="IMAGENET1K_FEATURES")
