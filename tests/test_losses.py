import pytest
import torch

from stylenet.loss.perceptual import PerceptualLoss, content_loss, gram_matrix, parse_layer_weights, style_loss, tv_loss
from stylenet.loss.vgg import VGGFeatures


def test_gram_matrix_matches_a_hand_computation():
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 2.0]]]])  # B=1, C=2, H=W=2
    # rows: c0 = [1,2,3,4], c1 = [0,1,0,2]; G = F F^T / (H W)
    expected = torch.tensor([[[30.0, 10.0], [10.0, 5.0]]]) / 4
    assert torch.allclose(gram_matrix(f), expected)


def test_gram_matrix_is_float32_under_bf16_input():
    g = gram_matrix(torch.rand(2, 4, 5, 5).bfloat16())
    assert g.dtype == torch.float32 and g.shape == (2, 4, 4)


def test_content_loss_is_relative_squared_error():
    fx = torch.ones(2, 3, 4, 4)
    assert content_loss(fx, fx) == 0
    assert torch.isclose(content_loss(fx * 1.5, fx), torch.tensor(0.25))


def test_losses_do_not_change_when_features_are_rescaled():
    a, b = torch.rand(2, 8, 6, 6), torch.rand(2, 8, 6, 6)
    assert torch.isclose(content_loss(a * 58, b * 58), content_loss(a, b), rtol=1e-5)
    ga, gb = gram_matrix(a), gram_matrix(b[:1])
    assert torch.isclose(style_loss(ga * 1000, gb * 1000), style_loss(ga, gb), rtol=1e-5)


def test_style_loss_of_blank_output_is_one():
    gs = gram_matrix(torch.rand(1, 4, 5, 5))
    assert torch.isclose(style_loss(torch.zeros(3, 4, 4), gs), torch.tensor(1.0))


def test_gram_normalisation_makes_style_independent_of_resolution():
    small = torch.rand(1, 4, 8, 8)
    big = small.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # same statistics, 4x the pixels
    assert torch.allclose(gram_matrix(small), gram_matrix(big), rtol=1e-5)


def test_total_variation_is_zero_for_flat_and_known_for_a_step():
    assert tv_loss(torch.full((1, 3, 8, 8), 0.3)) == 0
    x = torch.zeros(1, 1, 2, 2)
    x[..., :, 1] = 1.0  # a vertical edge: horizontal differences (1, 1), vertical (0, 0)
    assert torch.isclose(tv_loss(x), torch.tensor(1.0))


def test_layer_weight_specs():
    assert parse_layer_weights(["relu1_2", "relu3_3:0.5"]) == {"relu1_2": 1.0, "relu3_3": 0.5}
    assert parse_layer_weights("relu2_2") == {"relu2_2": 1.0}
    assert parse_layer_weights({"relu2_2": 2}) == {"relu2_2": 2.0}
    with pytest.raises(ValueError, match="bad layer spec"):
        parse_layer_weights(["relu3_3:x"])


def _loss(**kw) -> PerceptualLoss:
    layers = {"relu1_2": 1.0, "relu2_2": 1.0}
    vgg = VGGFeatures(layers, weights="random")
    loss = PerceptualLoss(vgg, {"relu2_2": 1.0}, layers, **kw)
    loss.set_style(torch.rand(1, 3, 40, 40))
    return loss


def test_perceptual_loss_combines_weighted_terms():
    loss = _loss(content_weight=2.0, style_weight=3.0, tv_weight=4.0)
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    p = loss(y, x)
    assert torch.isclose(p["total"], 2 * p["content"] + 3 * p["style"] + 4 * p["tv"])
    assert loss(x, x)["content"] == 0


def test_per_layer_style_weights_form_a_weighted_mean():
    loss = _loss()
    y = torch.rand(1, 3, 32, 32)
    feats = loss.vgg(y, loss.style_layers)
    per_layer = {k: style_loss(gram_matrix(feats[k]), getattr(loss, f"gram_{k}")) for k in loss.style_layers}
    loss.style_layers = {"relu1_2": 3.0, "relu2_2": 1.0}
    assert torch.isclose(loss.style_terms(feats), (3 * per_layer["relu1_2"] + per_layer["relu2_2"]) / 4)


def test_style_targets_are_computed_once_and_not_saved():
    loss = _loss()
    assert not any(k.startswith("gram_") for k in loss.state_dict())
    calls = []
    loss.vgg.register_forward_hook(lambda *a: calls.append(1))
    loss(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))
    assert len(calls) == 2  # the photo's content features and the output's features; no style pass


def test_style_must_be_set_before_use():
    vgg = VGGFeatures(["relu1_2"], weights="random")
    loss = PerceptualLoss(vgg, {"relu1_2": 1.0}, {"relu1_2": 1.0})
    with pytest.raises(RuntimeError, match="set_style"):
        loss(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))


def test_several_styles_score_each_sample_against_its_own_style_s_targets_and_weight():
    """The classic network's loss: sample i is compared with the Gram targets of style[i] and its
    style term weighted by that style's weight, as a one-style loss of that style would."""
    layers = {"relu1_2": 1.0, "relu2_2": 2.0}
    vgg = VGGFeatures(layers, weights="random")
    torch.manual_seed(0)
    paintings = [torch.rand(1, 3, 40, 40) ** 3, torch.rand(1, 3, 48, 36)]  # different targets (and sizes)
    weights = [2.0, 7.0]
    multi = PerceptualLoss(vgg, {"relu2_2": 1.0}, layers, content_weight=1.5, tv_weight=0.5)
    multi.set_styles(paintings, weights)
    x, y = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    y[1] = y[1] ** 2  # samples far from each other
    style = torch.tensor([1, 0, 1, 1])
    terms = multi(y, x, style)
    singles = []
    for painting, w in zip(paintings, weights):
        one = PerceptualLoss(vgg, {"relu2_2": 1.0}, layers, content_weight=1.5, style_weight=w, tv_weight=0.5)
        one.set_style(painting)
        singles.append(one)
    each = multi.last_style_each
    for i, k in enumerate(style.tolist()):
        alone = singles[k](y[i : i + 1], x[i : i + 1])
        assert torch.isclose(each[i], alone["style"], rtol=1e-5), i
        other = singles[1 - k](y[i : i + 1], x[i : i + 1])["style"]
        assert not torch.isclose(each[i], other, rtol=1e-2), i  # the other style's targets give another figure
    assert torch.isclose(terms["style"], each.mean())
    expected = sum(weights[k] * each[i] for i, k in enumerate(style.tolist())) / 4
    assert torch.isclose(terms.weighted["style"], expected, rtol=1e-6)
    # the rest as one style's: content and tv do not depend on the style
    assert torch.isclose(terms["content"], singles[0](y, x)["content"], rtol=1e-6)
    assert torch.isclose(terms["total"], 1.5 * terms["content"] + expected + 0.5 * terms["tv"], rtol=1e-6)
