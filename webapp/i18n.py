"""Interface language and time zone: Flask-Babel with gettext catalogues in webapp/translations/.

Messages are written in English in the code (`_("Map")`) and translated by the catalogues:
`zh_CN` (the default) and `en`. Placeholders are `{name}`, filled with str.format after translation,
the same in Python, templates and the page scripts. How to add a message or a language:
docs/architecture.md, "Languages".
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from babel import Locale, support
from flask import current_app, has_app_context, has_request_context, request, session
from flask_babel import Babel, LazyString

from geo.layers import value_label
from geo.messages import Message
from geo.model import OneMapError

LANGUAGES = ("zh_CN", "en")


def current_language() -> str:
    """The language of this request: the one chosen with ?lang= (kept in the session), else for a
    script (a token, no session) its Accept-Language, else the instance's ONEMAP_LANG."""
    if not has_request_context():
        return current_app.config["ONEMAP"].lang if has_app_context() else cli_language()
    default = current_app.config["ONEMAP"].lang
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if "Authorization" in request.headers and request.accept_languages:
        best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
        if best:
            return "en" if best == "en" else "zh_CN"
    return default


def _(message: str, **values) -> str:
    """``message`` in the current language, its ``{placeholders}`` filled from ``values``."""
    text = _translations().ugettext(message)
    return text.format(**values) if values else text


gettext = _


def ngettext(singular: str, plural: str, n: int | float, **values) -> str:
    """The form of a message for the number ``n`` (``{n}`` is filled in, as are ``values``)."""
    return _translations().ungettext(singular, plural, n).format(n=format_number(n), **values)


def format_number(value) -> str:
    """A number as the current language writes it: whole numbers whole, grouping per locale."""
    from flask_babel import format_decimal

    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return format_decimal(value)


def label(value: dict[str, str]) -> str:
    """Pick the current language from a layer definition's {"zh_CN", "en"} label."""
    return value.get(current_language()) or value.get("zh_CN") or next(iter(value.values()), "")


def _remember_choice():
    if request.args.get("lang") in LANGUAGES:
        session["lang"] = request.args["lang"]


def html_lang() -> str:
    """The value of <html lang>: zh-CN or en."""
    return current_language().replace("_", "-")


def init_app(app) -> None:
    config = app.config["ONEMAP"]
    app.config.setdefault("BABEL_DEFAULT_LOCALE", config.lang)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", config.timezone)
    Babel(app, locale_selector=lambda: Locale.parse(current_language()),
          timezone_selector=lambda: current_app.config["ONEMAP"].timezone)
    app.before_request(_remember_choice)
    # Our own callables, not jinja2.ext.i18n's: the same {name} formatting as in Python.
    from webapp import labels, timefmt

    timefmt.init_app(app)  # |local_datetime, |local_date: times in ONEMAP_TIMEZONE

    app.jinja_env.globals.update(_=_, labels=labels, translate=translate, gettext=_, ngettext=ngettext,
                                 label=label, html_lang=html_lang, value_label=value_label,
                                 current_language=current_language, format_number=format_number)
    from webapp.script_catalogue import catalogue_json

    app.jinja_env.globals["script_catalogue"] = catalogue_json  # base.html: the page scripts' messages


def translate(message) -> str:
    """A `geo.messages.Message` (or plain text) in the current language, its values too."""
    if not isinstance(message, Message):
        return str(message)
    translations = _translations()
    if message.plural is not None:
        n = message.values.get("n", 0)
        text = translations.ungettext(message.text, message.plural, n)
    else:
        text = translations.ugettext(message.text)
    return text.format(**{key: _value_text(value) for key, value in message.values.items()})


def error_text(exc: OneMapError) -> str:
    """What a domain error says, in the reader's language."""
    return translate(exc.text)


def _value_text(value) -> str:
    if isinstance(value, Message):
        return translate(value)
    if isinstance(value, dict) and "zh_CN" in value:  # a layer definition's label
        return label(value)
    if isinstance(value, list | tuple):
        return "、".join(_value_text(v) for v in value) if current_language() == "zh_CN" else \
            ", ".join(_value_text(v) for v in value)
    return str(value)


TRANSLATIONS = Path(__file__).parent / "translations"


@lru_cache(maxsize=8)
def _catalogue(folder: str, lang: str):
    # By our own code ("zh_CN"), not Flask-Babel's Locale, which names its folder zh_Hans_CN.
    return support.Translations.load(folder, [lang])


def _translations():
    """The request's catalogue; outside a request (the `onemap` command) the one of ONEMAP_LANG."""
    if has_app_context():
        folder = current_app.config.get("ONEMAP_TRANSLATIONS", str(TRANSLATIONS))
        return _catalogue(folder, current_language())
    return _catalogue(str(TRANSLATIONS), cli_language())


def lazy(message: str) -> LazyString:
    """``message`` translated when it is read, in the language of that moment (module-level tables)."""
    return LazyString(_, message)


def cli_language() -> str:
    lang = os.environ.get("ONEMAP_LANG") or "zh_CN"
    return lang if lang in LANGUAGES else "zh_CN"
