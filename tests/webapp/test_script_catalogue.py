"""The page scripts' catalogue (webapp/script_catalogue.py): the scripts' messages only, in the
request's language, from the same gettext catalogues as the server's text; embedded in every page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from webapp.script_catalogue import plural_rule, script_catalogue, script_messages

pytestmark = pytest.mark.backends("sqlite")  # catalogues, not storage


@pytest.fixture
def catalogue(app):
    def make(lang):
        with app.test_request_context(f"/?lang={lang}"):
            return script_catalogue()
    return make


def test_the_chinese_catalogue_holds_the_chinese_of_a_message_only_a_script_uses(catalogue):
    zh = catalogue("zh_CN")
    assert zh["lang"] == "zh_CN" and zh["locale"] == "zh-CN"
    assert zh["messages"]["Place a point"] == "画点"  # edit.js's draw button


def test_the_english_catalogue_holds_english(catalogue):
    en = catalogue("en")
    assert en["lang"] == "en"
    assert en["messages"]["Place a point"] == "Place a point"
    assert en["messages"]["Someone else changed this site"] == "Someone else changed this site"


def test_a_plural_message_has_the_forms_of_each_language(catalogue):
    zh, en = catalogue("zh_CN"), catalogue("en")
    key = "{n} report waiting to be sent"
    assert zh["plural"] == {"nplurals": 1}
    assert zh["messages"][key] == ["{n}份报告等待发送"]
    assert en["plural"] == {"nplurals": 2, "one": [1]}
    assert en["messages"][key] == ["{n} report waiting to be sent", "{n} reports waiting to be sent"]


def test_only_the_scripts_messages_go_in(catalogue):
    messages = catalogue("zh_CN")["messages"]
    assert "Log out" not in messages  # base.html's, not a script's
    assert "Version {n}" in messages and "Split into {n} site." in messages


def test_every_script_message_is_found_and_none_is_inside_a_template_literal(app):
    """The extractor does not look inside `…${}…`: a `_("…")` written there would stay English."""
    found = {m if isinstance(m, str) else m[0] for m in script_messages(app.static_folder)}
    for path in Path(app.static_folder).glob("*.js"):
        source = path.read_text()
        for msgid in re.findall(r'\b(?:_|ngettext)\("((?:[^"\\]|\\.)*)"', source):
            assert json.loads(f'"{msgid}"') in found, f"{path.name}: {msgid!r} not extracted"
        for literal in re.findall(r"`[^`]*`", source):
            assert not re.search(r"\b(_|ngettext)\(", literal), f"{path.name}: a message inside {literal}"


class _Rule:
    def __init__(self, header, plural):
        self._header, self.plural = header, plural

    def info(self):
        return {"plural-forms": self._header}


def test_plural_rules_become_data_and_an_unsupported_one_is_refused():
    assert plural_rule(_Rule("nplurals=1; plural=0;", lambda n: 0)) == {"nplurals": 1}
    assert plural_rule(_Rule("nplurals=2; plural=(n > 1);", lambda n: int(n > 1))) == {"nplurals": 2,
                                                                                        "one": [0, 1]}
    with pytest.raises(ValueError, match="one or two forms"):
        plural_rule(_Rule("nplurals=3; plural=(n%10==1 ? 0 : n%10>=2 ? 1 : 2);",
                          lambda n: 0 if n % 10 == 1 else 1 if n % 10 >= 2 else 2))


def test_every_page_embeds_the_catalogue_and_loads_i18n_js_from_the_app(client, auth):
    auth.login_as("worker")
    page = client.get("/my?lang=en").get_data(as_text=True)
    embedded = re.search(r'<script type="application/json" id="onemap-catalogue">(.*?)</script>', page, re.S)
    data = json.loads(embedded.group(1))
    assert data["lang"] == "en" and data["messages"]["{n} photo"] == ["{n} photo", "{n} photos"]
    assert '<script src="/static/i18n.js"></script>' in page
    zh = client.get("/my?lang=zh_CN").get_data(as_text=True)
    assert "等待发送" in zh  # kept readable (not \\u escapes), and still safe inside <script>
    script = client.get("/static/i18n.js")
    assert script.status_code == 200
    script.close()
