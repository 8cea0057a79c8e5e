"""The message catalogues against the code: every message translated, none stale, .mo built from .po."""

from __future__ import annotations

import importlib.util
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "tools" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():
    return _tool()


@pytest.fixture(scope="module")
def template(tool):
    return tool.extract_template()


def _key(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def _ids(catalog) -> set[str]:
    return {_key(m) for m in catalog if m.id}


def test_messages_are_extracted_from_python_templates_scripts_and_the_domain(template):
    kinds = {(path.split("/")[0], Path(path).suffix) for m in template for path, _ in m.locations}
    assert {("webapp", ".py"), ("webapp", ".html"), ("webapp", ".js"), ("geo", ".py")} <= kinds


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_catalogue_is_current_with_the_code(tool, template, locale):
    """Fails when a message was added, changed or removed in the code without `tools/i18n.py extract`."""
    catalog = tool.read(locale)
    missing = _ids(template) - _ids(catalog)
    stale = _ids(catalog) - _ids(template)
    assert not missing, f"not in {locale}.po (run python tools/i18n.py extract): {sorted(missing)[:20]}"
    assert not stale, f"in {locale}.po but no longer in the code: {sorted(stale)[:20]}"
    plural_kinds = {_key(m): isinstance(m.id, tuple) for m in template if m.id}
    for message in catalog:
        if message.id:
            key = _key(message)
            assert isinstance(message.id, tuple) == plural_kinds[key], f"{key}: plural form changed"


def test_every_message_has_a_chinese_translation(tool):
    untranslated = [m.id for m in tool.read("zh_CN") if m.id and not all(
        (m.string,) if isinstance(m.string, str) else m.string)]
    assert not untranslated, f"no zh_CN translation: {untranslated[:20]}"


def test_translations_keep_their_placeholders(tool):
    import re

    field = re.compile(r"\{(\w*)\}")
    for message in tool.read("zh_CN"):
        if not message.id:
            continue
        ids = (message.id,) if isinstance(message.id, str) else message.id
        strings = (message.string,) if isinstance(message.string, str) else message.string
        wanted = set(field.findall(ids[-1])) | set(field.findall(ids[0]))
        for text in strings:
            assert set(field.findall(text)) <= wanted, f"{ids[0]!r} → {text!r}: unknown placeholder"
            assert set(field.findall(ids[0])) - {"n"} <= set(field.findall(text)), \
                f"{ids[0]!r} → {text!r}: a placeholder is lost"


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_compiled_catalogue_is_built_from_the_po_file(tool, locale):
    """The .mo the package ships is the .po compiled (tools/i18n.py compile after every edit)."""
    buffer = BytesIO()
    write_mo(buffer, tool.read(locale), use_fuzzy=False)
    assert tool.po_path(locale).with_suffix(".mo").read_bytes() == buffer.getvalue()
