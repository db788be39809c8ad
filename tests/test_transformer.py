import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stylenet.model.transformer import NetConfig, TransformerNet


def test_default_network_has_the_papers_parameter_count():
    assert sum(p.numel() for p in TransformerNet().parameters()) == 1_679_235


@pytest.mark.parametrize("h,w", [(8, 8), (33, 17), (50, 61), (64, 64), (97, 130)])
def test_output_has_exactly_the_input_size(h, w):
    net = TransformerNet(width=8, blocks=1).eval()
    with torch.no_grad():
        y = net(torch.rand(2, 3, h, w))
    assert y.shape == (2, 3, h, w)


def test_eval_mode_reflects_a_border_around_the_input_and_train_mode_does_not():
    torch.manual_seed(0)
    net = TransformerNet(width=8, blocks=1)
    x = torch.rand(1, 3, 40, 52)
    with torch.no_grad():
        trained = net(x)  # train mode: no border, so training costs what it did
        net.eval()
        plain = net(x)  # off by default
        net.border = 24
        bordered = net(x)
        net.border = 40  # more than the side allows: clipped to the shorter side less 4
        clipped = net(x)
        net.border = 0
        # the network on the reflected input, cropped back (both padded sizes are multiples of 4)
        margin24 = net(F.pad(x, (24,) * 4, mode="reflect"))[..., 24:64, 24:76]
        margin36 = net(F.pad(x, (36,) * 4, mode="reflect"))[..., 36:76, 36:88]
    assert torch.equal(trained, plain) and bordered.shape == clipped.shape == x.shape
    assert torch.allclose(bordered, margin24, atol=1e-6) and torch.allclose(clipped, margin36, atol=1e-6)
    assert (bordered - plain).abs().amax() > 1e-3


def test_output_is_bounded_to_unit_range_even_for_wild_weights():
    net = TransformerNet(width=8, blocks=1).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(50)
        y = net(torch.rand(1, 3, 32, 32) * 10 - 5)
    assert y.min() >= 0 and y.max() <= 1


def test_architecture_follows_johnson_with_instance_norm_and_no_transposed_convs():
    net = TransformerNet()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size[0] for c in convs[:3]] == [9, 3, 3] and convs[-1].kernel_size == (9, 9)
    assert [c.stride[0] for c in convs[:3]] == [1, 2, 2]
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in net.modules())
    norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 3 + 2 * 5 + 2 and all(n.affine for n in norms)
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in net.modules()) == len(convs)
    assert sum(isinstance(m, nn.Upsample) for m in net.modules()) == 2


def test_width_blocks_and_depthwise_make_smaller_networks():
    full = sum(p.numel() for p in TransformerNet().parameters())
    compact = TransformerNet(width=16, blocks=3, depthwise=True)
    assert sum(p.numel() for p in compact.parameters()) < full / 10
    assert compact(torch.rand(1, 3, 21, 30)).shape == (1, 3, 21, 30)


def test_config_round_trips_and_rejects_unknown_arguments():
    cfg = NetConfig(width=16, blocks=2, depthwise=True)
    assert TransformerNet.from_config(cfg.to_dict()).config == cfg
    with pytest.raises(ValueError, match="unknown network arguments"):
        NetConfig.from_dict({"width": 8, "colour": 3})


def test_forward_does_not_modify_the_input():
    x = torch.rand(1, 3, 30, 30)
    before = x.clone()
    TransformerNet(width=8, blocks=1)(x)
    assert torch.equal(x, before)


@pytest.mark.parametrize("blocks", [1, 5])
def test_receptive_radius_is_where_a_pixels_influence_ends(blocks):
    torch.manual_seed(0)
    net = TransformerNet(width=8, blocks=blocks).eval()
    for m in net.modules():  # fixed statistics, so that only locality is measured
        if isinstance(m, nn.InstanceNorm2d):
            m.track_running_stats, m.running_mean, m.running_var = (
                True,
                torch.zeros(m.num_features),
                torch.ones(m.num_features),
            )
    x = torch.rand(1, 3, 224, 224)
    x2 = x.clone()
    x2[..., 112, 112] += 1
    with torch.no_grad():
        changed = ((net(x) - net(x2)).abs().amax(1)[0] > 0).nonzero()
    reach = (changed - 112).abs().max().item()
    assert reach <= net.config.receptive_radius and reach >= net.config.receptive_radius - 4


# -- multi-style networks (conditional instance norm) ------------------------------------------
def _multi():
    from conftest import make_multi_net

    return make_multi_net()


def test_one_style_networks_keep_their_parameter_names_and_shapes():
    plain = TransformerNet(width=8, blocks=1).state_dict()
    multi = TransformerNet(width=8, blocks=1, num_styles=3).state_dict()
    assert list(plain) == list(multi)
    assert plain["encoder.0.1.weight"].shape == (8,) and multi["encoder.0.1.weight"].shape == (3, 8)


def test_each_sample_gets_its_own_style_and_equals_the_one_style_network():
    net, x = _multi(), torch.rand(3, 3, 36, 44)
    with torch.no_grad():
        y = net(x, torch.tensor([0, 2, 1]))
        for i, k in enumerate((0, 2, 1)):
            assert torch.allclose(y[i], net.single(k)(x[i : i + 1])[0], atol=1e-5)
        assert (net(x, 0) - net(x, 2)).abs().mean() > 0.02  # the rows really differ


def test_a_weight_vector_mixes_the_style_tables():
    net, x = _multi(), torch.rand(1, 3, 32, 32)
    w = torch.tensor([0.25, 0.75, 0.0])
    with torch.no_grad():
        mixed = net(x, w)
        assert torch.allclose(mixed, net.single(w)(x), atol=1e-5)
        assert not torch.allclose(mixed, net(x, 0), atol=1e-3) and not torch.allclose(mixed, net(x, 1), atol=1e-3)


def test_a_multi_style_network_must_be_told_the_style():
    net = _multi()
    with pytest.raises(ValueError, match="holds 3 styles"):
        net(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="out of range"):
        net(torch.rand(1, 3, 16, 16), 3)
    with pytest.raises(ValueError, match="holds 3 styles"):
        net(torch.rand(1, 3, 16, 16), torch.ones(4))


def test_the_fast_forms_give_the_same_multi_style_outputs():
    import copy

    from stylenet.model.fast import speed_up

    net, x, k = _multi(), torch.rand(2, 3, 32, 40), torch.tensor([1, 2])
    with torch.no_grad():
        assert torch.allclose(speed_up(copy.deepcopy(net))(x, k), net(x, k), atol=1e-5)


def test_conditional_norm_matches_instance_norm_with_per_sample_affine_in_value_and_gradient():
    from stylenet.model.transformer import ConditionalInstanceNorm2d

    torch.manual_seed(0)
    norm = ConditionalInstanceNorm2d(4, 3).double()
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    mix = torch.tensor([[0.2, 0.8, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    gamma, beta = mix @ norm.weight, mix @ norm.bias
    ref = torch.nn.functional.instance_norm(x, eps=norm.eps) * gamma[:, :, None, None] + beta[:, :, None, None]
    out = norm(x, mix)
    assert torch.allclose(out, ref, atol=1e-10)
    g = torch.randn_like(ref)
    grads = torch.autograd.grad(out, [x, norm.weight, norm.bias], g)
    ref_grads = torch.autograd.grad(ref, [x, norm.weight, norm.bias], g)
    assert all(torch.allclose(a, b, atol=1e-9) for a, b in zip(grads, ref_grads))


def test_single_keeps_the_border():
    from conftest import make_multi_net

    net = make_multi_net()
    net.border = 24
    one = net.single(1)
    x = torch.rand(1, 3, 40, 52)
    with torch.no_grad():
        assert one.border == 24 and torch.allclose(one.eval()(x), net(x, 1), atol=1e-5)
