import hashlib
import zipfile

import pytest

from stylenet.io.download import DownloadError, download, fetch_coco, fetch_style_images

from conftest import CONFIG_DIR, random_image


def test_download_verifies_and_places_atomically(http_server, tmp_path):
    www, base = http_server
    (www / "f.bin").write_bytes(b"x" * 5000)
    digest = hashlib.sha256(b"x" * 5000).hexdigest()
    assert download(f"{base}/f.bin", tmp_path / "d" / "f.bin", digest, progress=False).read_bytes() == b"x" * 5000
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download(f"{base}/f.bin", tmp_path / "d" / "g.bin", "0" * 64, progress=False)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["f.bin"]  # nothing half-written
    with pytest.raises(DownloadError, match="could not download"):
        download(f"{base}/nope.bin", tmp_path / "d" / "n.bin", progress=False)


def test_coco_archive_is_fetched_and_unpacked(http_server, tmp_path):
    www, base = http_server
    with zipfile.ZipFile(www / "train2014.zip", "w") as z:
        for i in range(3):
            random_image(20, 20, seed=i).save(tmp_path / "p.jpg")
            z.write(tmp_path / "p.jpg", f"train2014/COCO_train2014_{i:012d}.jpg")
    folder = fetch_coco(tmp_path / "coco", f"{base}/train2014.zip")
    assert folder == tmp_path / "coco" / "train2014" and len(list(folder.glob("*.jpg"))) == 3
    assert not (tmp_path / "coco" / "train2014.zip").exists()


def test_coco_refuses_archives_that_escape_the_folder(http_server, tmp_path):
    www, base = http_server
    with zipfile.ZipFile(www / "evil.zip", "w") as z:
        z.writestr("../../escaped.txt", "x")
    with pytest.raises(DownloadError, match="refusing to unpack"):
        fetch_coco(tmp_path / "coco", f"{base}/evil.zip")
    assert not (tmp_path / "escaped.txt").exists()


def test_style_images_come_from_the_configs_with_their_hashes(http_server, tmp_path):
    www, base = http_server
    cfgs = tmp_path / "configs" / "style"
    cfgs.mkdir(parents=True)
    random_image(30, 30).save(www / "wave.jpg")
    digest = hashlib.sha256((www / "wave.jpg").read_bytes()).hexdigest()
    (cfgs / "wave.yaml").write_text(f"image: x\nurl: {base}/wave.jpg\nsha256: {digest}\n")
    (cfgs / "custom.yaml").write_text("image: ???\n")
    got = fetch_style_images(tmp_path / "configs", tmp_path / "styles")
    assert [p.name for p in got] == ["wave.jpg"]
    (www / "wave.jpg").unlink()  # a second fetch would now fail: only a file already present can pass
    stamp = got[0].stat().st_mtime_ns
    assert fetch_style_images(tmp_path / "configs", tmp_path / "styles") == got
    assert got[0].stat().st_mtime_ns == stamp  # present and verified: not fetched again


def test_every_shipped_style_config_names_a_url_and_digest():
    import yaml

    for f in sorted((CONFIG_DIR / "style").glob("*.yaml")):
        cfg = yaml.safe_load(f.read_text())
        if f.stem == "custom":
            continue
        assert cfg["url"].startswith("https://raw.githubusercontent.com/") and len(cfg["sha256"]) == 64, f
