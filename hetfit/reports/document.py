"""A small report document written as HTML and Markdown from one structure.

A :class:`Report` holds sections of blocks (paragraphs, tables, figures).  ``write(dir)``
renders ``report.html`` (self-contained apart from the PNGs next to it), ``report.md`` and
``results.json`` (every number the report shows, and more).  :func:`check_report` verifies a
written report: the HTML parses, and every image it references exists, is a PNG and is not
empty.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from hetfit.errors import InputFileError
from hetfit.io import atomic_write_json, atomic_write_text

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:980px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;border-bottom:2px solid #1f77b4;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:1.8em;color:#1f4e79}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#eef3f8}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4em .8em}
code{background:#f4f4f4;padding:0 .2em}
"""


@dataclass
class _Block:
    kind: str  # "text" | "note" | "table" | "figure" | "code"
    payload: Any


@dataclass
class Section:
    title: str
    blocks: list[_Block] = field(default_factory=list)

    def text(self, paragraph: str) -> Section:
        self.blocks.append(_Block("text", paragraph))
        return self

    def note(self, paragraph: str) -> Section:
        """A highlighted caveat (e.g. where a model and its mean field part)."""
        self.blocks.append(_Block("note", paragraph))
        return self

    def code(self, text: str) -> Section:
        self.blocks.append(_Block("code", text))
        return self

    def table(self, rows: list[dict[str, Any]], caption: str = "", digits: int = 3) -> Section:
        self.blocks.append(_Block("table", (rows, caption, digits)))
        return self

    def figure(self, filename: str, caption: str = "") -> Section:
        """``filename`` is relative to the report directory."""
        self.blocks.append(_Block("figure", (filename, caption)))
        return self


def _fmt(value: Any, digits: int) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        return f"{value:.{digits}g}"
    if value is None:
        return "n/a"
    return str(value)


_MD_INLINE = re.compile(r"([\\`*_\[\]<>])")


def _md_cell(text: Any) -> str:
    """A Markdown table cell: labels come from users' files, and a ``|`` or a line break in
    one would split or end the row; both are escaped (``\\|``) or folded into a space."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _md_inline(text: Any) -> str:
    """One line of Markdown text with its markup characters escaped (captions, titles)."""
    return _MD_INLINE.sub(r"\\\1", " ".join(str(text).split()))


class Report:
    """Collects sections; renders HTML and Markdown; keeps all numbers for ``results.json``."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self.sections: list[Section] = []

    def section(self, title: str) -> Section:
        s = Section(title)
        self.sections.append(s)
        return s

    # -- rendering -----------------------------------------------------------------------
    def to_markdown(self) -> str:
        out = [f"# {_md_inline(self.title)}", ""]
        if self.subtitle:
            out += [self.subtitle, ""]
        for s in self.sections:
            out += [f"## {_md_inline(s.title)}", ""]
            for b in s.blocks:
                if b.kind == "text":
                    out += [b.payload, ""]
                elif b.kind == "note":  # every line quoted, or the rest leaves the note
                    out += [f"> {ln}" for ln in str(b.payload).splitlines() or [""]] + [""]
                elif b.kind == "code":
                    out += ["```", b.payload, "```", ""]
                elif b.kind == "figure":
                    fn, cap = b.payload
                    link = str(fn).replace(" ", "%20").replace("(", "%28").replace(")", "%29")
                    out += [f"![{_md_inline(cap)}]({link})", "",
                            f"*{_md_inline(cap)}*" if cap else "", ""]
                elif b.kind == "table":
                    rows, cap, digits = b.payload
                    if not rows:
                        continue
                    cols = list(rows[0].keys())
                    if cap:
                        out += [f"**{_md_inline(cap)}**", ""]
                    out.append("| " + " | ".join(_md_cell(c) for c in cols) + " |")
                    out.append("|" + "---|" * len(cols))
                    for r in rows:
                        out.append("| " + " | ".join(_md_cell(_fmt(r.get(c), digits))
                                                     for c in cols) + " |")
                    out.append("")
        return "\n".join(out).rstrip() + "\n"

    def to_html(self) -> str:
        e = html.escape
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{e(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{e(self.title)}</h1>",
        ]
        if self.subtitle:
            out.append(f"<p>{e(self.subtitle)}</p>")
        for s in self.sections:
            out.append(f"<h2>{e(s.title)}</h2>")
            for b in s.blocks:
                if b.kind == "text":
                    out.append(f"<p>{e(b.payload)}</p>")
                elif b.kind == "note":
                    out.append(f'<p class="note">{e(b.payload)}</p>')
                elif b.kind == "code":
                    out.append(f"<pre><code>{e(b.payload)}</code></pre>")
                elif b.kind == "figure":
                    fn, cap = b.payload
                    out.append(
                        f'<figure><img src="{e(fn)}" alt="{e(cap)}">'
                        f"<figcaption>{e(cap)}</figcaption></figure>"
                    )
                elif b.kind == "table":
                    rows, cap, digits = b.payload
                    if not rows:
                        continue
                    cols = list(rows[0].keys())
                    out.append("<table>")
                    if cap:
                        out.append(f"<caption>{e(cap)}</caption>")
                    out.append("<tr>" + "".join(f"<th>{e(str(c))}</th>" for c in cols) + "</tr>")
                    for r in rows:
                        out.append(
                            "<tr>"
                            + "".join(f"<td>{e(_fmt(r.get(c), digits))}</td>" for c in cols)
                            + "</tr>"
                        )
                    out.append("</table>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"

    def figures(self) -> list[str]:
        return [b.payload[0] for s in self.sections for b in s.blocks if b.kind == "figure"]

    def write(self, directory: str | os.PathLike, results: dict[str, Any] | None = None) -> dict:
        """Write report.html, report.md and results.json into ``directory``; check images."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_text(d / "report.html", self.to_html())
        atomic_write_text(d / "report.md", self.to_markdown())
        atomic_write_json(d / "results.json", results or {})
        check_report(d)
        return {
            "html": str(d / "report.html"),
            "markdown": str(d / "report.md"),
            "json": str(d / "results.json"),
            "figures": [str(d / f) for f in self.figures()],
        }


class _ImgCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.open_tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.extend(v for k, v in attrs if k == "src" and v)


def check_report(directory: str | os.PathLike) -> list[Path]:
    """Check a written report; return the image paths.  Raises InputFileError if broken."""
    d = Path(directory)
    page = d / "report.html"
    if not page.is_file():
        raise InputFileError(f"no report.html in {d}")
    parser = _ImgCollector()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    paths = []
    for src in parser.images:
        p = d / src
        if not p.is_file() or p.stat().st_size == 0:
            raise InputFileError(f"report image {src} is missing or empty in {d}")
        with open(p, "rb") as fh:
            if fh.read(8) != b"\x89PNG\r\n\x1a\n":
                raise InputFileError(f"report image {src} is not a PNG file")
        paths.append(p)
    return paths
