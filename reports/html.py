"""Render the report as ONE self-contained static HTML page.

Everything the page needs is inside the file: CSS and JavaScript inline, figures as
``data:image/png;base64,...`` and videos as ``data:video/webm;base64,...`` URIs. A
Content-Security-Policy ``<meta>`` forbids any network fetch, so the page works offline
(and a stray external reference fails loudly instead of silently reaching the network)::

    from reports.html import FigureSection, TableSection, VideoGroup, render_page, write_page

    page = render_page(
        "LSVD benchmark", subtitle="test split",
        provenance={"toolkit": "0.1.0", "git commit": "abc123", "seed": 0},
        tables=[TableSection("Quality", table_html, caption="Best in bold, second underlined.")],
        figures=[FigureSection("Speed vs quality", Path("fig/speed.png"), pdf_href="fig/speed.pdf")],
        videos=[VideoGroup("clip_001", [("Input", in_webm), ("selfsvd", out_webm)], fps=25)],
    )
    write_page("report/index.html", page)

Text (titles, captions, provenance, labels) is HTML-escaped; the table HTML is trusted as
rendered markup. The same inputs give the same bytes: no dates, provenance in the mapping's
own (insertion) order, set values sorted.

Video groups are synchronised by the inline script: one play/pause button, one seek slider
(frame steps) and one playback-rate select drive all players of a group; while playing, the
followers are re-synced to the first player whenever they drift by more than one frame
(``requestVideoFrameCallback`` where available, else ``timeupdate``). A frame counter shows the
current source frame number (``first_frame`` + the 0-based index).

Machine-checkable signals on ``<html>`` (for headless tests):

* ``data-videos-loaded="<loaded>/<total>"``: players whose ``loadeddata`` fired with ``videoWidth > 0``;
* with the URL hash ``#selftest``, once all players have loaded, every group is seeked to a frame in
  the middle through its own slider handler; when all players report ``seeked``,
  ``data-sync-ok`` is ``"1"`` if every player is within 1 ms of the target time (else ``"0"``) and
  ``data-selftest-done="1"``.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["TableSection", "FigureSection", "VideoGroup", "render_page", "write_page"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_VIDEO_MIME = {".webm": "video/webm", ".mp4": "video/mp4", ".m4v": "video/mp4"}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


@dataclass
class TableSection:
    """A rendered table: ``html`` is trusted markup (a ``<table>``); ``caption`` and ``card`` (the protocol card
    printed under it, Markdown shown as text) are plain text."""

    title: str
    html: str
    caption: str = ""
    card: str = ""


@dataclass
class FigureSection:
    """A PNG figure embedded in the page; ``pdf_href`` (optional) is a *relative* link to its PDF,
    resolved against the page's location (e.g. ``"figures/speed.pdf"``)."""

    title: str
    png: Path
    caption: str = ""
    pdf_href: str | None = None


@dataclass
class VideoGroup:
    """Side-by-side synchronised players of one clip: ``videos`` is ``[(label, path), ...]`` of
    WebM (VP9) files (``.mp4`` is accepted too); the first one leads. ``fps`` sets the slider's
    frame step, the frame counter and the drift tolerance (one frame); ``first_frame`` is the source
    frame number of the videos' first frame (the counter shows source numbers)."""

    title: str
    videos: list[tuple[str, Path]]
    fps: float = 25.0
    caption: str = ""
    first_frame: int = 0


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {p}")
    return p.read_bytes()


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _png_size(data: bytes, path: Path) -> tuple[int, int]:
    if not data.startswith(_PNG_MAGIC) or len(data) < 24 or data[12:16] != b"IHDR":
        raise ValueError(f"not a PNG file: {path}")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _check_relative_href(href: str) -> str:
    if _SCHEME.match(href) or href.startswith(("/", "\\")) or not href.strip():
        raise ValueError(f"pdf_href must be a relative path next to the page, got {href!r}")
    return href


def _value_html(value: Any) -> str:
    if value is None:
        return "&mdash;"
    if isinstance(value, Mapping):
        items = [f"{_esc(k)}: {_value_html(v)}" for k, v in value.items()]
        return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" if items else "&mdash;"
    if isinstance(value, Set):
        value = sorted(value, key=str)
    if isinstance(value, (list, tuple)):
        if not value:
            return "&mdash;"
        return "<ul>" + "".join(f"<li>{_value_html(v)}</li>" for v in value) + "</ul>"
    return f"<code>{_esc(value)}</code>"


def _provenance_html(provenance: Mapping[str, Any]) -> str:
    rows = "".join(f"<dt>{_esc(k)}</dt><dd>{_value_html(v)}</dd>" for k, v in provenance.items())
    return f'<section class="provenance" aria-label="Provenance"><h2>Provenance</h2><dl>{rows}</dl></section>'


def _paragraphs(text: str) -> str:
    parts = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{_esc(p)}</p>" for p in parts)


def _table_html(i: int, t: TableSection) -> str:
    cap = f"<figcaption>{_esc(t.caption)}</figcaption>" if t.caption else ""
    card = f'<pre class="protocol-card">{_esc(t.card.strip())}</pre>' if t.card.strip() else ""
    return (f'<figure class="table" id="table-{i}"><h3>{_esc(t.title)}</h3>'
            f'<div class="scroll">{t.html}</div>{cap}{card}</figure>')


def _figure_html(i: int, f: FigureSection) -> str:
    png = Path(f.png)
    data = _read(png, "figure PNG")
    width, height = _png_size(data, png)
    alt = f.caption or f.title
    cap = _esc(f.caption) if f.caption else ""
    if f.pdf_href:
        link = f'<a href="{_esc(_check_relative_href(f.pdf_href))}">PDF</a>'
        cap = f"{cap} ({link})" if cap else link
    cap_html = f"<figcaption>{cap}</figcaption>" if cap else ""
    return (f'<figure class="figure" id="figure-{i}"><h3>{_esc(f.title)}</h3>'
            f'<img src="{_data_uri("image/png", data)}" alt="{_esc(alt)}" width="{width}" height="{height}">'
            f"{cap_html}</figure>")


def _video_group_html(i: int, g: VideoGroup) -> str:
    if not g.videos:
        raise ValueError(f"video group {g.title!r} has no videos")
    if not g.fps > 0:
        raise ValueError(f"video group {g.title!r}: fps must be positive, got {g.fps}")
    cells = []
    for j, (label, path) in enumerate(g.videos):
        p = Path(path)
        mime = _VIDEO_MIME.get(p.suffix.lower())
        if mime is None:
            raise ValueError(f"unsupported video type {p.suffix!r} (use .webm or .mp4): {p}")
        uri = _data_uri(mime, _read(p, "video"))
        lab = _esc(label)
        cells.append(f'<figure class="player"><video id="vg-{i}-v{j}" muted playsinline loop preload="auto" '
                     f'aria-label="{lab}"><source src="{uri}" type="{mime}"></video>'
                     f"<figcaption>{lab}</figcaption></figure>")
    rates = "".join(f'<option value="{r}"{" selected" if r == "1" else ""}>{r}&times;</option>'
                    for r in ("0.25", "0.5", "1", "2"))
    title = _esc(g.title)
    cap = f"<p class=\"caption\">{_esc(g.caption)}</p>" if g.caption else ""
    return (f'<section class="vgroup" id="vg-{i}" data-fps="{g.fps!r}" data-first="{int(g.first_frame)}" '
            f'aria-label="{title}">'
            f"<h3>{title}</h3>{cap}"
            f'<div class="players">{"".join(cells)}</div>'
            f'<div class="controls">'
            f'<button type="button" class="play" aria-label="Play or pause {title}">Play</button>'
            f'<input type="range" class="seek" min="0" max="0" step="1" value="0" aria-label="Seek {title}">'
            f'<label>Speed <select class="rate" aria-label="Playback rate of {title}">{rates}</select></label>'
            f'<output class="frame" data-frame="0">frame 0</output>'
            f"</div></section>")


_CSP = ("default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")

_CSS = """
:root{--fg:#1a1a1a;--muted:#4a4a4a;--rule:#1a1a1a;--light:#d0d0d0;--bg:#fff;--accent:#0b57d0;--panel:#f5f5f5}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--fg)}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 max-width:1200px;margin:0 auto;padding:1.5rem 1rem 4rem}
header{border-bottom:2px solid var(--rule);margin-bottom:1.5rem;padding-bottom:.75rem}
h1{font-size:1.9rem;margin:0 0 .25rem;line-height:1.2}
.subtitle{color:var(--muted);font-size:1.1rem;margin:0}
h2{font-size:1.4rem;margin:2.25rem 0 .75rem;border-bottom:1px solid var(--light);padding-bottom:.25rem}
h3{font-size:1.1rem;margin:0 0 .5rem}
a{color:var(--accent)}
a:focus,button:focus,input:focus,select:focus{outline:3px solid var(--accent);outline-offset:2px}
nav ul{list-style:none;padding:0;margin:.5rem 0 0;display:flex;gap:1rem;flex-wrap:wrap}
.provenance dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0;font-size:.9rem}
.provenance dt{font-weight:600;color:var(--muted)}
.provenance dd{margin:0;overflow-wrap:anywhere}
.provenance ul{margin:0;padding-left:1.1rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
figure{margin:0 0 2rem}
figcaption,.caption{color:var(--muted);font-size:.92rem;margin-top:.4rem}
.protocol-card{white-space:pre-wrap;font-size:.85rem;color:var(--muted);margin:.4rem 0 0}
.scroll{overflow-x:auto}
.table table{border-collapse:collapse;border-top:2px solid var(--rule);border-bottom:2px solid var(--rule);
 font-variant-numeric:tabular-nums;font-size:.92rem;margin:0}
.table th,.table td{padding:.3rem .7rem;text-align:right;border:0;white-space:nowrap}
.table th:first-child,.table td:first-child{text-align:left}
.table thead tr:last-child th{border-bottom:1px solid var(--rule)}
.table tbody tr+tr td{border-top:1px solid #eee}
.table tfoot td{white-space:normal;text-align:left;color:var(--muted);font-size:.85rem}
.figures{display:block}
.figure img{display:block;max-width:100%;height:auto;border:1px solid var(--light)}
.vgroup{margin:0 0 2.5rem;padding:1rem;background:var(--panel);border-radius:6px}
.players{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,170px),1fr));gap:.75rem}
.player{margin:0}
.player video{display:block;width:100%;height:auto;background:#000;border-radius:3px}
.player figcaption{text-align:center;font-weight:600;color:var(--fg)}
.controls{display:flex;flex-wrap:wrap;align-items:center;gap:.75rem;margin-top:.75rem}
.controls .seek{flex:1 1 200px}
.controls button{font:inherit;min-width:5.5rem;padding:.3rem .8rem;border:1px solid var(--fg);border-radius:4px;
 background:var(--bg);color:var(--fg);cursor:pointer}
.controls output{font-variant-numeric:tabular-nums;min-width:7rem}
@media print{.controls{display:none}.vgroup{break-inside:avoid}}
"""

_JS = r"""
(function(){
"use strict";
var root=document.documentElement;
var groups=[].slice.call(document.querySelectorAll("section.vgroup")).map(initGroup);
var all=[];groups.forEach(function(g){all=all.concat(g.videos);});
var loaded=0,selftestStarted=false;
function report(){root.dataset.videosLoaded=loaded+"/"+all.length;}
function markLoaded(v){
  if(v._lsvdLoaded||!(v.videoWidth>0))return;
  v._lsvdLoaded=true;loaded++;report();
  groups.forEach(function(g){if(g.videos.indexOf(v)>=0)refreshRange(g);});
  maybeSelftest();
}
report();
all.forEach(function(v){
  v.addEventListener("loadeddata",function(){markLoaded(v);});
  if(v.readyState>=2)markLoaded(v);
});
maybeSelftest();

function initGroup(el){
  var g={el:el,videos:[].slice.call(el.querySelectorAll("video")),fps:parseFloat(el.dataset.fps)||25,
         play:el.querySelector("button.play"),seek:el.querySelector("input.seek"),
         rate:el.querySelector("select.rate"),frame:el.querySelector("output.frame"),playing:false,
         first:parseInt(el.dataset.first,10)||0};
  g.lead=g.videos[0];
  g.play.addEventListener("click",function(){togglePlay(g);});
  g.seek.addEventListener("input",function(){seekGroup(g,frameTime(g,parseInt(g.seek.value,10)));});
  g.rate.addEventListener("change",function(){
    var r=parseFloat(g.rate.value)||1;g.videos.forEach(function(v){v.playbackRate=r;});});
  g.lead.addEventListener("timeupdate",function(){tick(g);});
  g.lead.addEventListener("seeked",function(){showFrame(g);});
  g.videos.forEach(function(v){v.addEventListener("loadedmetadata",function(){refreshRange(g);});});
  return g;
}
function nFrames(g){
  var d=Infinity;
  g.videos.forEach(function(v){if(isFinite(v.duration)&&v.duration>0)d=Math.min(d,v.duration);});
  return isFinite(d)?Math.max(1,Math.round(d*g.fps)):1;
}
function refreshRange(g){g.seek.max=String(nFrames(g)-1);showFrame(g);}
function frameTime(g,f){return (f+0.5)/g.fps;}   /* middle of frame f: unambiguous */
function frameOf(g,t){return Math.min(nFrames(g)-1,Math.max(0,Math.floor(t*g.fps+1e-6)));}
function showFrame(g){
  var f=frameOf(g,g.lead.currentTime);
  g.frame.dataset.frame=String(f);g.frame.textContent="frame "+(g.first+f)+" / "+(g.first+nFrames(g)-1);
  if(document.activeElement!==g.seek)g.seek.value=String(f);
}
function seekGroup(g,t){
  g.videos.forEach(function(v){v.currentTime=t;});
  showFrame(g);
  return t;
}
function resync(g,t){
  var tol=1/g.fps;
  for(var i=1;i<g.videos.length;i++){
    var v=g.videos[i];
    if(Math.abs(v.currentTime-t)>tol)v.currentTime=t;
    if(g.playing&&v.paused)v.play().catch(function(){});
  }
}
function tick(g){showFrame(g);if(g.playing&&!g.rvfc)resync(g,g.lead.currentTime);}
function onFrame(g){   /* one callback chain per group, alive while playing */
  return function(now,meta){
    if(!g.playing){g.rvfcActive=false;return;}
    resync(g,meta&&typeof meta.mediaTime==="number"?meta.mediaTime:g.lead.currentTime);
    showFrame(g);
    g.lead.requestVideoFrameCallback(onFrame(g));
  };
}
function togglePlay(g){
  if(g.playing){
    g.playing=false;
    g.videos.forEach(function(v){v.pause();});
    seekGroup(g,g.lead.currentTime);
    g.play.textContent="Play";
  }else{
    g.playing=true;
    var t=g.lead.currentTime;
    g.videos.forEach(function(v){if(v!==g.lead)v.currentTime=t;});
    g.videos.forEach(function(v){var p=v.play();if(p&&p.catch)p.catch(function(){});});
    g.play.textContent="Pause";
    g.rvfc=typeof g.lead.requestVideoFrameCallback==="function";
    if(g.rvfc&&!g.rvfcActive){g.rvfcActive=true;g.lead.requestVideoFrameCallback(onFrame(g));}
  }
}
function maybeSelftest(){
  if(selftestStarted||location.hash!=="#selftest"||loaded<all.length)return;
  selftestStarted=true;
  var targets=[],waiting=[],done=false;
  function finish(){
    if(done)return;done=true;
    var ok=targets.every(function(x){return x.g.videos.every(function(v){
      return Math.abs(v.currentTime-x.t)<1e-3&&v.paused&&!v.seeking;});});
    root.dataset.syncOk=ok?"1":"0";
    root.dataset.selftestDone="1";
  }
  function arrived(v){var i=waiting.indexOf(v);if(i>=0)waiting.splice(i,1);if(!waiting.length)finish();}
  all.forEach(function(v){v.addEventListener("seeked",function(){arrived(v);});});
  groups.forEach(function(g){
    if(g.playing)g.play.click();
    var f=Math.floor(nFrames(g)/2);
    targets.push({g:g,t:frameTime(g,f)});
    g.seek.value=String(f);
    g.seek.dispatchEvent(new Event("input",{bubbles:true}));
  });
  /* wait for every player that is seeking; one the controls did not move is judged as it is */
  waiting=all.filter(function(v){return v.seeking;});
  if(!waiting.length)finish();
  setTimeout(finish,5000);  /* a seek that never completes: judge the state then */
}
})();
"""


def render_page(
    title: str,
    *,
    subtitle: str = "",
    intro: str = "",
    provenance: Mapping[str, Any] | None = None,
    tables: Sequence[TableSection] = (),
    figures: Sequence[FigureSection] = (),
    videos: Sequence[VideoGroup] = (),
    lang: str = "en",
) -> str:
    """Return the page as one HTML string (see the module docstring).

    ``intro`` is plain text (blank lines separate paragraphs); ``provenance`` maps a label to a
    value or a list of values, shown in the mapping's order. Raises ``FileNotFoundError`` naming
    the path for a missing PNG or video, and ``ValueError`` for a non-PNG figure, an unsupported
    video type, an absolute/URL ``pdf_href`` or an empty video group.
    """
    sections: list[str] = []
    nav: list[tuple[str, str]] = []
    if provenance:
        sections.append(_provenance_html(provenance))
    if tables:
        nav.append(("tables", "Tables"))
        body = "".join(_table_html(i, t) for i, t in enumerate(tables))
        sections.append(f'<section id="tables"><h2>Tables</h2>{body}</section>')
    if figures:
        nav.append(("figures", "Figures"))
        body = "".join(_figure_html(i, f) for i, f in enumerate(figures))
        sections.append(f'<section id="figures"><h2>Figures</h2><div class="figures">{body}</div></section>')
    if videos:
        nav.append(("videos", "Videos"))
        body = "".join(_video_group_html(i, g) for i, g in enumerate(videos))
        sections.append(f'<section id="videos"><h2>Videos</h2>{body}</section>')
    nav_html = ""
    if len(nav) > 1:
        links = "".join(f'<li><a href="#{a}">{_esc(t)}</a></li>' for a, t in nav)
        nav_html = f'<nav aria-label="Sections"><ul>{links}</ul></nav>'
    sub = f'<p class="subtitle">{_esc(subtitle)}</p>' if subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{_esc(title)}</h1>{sub}{nav_html}</header>\n<main>\n"
        f"{_paragraphs(intro)}\n" + "\n".join(sections) + "\n</main>\n"
        f"<script>{_JS}</script>\n</body>\n</html>\n"
    )


def write_page(path: str | os.PathLike[str], page: str) -> Path:
    """Write ``page`` to ``path`` atomically (UTF-8); returns the path."""
    from lsvd.io.atomic import write_text

    path = Path(path)
    write_text(path, page)
    return path
