from pathlib import Path

import numpy as np
import pytest

from lsvd.io.images import ImageError, probe_image, read_gray, read_rgb, write_png


def test_png_roundtrip_and_header(tmp_path: Path):
    img = np.random.default_rng(0).integers(0, 256, (20, 28, 3), dtype=np.uint8)
    write_png(tmp_path / "a.png", img)
    assert np.array_equal(read_rgb(tmp_path / "a.png"), img)
    hdr = probe_image(tmp_path / "a.png")
    assert (hdr.height, hdr.width, hdr.channels) == (20, 28, 3)
    gray = img[:, :, 0]
    write_png(tmp_path / "g.png", gray)
    assert probe_image(tmp_path / "g.png").channels == 1
    assert np.array_equal(read_gray(tmp_path / "g.png"), gray)
    assert np.array_equal(read_rgb(tmp_path / "g.png"), np.repeat(gray[:, :, None], 3, 2))


def test_rgba_and_16bit_are_normalised(tmp_path: Path):
    import cv2

    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 2] = 200  # BGR(A) red channel
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    assert read_rgb(tmp_path / "rgba.png")[0, 0].tolist() == [200, 0, 0]
    cv2.imwrite(str(tmp_path / "d16.png"), np.full((4, 4, 3), 65535, np.uint16))
    assert read_rgb(tmp_path / "d16.png").max() == 255


@pytest.mark.parametrize("damage,match", [
    (lambda b: b"", "zero-byte"),
    (lambda b: b[: len(b) // 2], "truncated"),
    (lambda b: b"GIF89a" + b[6:], "not a PNG"),
])
def test_bad_png_headers(tmp_path: Path, damage, match):
    write_png(tmp_path / "ok.png", np.zeros((8, 8, 3), np.uint8))
    bad = tmp_path / "bad.png"
    bad.write_bytes(damage((tmp_path / "ok.png").read_bytes()))
    with pytest.raises(ImageError, match=match):
        probe_image(bad)


def test_unreadable_jpeg(tmp_path: Path):
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageError, match="unreadable"):
        read_rgb(tmp_path / "x.jpg")
