"""The HTML of the report: one static page, sections in order, every piece of data text escaped.

No script, no external resource: the style sheet is inline and images are relative links to files
beside ``index.html``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tabulate import tabulate

STYLE = """
body { font-family: sans-serif; margin: 24px auto; max-width: 1400px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.scroll { overflow-x: auto; }
.note { color: #8a4b00; font-size: 0.85em; }
.muted { color: #666; font-size: 0.85em; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.attention td { text-align: center; max-width: 210px; }
.attention th { max-width: 210px; font-weight: normal; }
.attention img { width: 192px; height: auto; }
.curves img { width: 540px; } .confusion img { width: 380px; } .ablation img { max-width: 900px; }
.attention .range { font-size: 0.75em; color: #666; }
figure { margin: 0; } figcaption { font-size: 0.8em; color: #555; max-width: 640px; }
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def img(src: str, alt: str, caption: str | None = None) -> str:
    tag = f'<img src="{esc(src)}" alt="{esc(alt)}">'
    if caption is None:
        return tag
    return f"<figure>{tag}<figcaption>{esc(caption)}</figcaption></figure>"


def para(text: str, cls: str | None = None) -> str:
    klass = f' class="{cls}"' if cls else ""
    return f"<p{klass}>{esc(text)}</p>"


def bullets(items: Iterable[str], cls: str | None = None) -> str:
    klass = f' class="{cls}"' if cls else ""
    rows = "".join(f"<li>{esc(i)}</li>" for i in items)
    return f"<ul{klass}>{rows}</ul>" if rows else ""


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """A small table through tabulate's html format (which escapes every cell)."""
    text = tabulate([[str(c) for c in r] for r in rows], headers=list(headers), tablefmt="html",
                    disable_numparse=True)
    return f'<div class="scroll">{text}</div>'


@dataclass
class Page:
    title: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (id, heading, body html)

    def add(self, anchor: str, heading: str, *parts: str) -> None:
        self.sections.append((anchor, heading, "\n".join(p for p in parts if p)))

    def render(self) -> str:
        toc = "".join(f'<li><a href="#{esc(a)}">{esc(h)}</a></li>' for a, h, _ in self.sections)
        body = "\n".join(
            f'<section id="{esc(a)}">\n<h2>{esc(h)}</h2>\n{b}\n</section>' for a, h, b in self.sections
        )
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{esc(self.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{esc(self.title)}</h1>\n<nav><ul>{toc}</ul></nav>\n{body}\n</body>\n</html>\n"
        )
