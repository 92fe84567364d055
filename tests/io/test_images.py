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


def test_one_frame_folder_rule(tmp_path):
    """lsvd.io.images.scan_frame_folder: integer-named images by number; everything else skipped with why."""
    import numpy as np

    from lsvd.io.images import scan_frame_folder, write_png

    img = np.zeros((4, 4, 3), np.uint8)
    for name in ("00000010.png", "2.jpg", "1.png", "01.png", "frame_a.png", "notes.txt", ".hidden.png"):
        if name.endswith((".png", ".jpg")):
            write_png(tmp_path / name, img) if name.endswith(".png") else (tmp_path / name).write_bytes(b"x")
        else:
            (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    frames, skipped = scan_frame_folder(tmp_path)
    assert [(f.name, f.number) for f in frames] == [("01.png", 1), ("2.jpg", 2), ("00000010.png", 10)]
    assert sorted((p.split("/")[-1], kind) for p, kind, _ in ((e.path, e.kind, e.message) for e in skipped)) == [
        ("1.png", "duplicate_frame_number"), ("frame_a.png", "non_integer_name"), ("notes.txt", "not_an_image"),
        ("sub", "unexpected_entry")]
    assert all("frame" in e.message or "move" in e.message or "keep" in e.message for e in skipped)


def test_desmoke_and_prepare_read_frame_folders_by_the_same_rule(tmp_path, caplog):
    import logging

    import numpy as np

    from lsvd.data.lsvd_layout import _list_frames
    from lsvd.data.problems import ProblemLog
    from lsvd.desmoke import _read_folder
    from lsvd.io.images import write_png

    for name in ("3.png", "1.png", "03.png", "x.png"):
        write_png(tmp_path / name, np.full((4, 4, 3), int(name[0]) if name[0].isdigit() else 9, np.uint8))
    log = ProblemLog()
    listed = _list_frames(tmp_path, log)
    with caplog.at_level(logging.WARNING):
        clip = _read_folder(tmp_path)
    assert [f.name for f in listed] == ["1.png", "03.png"] and clip.names == ["1", "03"]
    assert sorted(p.kind for p in log.problems) == ["duplicate_frame_number", "non_integer_name"]
    assert "duplicate_frame_number" in caplog.text and "non_integer_name" in caplog.text
