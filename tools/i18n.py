"""The interface's message catalogues: extract, update, translate, compile.

    python tools/i18n.py extract            # messages from the code -> webapp/translations/messages.pot,
                                            # merged into every catalogue (new ones untranslated)
    python tools/i18n.py translate FILE     # FILE: JSON {"msgid": "译文", "{n} day": ["{n}天"]}
                                            # (a list: the plural forms, keyed by the singular)
                                            # into zh_CN (or --locale L), then compile
    python tools/i18n.py compile            # .po -> .mo (the installed package carries both)

`extract` and `translate` hold a lock, so two people (or two terminals) never overwrite each other.
tests/webapp/test_catalogues.py fails when a catalogue is stale against the code or a message
has no zh_CN translation.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import sys
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "webapp" / "translations"
POT = TRANSLATIONS / "messages.pot"
LOCALES = ("zh_CN", "en")
# `_l` is flask_babel.lazy_gettext; `msg` (geo/messages.py) is a domain message: msgid, then values.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy": None,
            "msg": (2,), "plural_msg": (2, 3), "N_": None}


@contextmanager
def _locked():
    TRANSLATIONS.mkdir(parents=True, exist_ok=True)
    with open(TRANSLATIONS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def extract_template() -> Catalog:
    """Every message of the code, as a template catalogue (what the .po files must hold)."""
    method_map = []
    options = {}
    for line in (ROOT / "babel.cfg").read_text().splitlines():
        line = line.strip()
        if line.startswith("[") and ":" in line:
            method, pattern = line.strip("[]").split(":", 1)
            method_map.append((pattern.strip(), method.strip()))
    catalog = Catalog(project="OneMap", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True):
        if filename.startswith(("tests/", "tools/", "benchmarks/", ".venv")):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def read(locale: str) -> Catalog:
    with open(po_path(locale), "rb") as f:
        return read_po(f, locale=locale)


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = BytesIO()
    # Obsolete entries (#~) are kept: a message removed and later brought back keeps its translation.
    write_po(buffer, catalog, width=110, omit_header=False, sort_output=True, ignore_obsolete=False,
             include_lineno=False)
    path.write_bytes(buffer.getvalue())


def compile_all() -> None:
    for locale in LOCALES:
        catalog = read(locale)
        buffer = BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        po_path(locale).with_suffix(".mo").write_bytes(buffer.getvalue())


def extract() -> None:
    template = extract_template()
    write(template, POT)
    for locale in LOCALES:
        path = po_path(locale)
        catalog = read(locale) if path.exists() else Catalog(locale=locale)
        known = {m.id: m.string for m in [*catalog, *catalog.obsolete.values()] if m.id and m.string}
        catalog.update(template, no_fuzzy_matching=True)
        for message in catalog:
            strings = (message.string,) if isinstance(message.string, str) else (message.string or ())
            if message.id and not any(strings):
                message.string = known.get(message.id, message.string)
        write(catalog, path)
    compile_all()


def translate(source: Path, locale: str) -> None:
    given = json.loads(source.read_text())
    catalog = read(locale)
    unknown = []
    for msgid, text in given.items():
        message = catalog.get(msgid)
        if message is None:
            unknown.append(msgid)
            continue
        message.string = tuple(text) if isinstance(text, list) else text
    write(catalog, po_path(locale))
    compile_all()
    if unknown:
        sys.exit("not in the catalogue (run extract first?): " + "; ".join(unknown))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract")
    sub.add_parser("compile")
    tr = sub.add_parser("translate")
    tr.add_argument("file", type=Path)
    tr.add_argument("--locale", default="zh_CN")
    args = parser.parse_args()
    with _locked():
        if args.command == "extract":
            extract()
        elif args.command == "compile":
            compile_all()
        else:
            translate(args.file, args.locale)


if __name__ == "__main__":
    main()
