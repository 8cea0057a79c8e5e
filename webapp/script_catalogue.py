"""The page scripts' share of the message catalogues, as JSON the page embeds.

The scripts in webapp/static/ call ``_("English")`` and ``ngettext(...)`` from ``i18n.js``, which reads
the ``onemap-catalogue`` element that base.html fills from here: every message the scripts use (found
by babel's javascript extractor, the one `tools/i18n.py extract` runs), in the request's language, from
the same gettext catalogues as the server's text. Only the scripts' messages, so pages stay small; built
once per language. The phone pages carry it inside the page the service worker keeps, so they work
offline.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache, partial
from pathlib import Path

from babel.messages.extract import extract_from_file
from flask import current_app
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from webapp.i18n import TRANSLATIONS, _catalogue, current_language

KEYWORDS = {"_": None, "ngettext": (1, 2)}  # what i18n.js defines; the same as tools/i18n.py's
_SAMPLE = range(0, 201)  # the numbers a plural rule is read at: enough for every rule with two forms


@lru_cache(maxsize=4)
def script_messages(static_folder: str) -> tuple[str | tuple[str, str], ...]:
    """The messages of the scripts in ``static_folder``: msgids, and (singular, plural) pairs."""
    found: dict[str, str | tuple[str, str]] = {}
    for path in sorted(Path(static_folder).glob("*.js")):
        for _lineno, message, _comments, _context in extract_from_file("javascript", str(path),
                                                                        keywords=KEYWORDS):
            key = message if isinstance(message, str) else message[0]
            if key:
                found[key] = message
    return tuple(found.values())


def plural_rule(translations) -> dict:
    """A catalogue's plural rule as data for i18n.js (no eval in the browser): ``nplurals``, and for
    two forms ``one``, the numbers (of 0…200) that take the first form (en: [1]; fr would be [0, 1])."""
    header = translations.info().get("plural-forms", "nplurals=2; plural=(n != 1);")
    nplurals = int(re.search(r"nplurals\s*=\s*(\d+)", header).group(1))
    choose = getattr(translations, "plural", lambda n: int(n != 1))
    if nplurals == 1:
        return {"nplurals": 1}
    one = [n for n in _SAMPLE if choose(n) == 0]
    if nplurals != 2 or any(choose(n) not in (0, 1) for n in _SAMPLE):
        raise ValueError(f"i18n.js knows plural rules of one or two forms, not {header!r}")
    return {"nplurals": 2, "one": one}


def build(translations, messages, lang: str, locale: str) -> dict:
    """{"lang", "locale", "plural", "messages": {msgid: text, singular: [forms]}} for one language."""
    rule = plural_rule(translations)
    samples = [1] if rule["nplurals"] == 1 else \
        [rule["one"][0] if rule["one"] else 1, next(n for n in _SAMPLE if n not in rule["one"])]
    table: dict[str, str | list[str]] = {}
    for message in messages:
        if isinstance(message, str):
            table[message] = translations.ugettext(message)
        else:
            singular, plural = message
            table[singular] = [translations.ungettext(singular, plural, n) for n in samples]
    return {"lang": lang, "locale": locale, "plural": rule, "messages": table}


def script_catalogue() -> dict:
    """The scripts' catalogue in the request's language."""
    return _built(*_key())


def catalogue_json() -> Markup:
    """The same as JSON, safe inside ``<script type="application/json">``."""
    return _json(*_key())


def _key() -> tuple[str, str, str]:
    folder = current_app.config.get("ONEMAP_TRANSLATIONS", str(TRANSLATIONS))
    return current_app.static_folder, folder, current_language()


@lru_cache(maxsize=16)
def _built(static_folder: str, folder: str, lang: str) -> dict:
    return build(_catalogue(folder, lang), script_messages(static_folder), lang,
                 lang.replace("_", "-"))


@lru_cache(maxsize=16)
def _json(static_folder: str, folder: str, lang: str) -> Markup:
    dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
    return htmlsafe_json_dumps(_built(static_folder, folder, lang), dumps=dumps)
