import hashlib
import json

import pytest
import torch

import stylenet
from stylenet.io.weights import WeightsError
from stylenet.styles.fetch import resolve
from stylenet.styles.install import install
from stylenet.styles.load import load
from stylenet.styles.registry import UnknownStyleError, available_styles, register_style


def test_load_a_path_returns_an_eval_network_with_its_card(weights_file):
    net = load(weights_file)
    assert isinstance(net, stylenet.TransformerNet) and not net.training
    assert net.card["style"] == "tiny"
    assert load(str(weights_file)).card == net.card


def test_unknown_name_lists_the_available_styles(weights_file):
    install(weights_file, name="mine")
    with pytest.raises(UnknownStyleError, match=r"unknown style 'mosiac'; available: .*mine"):
        load("mosiac")
    with pytest.raises(ValueError):  # a ValueError, as users expect
        load("mosiac")


def test_installed_styles_load_by_name_from_the_cache(weights_file, isolated_home):
    style = install(weights_file, name="mine")
    assert style.file.parent == isolated_home / "styles"
    assert "mine" in available_styles() and available_styles()["mine"].card["style"] == "tiny"
    net = load("mine")
    assert torch.equal(
        net.state_dict()["encoder.0.0.1.weight"], load(weights_file).state_dict()["encoder.0.0.1.weight"]
    )
    with pytest.raises(FileExistsError):
        install(weights_file, name="mine")


def test_cache_files_are_verified_on_every_load(weights_file):
    style = install(weights_file, name="mine")
    data = bytearray(style.file.read_bytes())
    data[-5] ^= 1
    style.file.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"SHA-256 .* \(corrupted or tampered\)"):
        load("mine")


def test_url_entries_download_once_verified(weights_file, http_server, isolated_home):
    www, base = http_server
    (www / "w.safetensors").write_bytes(weights_file.read_bytes())
    digest = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    register_style("remote", f"{base}/w.safetensors", digest, {"title": "remote test"})
    assert available_styles()["remote"].origin == "url"
    net = load("remote")
    assert net.card["style"] == "tiny"
    assert (isolated_home / "styles" / "remote.safetensors").is_file()
    (www / "w.safetensors").unlink()  # a second load needs no network
    assert load("remote").card == net.card


def test_url_with_a_wrong_hash_is_refused_and_nothing_is_kept(weights_file, http_server, isolated_home):
    www, base = http_server
    (www / "w.safetensors").write_bytes(weights_file.read_bytes())
    register_style("evil", f"{base}/w.safetensors", "0" * 64)
    with pytest.raises(stylenet.StylenetError, match="SHA-256 mismatch"):
        load("evil")
    assert not (isolated_home / "styles" / "evil.safetensors").exists()
    assert not list((isolated_home / "styles").glob("*.part"))


def test_unreachable_url_is_a_clear_error(http_server):
    _, base = http_server
    register_style("gone", f"{base}/missing.safetensors", "0" * 64)
    with pytest.raises(stylenet.StylenetError, match="could not download"):
        resolve("gone")


def test_register_style_checks_the_digest_format():
    with pytest.raises(stylenet.StylenetError, match="64 hex digits"):
        register_style("x", "http://127.0.0.1/x", "abc")


def test_damaged_cache_records_are_ignored(isolated_home):
    (isolated_home / "styles").mkdir(parents=True)
    (isolated_home / "styles" / "broken.json").write_text("{not json")
    assert "broken" not in available_styles()


def test_package_index_entries_are_listed_and_verified(tmp_path, weights_file, monkeypatch):
    import stylenet.styles.registry as registry

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "tiny.safetensors").write_bytes(weights_file.read_bytes())
    digest = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    index = {"styles": {"tiny": {"file": "tiny.safetensors", "sha256": digest, "card": {"title": "t"}}}}
    (pkg / "index.json").write_text(json.dumps(index))
    monkeypatch.setattr(registry, "PACKAGE_DIR", pkg)
    assert available_styles()["tiny"].origin == "package"
    assert load("tiny").card["style"] == "tiny"
    with pytest.raises(stylenet.StylenetError, match="shipped style"):
        install(weights_file, name="tiny")
    (pkg / "tiny.safetensors").write_bytes(weights_file.read_bytes()[:-1] + b"\x00")
    with pytest.raises(WeightsError, match="SHA-256"):
        load("tiny")


# -- multi-style networks: rows by name, mixes ------------------------------------------------
def test_an_installed_multi_style_network_serves_each_style_by_name(multi_file):
    install(multi_file)
    multi = load("trio")
    assert multi.num_styles == 3 and multi.style_names == ["a", "b", "c"]
    b = load("b")
    assert b.num_styles == 0 and b.card["style"] == "b" and b.card["network"] == "trio"
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        assert torch.allclose(b(x), multi(x, 1), atol=1e-5)


def test_a_mix_selects_normalised_weights_from_the_network_holding_the_styles(multi_file):
    install(multi_file)
    multi, x = load("trio"), torch.rand(1, 3, 24, 24)
    for spec in ({"a": 3.0, "c": 1.0}, "a:0.75,c:0.25"):
        net = load(spec)
        with torch.no_grad():
            assert torch.allclose(net(x), multi(x, torch.tensor([0.75, 0.0, 0.25])), atol=1e-5)
    assert load({"a": 1, "c": 1}).card["mix"] == {"a": 0.5, "c": 0.5}


def test_a_mix_s_norm_rows_are_the_weighted_average_of_its_styles_rows(multi_file):
    multi = load(multi_file)
    tables = {k for k, v in multi.state_dict().items() if v.dim() == 2}
    assert len(tables) == 2 * 7  # gamma and beta of the 7 conditional norms
    for spec, w in (({"a": 1, "c": 1}, [0.5, 0.0, 0.5]), ("a:0.75,b:0.25", [0.75, 0.25, 0.0])):
        state = load(spec, network=multi_file).state_dict()
        for k, v in multi.state_dict().items():
            if k in tables:
                assert torch.allclose(state[k], w[0] * v[0] + w[1] * v[1] + w[2] * v[2], rtol=0, atol=1e-7), k
            else:  # the convolutions are shared
                assert torch.equal(state[k], v), k
    # weights (1, 0): exactly the first style's network, with its output
    first, only_a, x = (
        load({"a": 1.0, "c": 0.0}, network=multi_file),
        load("a", network=multi_file),
        torch.rand(1, 3, 24, 24),
    )
    assert all(torch.equal(v, only_a.state_dict()[k]) for k, v in first.state_dict().items())
    assert all(torch.equal(first.state_dict()[k][None], multi.state_dict()[k][:1]) for k in tables)
    with torch.no_grad():
        assert torch.equal(first(x), only_a(x)) and torch.allclose(first(x), multi(x, 0), atol=1e-6)


def test_mixes_name_the_problem(multi_file):
    with pytest.raises(UnknownStyleError, match="no multi-style network holds all of a, c"):
        load("a:0.5,c:0.5")
    with pytest.raises(UnknownStyleError, match="unknown style 'zz' in this network; it holds: a, b, c"):
        load({"a": 0.5, "zz": 0.5}, network=multi_file)
    with pytest.raises(ValueError, match="weights must be >= 0"):
        load({"a": -1.0, "b": 2.0}, network=multi_file)
    with pytest.raises(ValueError, match="bad style weight"):
        load("a:x,b:1", network=multi_file)


def test_a_name_with_network_selects_that_row(multi_file):
    net = load("c", network=multi_file)
    with torch.no_grad():
        x = torch.rand(1, 3, 20, 20)
        assert torch.allclose(net(x), load(multi_file)(x, 2), atol=1e-5)


def test_loading_a_network_object_leaves_the_callers_network_alone(small_net):
    small_net.train()
    net = load(small_net, "cpu")
    assert not net.training and small_net.training  # an eval copy, the caller's stays in training mode
    assert load(small_net.eval()) is small_net  # already as asked: the same object


def test_install_refuses_names_that_are_not_plain(tmp_path, small_net, isolated_home):
    from stylenet.io.weights import save_weights

    evil = save_weights(small_net, tmp_path / "evil.safetensors", {"style": "../escape"})
    with pytest.raises(ValueError, match=r"style name '../escape' is not a plain name"):
        install(evil)
    assert not (isolated_home / "escape.safetensors").exists() and not list(isolated_home.rglob("*.safetensors"))
    assert install(evil, name="fine").name == "fine"


def test_torch_hub_loads_shipped_styles_from_a_local_clone():
    from conftest import ROOT

    net = torch.hub.load(str(ROOT), "mosaic", source="local")
    assert isinstance(net, stylenet.TransformerNet) and net.card["style"] == "mosaic"
    assert torch.equal(net.state_dict()["encoder.0.0.1.weight"], load("mosaic").state_dict()["encoder.0.0.1.weight"])
    assert torch.hub.load(str(ROOT), "style", "starry_night", source="local").card["style"] == "starry_night"


def test_loading_a_shipped_row_by_name_scans_the_registry_once(monkeypatch):
    import stylenet.styles.registry as registry

    scans = []
    for scan in ("_package_styles", "_cache_styles"):
        real = getattr(registry, scan)
        monkeypatch.setattr(registry, scan, lambda real=real, scan=scan: scans.append(scan) or real())
    net = load("starry_night")
    assert net.card["style"] == "starry_night" and net.num_styles == 0
    assert sorted(scans) == ["_cache_styles", "_package_styles"]


def test_selecting_from_a_network_object_keeps_its_border():
    from conftest import make_multi_net

    multi = make_multi_net()
    multi.border = 24
    x = torch.rand(1, 3, 40, 52)
    for net in (
        load("b", network=multi),
        load({"b": 1.0}, network=multi),
        stylenet.styles.mix.select(multi, {"b": 1}),
    ):
        assert net.border == 24
        with torch.no_grad():
            assert torch.allclose(net(x), multi(x, 1), atol=1e-5)
    y = stylenet.stylize(x[0], "b", network=multi, precision="fp32")
    with torch.no_grad():
        assert torch.allclose(y, multi(x, 1)[0], atol=1e-4)


def test_a_network_object_with_network_is_a_clear_error(small_net):
    from conftest import make_multi_net

    with pytest.raises(stylenet.StylenetError, match="network="):
        load(small_net, network=make_multi_net())
    with pytest.raises(stylenet.StylenetError, match="network="):
        stylenet.stylize(torch.rand(3, 16, 16), small_net, network=make_multi_net())


def test_a_file_named_like_a_shipped_style_does_not_shadow_it(tmp_path, monkeypatch, weights_file):
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copy(weights_file, tmp_path / "mosaic")  # e.g. an output saved without a suffix
    shutil.copy(weights_file, tmp_path / "mine")
    shipped = load("mosaic")
    assert shipped.card["style"] == "mosaic" and shipped.config.width == 32  # the shipped style, not the tiny file
    assert load("mine").config.width == 8  # a file that names no style still loads as a file
    assert load("./mosaic").config.width == 8  # and a path that says so is a path


def test_hubconf_scans_the_registry_once_and_keeps_its_own_entry_points(monkeypatch):
    import dataclasses
    import importlib.util

    import stylenet.styles.registry as registry

    from conftest import ROOT

    real, scans = registry._package_styles, []

    def package_styles():
        scans.append(1)
        styles = real()  # plus a shipped style whose name is an entry point's, and one that is no identifier
        return {**styles, **{n: dataclasses.replace(styles["mosaic"], name=n) for n in ("style", "my-style")}}

    monkeypatch.setattr(registry, "_package_styles", package_styles)
    spec = importlib.util.spec_from_file_location("hubconf_under_test", ROOT / "hubconf.py")
    hub = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hub)
    assert len(scans) == 1
    assert hub.style.__doc__.startswith("A style network by name") and hub.dependencies[0] == "torch"
    assert hub.mosaic.__doc__.startswith("The shipped style 'mosaic'") and hub.classic.__name__ == "classic"
    assert not hasattr(hub, "my-style")
