"""Page weight: the bytes of HTML, JavaScript and CSS a browser fetches to show a page.

Generic on purpose (the map page is being rebuilt): parse the HTML for
``<script src>``, ``<link rel=stylesheet href>`` (and preload/modulepreload of
scripts and styles) and ``<iframe src>``, fetch each local one through the app,
follow ``@import`` in CSS, and sum the bytes. Inline scripts and styles are part
of the HTML. Anything on another host is listed in ``external``: the app must
serve its own assets (no CDN), so that fails the budget. Images and fonts are
not counted.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

# fetch(path) -> (HTTP status, body bytes); path is local, e.g. "/static/map.js?v=1"
Fetch = Callable[[str], tuple[int, bytes]]
CSS_IMPORT = re.compile(rb"""@import\s+(?:url\()?\s*["']?([^"')\s;]+)""")
CSS_URL = re.compile(rb"""url\(\s*["']?((?:https?:)?//[^"')\s]+)""")


@dataclass
class PageWeight:
    html: int = 0  # bytes of HTML documents (the page and any local iframes), inline JS/CSS included
    inline_js: int = 0  # of which inside <script> elements without src
    assets: list[tuple[str, str, int]] = field(default_factory=list)  # (url, "js" | "css", bytes)
    external: list[str] = field(default_factory=list)  # assets referenced on another host
    missing: list[tuple[str, int]] = field(default_factory=list)  # (url, status) that did not load
    gzip_total: int = 0  # the same files gzip-compressed, for information only

    @property
    def js(self) -> int:
        return sum(size for _, kind, size in self.assets if kind == "js")

    @property
    def css(self) -> int:
        return sum(size for _, kind, size in self.assets if kind == "css")

    @property
    def total(self) -> int:
        return self.html + self.js + self.css


class _References(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []  # (kind, url)
        self.inline_js = 0
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        rel = a.get("rel", "").lower().split()
        if tag == "script":
            if a.get("src"):
                self.found.append(("js", a["src"]))
            else:
                self._in_inline_script = True
        elif tag == "link" and a.get("href"):
            if "stylesheet" in rel or (rel and rel[0] == "preload" and a.get("as") == "style"):
                self.found.append(("css", a["href"]))
            elif "modulepreload" in rel or (rel and rel[0] == "preload" and a.get("as") == "script"):
                self.found.append(("js", a["href"]))
        elif tag == "iframe" and a.get("src"):
            self.found.append(("html", a["src"]))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script:
            self.inline_js += len(data.encode())


def _is_local(url: str, local_hosts: set[str]) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("", "http", "https") and parts.netloc in local_hosts | {""}


def measure(fetch: Fetch, path: str = "/", local_hosts: frozenset[str] = frozenset({"localhost"})
            ) -> PageWeight:
    """Fetch ``path`` and everything it loads from the app; see the module docstring."""
    weight = PageWeight()
    hosts = set(local_hosts)
    seen: set[str] = set()
    queue: list[tuple[str, str]] = [("html", path)]
    while queue:
        kind, url = queue.pop(0)
        if url.startswith("data:"):
            continue  # inline data: already counted in the document that holds it
        if not _is_local(url, hosts):
            weight.external.append(url)
            continue
        parts = urlsplit(url)
        local = parts.path + (f"?{parts.query}" if parts.query else "")
        if local in seen:
            continue
        seen.add(local)
        status, body = fetch(local)
        if status != 200:
            weight.missing.append((local, status))
            continue
        weight.gzip_total += len(gzip.compress(body, 6))
        if kind == "html":
            weight.html += len(body)
            parser = _References()
            parser.feed(body.decode("utf-8", "replace"))
            weight.inline_js += parser.inline_js
            queue.extend((k, urljoin(local, ref)) for k, ref in parser.found)
            continue
        weight.assets.append((local, kind, len(body)))
        if kind == "css":
            queue.extend(("css", urljoin(local, ref.decode())) for ref in CSS_IMPORT.findall(body))
            weight.external.extend(ref.decode() for ref in CSS_URL.findall(body)
                                   if not _is_local(ref.decode(), hosts))
    return weight
