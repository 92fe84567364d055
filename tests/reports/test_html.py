"""reports.html: one self-contained page; checked as text and, where Chromium is installed, in a headless browser."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from reports import html as rhtml
from reports.html import FigureSection, TableSection, VideoGroup, render_page, write_page
from tests.reports.browser import dump_dom, run_chromium

MAGENTA = (255, 0, 255)
VIDEO_COLOURS = [(200, 40, 40), (40, 180, 60), (40, 60, 200)]
TABLE = ("<table><thead><tr><th>method</th><th>PSNR</th></tr></thead><tbody>"
         "<tr><td>dcp</td><td><u>20.1</u></td></tr><tr><td>selfsvd</td><td><strong>24.3</strong></td></tr>"
         "</tbody></table>")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three tiny VP9 WebMs (a solid colour each, with a moving white bar), a large magenta PNG and a small PNG."""
    from lsvd.io.images import write_png
    from lsvd.io.video import write_video

    root = tmp_path_factory.mktemp("html-media")
    out: dict[str, Path] = {}
    for k, colour in enumerate(VIDEO_COLOURS):
        frames = np.empty((20, 64, 96, 3), np.uint8)
        frames[:] = colour
        for t in range(20):
            frames[t, :, 4 * t:4 * t + 8] = 255
        out[f"v{k}"] = root / f"v{k}.webm"
        write_video(out[f"v{k}"], frames, fps=10, codec="libvpx-vp9", crf=32)
    big = np.zeros((360, 480, 3), np.uint8)
    big[:] = MAGENTA
    out["magenta"] = root / "magenta.png"
    write_png(out["magenta"], big)
    small = np.full((40, 60, 3), 128, np.uint8)
    out["grey"] = root / "grey.png"
    write_png(out["grey"], small)
    return out


def full_page(media: dict[str, Path], **kw) -> str:
    groups = [VideoGroup("clip_a", [("Input", media["v0"]), ("selfsvd", media["v1"])], fps=10),
              VideoGroup("clip_b", [("Input", media["v0"]), ("selfsvd", media["v1"]), ("dcp", media["v2"])], fps=10)]
    args = dict(
        subtitle="tiny synthetic, test split",
        intro="First paragraph.\n\nSecond paragraph.",
        provenance={"toolkit version": "0.1.0", "git commit": "abc1234", "flow": ["raft", "farneback"],
                    "seed": 0, "device": "cpu", "manifest": None},
        tables=[TableSection("Quality", TABLE, caption="Best in bold, second underlined.")],
        figures=[FigureSection("Magenta", media["magenta"], caption="A magenta square", pdf_href="fig/magenta.pdf"),
                 FigureSection("Grey", media["grey"])],
        videos=groups,
    )
    args.update(kw)
    return render_page("LSVD report", **args)


def n_players(page: str) -> int:
    return len(re.findall(r"<video\b", page))


# --- text checks ---------------------------------------------------------------------------------------------


def test_page_is_self_contained(media):
    page = full_page(media)
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in page and '<meta charset="utf-8">' in page
    for bad in ("http://", "https://", 'src="/', "file:", "//cdn", "<link"):
        assert bad not in page, bad
    srcs = re.findall(r'\bsrc="([^"]*)"', page)
    assert len(srcs) == 2 + 5  # 2 figures, 5 players
    assert all(s.startswith(("data:image/png;base64,", "data:video/webm;base64,")) for s in srcs), srcs
    hrefs = re.findall(r'\bhref="([^"]*)"', page)
    assert hrefs == ["#tables", "#figures", "#videos", "fig/magenta.pdf"]
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert n_players(page) == 5
    for tag in re.findall(r"<video\b[^>]*>", page):
        for attr in ("muted", "playsinline", "loop", 'preload="auto"'):
            assert attr in tag, (attr, tag)
    assert page.count('class="vgroup"') == 2 and page.count('class="seek"') == 2 and page.count('class="play"') == 2
    # images carry alt text and their pixel size
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="A magenta square" width="480" height="360">', page)
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="Grey" width="60" height="40">', page)
    # the PDF link is only shown when given
    assert page.count(">PDF</a>") == 1
    assert "<p>First paragraph.</p><p>Second paragraph.</p>" in page


def test_text_is_escaped_and_table_html_trusted(media):
    evil = '<script>alert("x")</script> & co'
    esc = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"
    page = render_page(evil, subtitle=evil, intro=evil, provenance={evil: evil, "list": [evil]},
                       tables=[TableSection(evil, TABLE, caption=evil)],
                       figures=[FigureSection(evil, media["grey"], caption=evil)],
                       videos=[VideoGroup(evil, [(evil, media["v0"])], fps=10, caption=evil)])
    assert 'alert("x")' not in page
    assert page.count("<script>") == 1  # only the page's own script
    # title, subtitle, intro, 2x provenance, table title+caption, figure title+caption+alt,
    # group title (h3, aria-labels x3) + caption, player label (aria-label + figcaption)
    assert page.count(esc) >= 16
    assert f"<title>{esc}</title>" in page and f"<h1>{esc}</h1>" in page
    assert "<td><strong>24.3</strong></td>" in page and "<td><u>20.1</u></td>" in page


def test_provenance_rendering():
    page = render_page("t", provenance={"b": 1, "a": ["x", "y"], "c": {"z", "w"}, "d": None, "e": {"k": 2}})
    dl = re.search(r"<dl>(.*)</dl>", page).group(1)
    assert re.findall(r"<dt>(.*?)</dt>", dl) == ["b", "a", "c", "d", "e"]  # the mapping's own order
    assert "<li><code>w</code></li><li><code>z</code></li>" in dl  # sets sorted
    assert "<dd>&mdash;</dd>" in dl and "k: <code>2</code>" in dl
    assert "Provenance" not in render_page("t")


def test_output_is_deterministic(media, tmp_path):
    a, b = full_page(media), full_page(media)
    assert a == b
    p1, p2 = write_page(tmp_path / "one" / "index.html", a), write_page(tmp_path / "two.html", b)
    assert p1.read_bytes() == p2.read_bytes() == a.encode("utf-8")
    assert not list(tmp_path.rglob(".tmp-*"))
    # a change of input changes the bytes
    assert full_page(media, subtitle="other") != a


def test_missing_or_bad_files(media, tmp_path):
    gone = tmp_path / "nowhere" / "missing.png"
    with pytest.raises(FileNotFoundError, match=re.escape(str(gone))):
        render_page("t", figures=[FigureSection("f", gone)])
    gone_video = tmp_path / "missing.webm"
    with pytest.raises(FileNotFoundError, match=re.escape(str(gone_video))):
        render_page("t", videos=[VideoGroup("g", [("Input", media["v0"]), ("x", gone_video)])])
    with pytest.raises(ValueError, match="not a PNG"):
        render_page("t", figures=[FigureSection("f", media["v0"])])
    with pytest.raises(ValueError, match="unsupported video type"):
        render_page("t", videos=[VideoGroup("g", [("Input", media["grey"])])])
    with pytest.raises(ValueError, match="no videos"):
        render_page("t", videos=[VideoGroup("g", [])])
    for href in ("https://example.com/f.pdf", "/abs/f.pdf", "file:///f.pdf"):
        with pytest.raises(ValueError, match="relative"):
            render_page("t", figures=[FigureSection("f", media["grey"], pdf_href=href)])


# --- browser checks ------------------------------------------------------------------------------------------


def test_screenshot_shows_the_page_and_the_figure(media, tmp_path):
    page = write_page(tmp_path / "index.html", full_page(media))
    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", "--virtual-time-budget=5000",
                 page.resolve().as_uri())
    from lsvd.io.images import read_rgb

    img = read_rgb(shot).astype(np.int32)
    assert img.shape[:2] == (1600, 1280)
    assert img.std() > 20, "screenshot is (nearly) blank"
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 10, "screenshot is a single colour"
    magenta = np.all(np.abs(img - np.array(MAGENTA)) <= 8, axis=-1)
    assert magenta.sum() > 0.5 * 360 * 480, f"embedded figure not visible ({magenta.sum()} magenta pixels)"
    dark_text = np.all(img < 60, axis=-1)
    assert dark_text.sum() > 500, "no text rendered"


def test_videos_load_and_selftest_syncs(media, tmp_path):
    html = full_page(media)
    page = write_page(tmp_path / "index.html", html)
    attrs = dump_dom(tmp_path, page, "#selftest")
    n = n_players(html)
    assert attrs.get("data-videos-loaded") == f"{n}/{n}", attrs
    assert attrs.get("data-selftest-done") == "1", attrs
    assert attrs.get("data-sync-ok") == "1", attrs


def test_selftest_only_on_request_and_without_videos(media, tmp_path):
    page = write_page(tmp_path / "plain.html", full_page(media))
    attrs = dump_dom(tmp_path, page)
    assert attrs.get("data-videos-loaded") == "5/5", attrs
    assert "data-selftest-done" not in attrs and "data-sync-ok" not in attrs
    empty = write_page(tmp_path / "empty.html", render_page("no videos", figures=[FigureSection("g", media["grey"])]))
    attrs = dump_dom(tmp_path, empty, "#selftest")
    assert attrs.get("data-videos-loaded") == "0/0" and attrs.get("data-selftest-done") == "1", attrs


def test_selftest_detects_unsynchronised_seek(media, tmp_path, monkeypatch):
    """The self-test is not vacuous: a group seek that moves only the first player reports syncOk=0."""
    seek_all = "g.videos.forEach(function(v){v.currentTime=t;});"
    assert rhtml._JS.count(seek_all) == 1
    monkeypatch.setattr(rhtml, "_JS", rhtml._JS.replace(seek_all, "g.lead.currentTime=t;"))
    page = write_page(tmp_path / "broken.html",
                      render_page("t", videos=[VideoGroup("g", [("a", media["v0"]), ("b", media["v1"])], fps=10)]))
    attrs = dump_dom(tmp_path, page, "#selftest")
    assert attrs.get("data-videos-loaded") == "2/2", attrs
    assert attrs.get("data-sync-ok") == "0", attrs
