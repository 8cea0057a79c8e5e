"""Interface text in Chinese (zh_CN, the default) and English.

A small table rather than gettext catalogues: the interface is short, and the
layer definitions carry their own zh/en labels.
"""

from __future__ import annotations

from flask import current_app, request, session

LANGUAGES = ("zh_CN", "en")
MESSAGES = {
    "app.title": ("一张图", "OneMap"),
    "app.subtitle": ("锦州市规划与巡查一张图", "Jinzhou planning and inspection map"),
    "nav.map": ("地图", "Map"),
    "nav.logout": ("退出", "Log out"),
    "nav.language": ("English", "中文"),
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("用户名或密码错误。", "Wrong user name or password."),
    "login.incomplete": ("请输入用户名和密码。", "Enter your user name and password."),
    "login.expired": ("页面已过期，请重新登录。", "The page expired; please log in again."),
    "map.layers": ("图层", "Layers"),
    "map.sites": ("个站点", "sites"),
    "map.loading": ("正在加载…", "Loading…"),
    "role.planner": ("规划人员", "Planner"),
    "role.worker": ("网格员", "Grid worker"),
    "role.manager": ("管理人员", "Manager"),
    "role.admin": ("管理员", "Administrator"),
    "error.title": ("出错了", "Something went wrong"),
    "error.back": ("返回地图", "Back to the map"),
}


def current_language() -> str:
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return current_app.config["ONEMAP"].lang


def t(key: str) -> str:
    zh, en = MESSAGES[key]
    return en if current_language() == "en" else zh


def label(value: dict[str, str]) -> str:
    """Pick the current language from a layer definition's {"zh_CN", "en"} label."""
    return value.get(current_language()) or value.get("zh_CN") or next(iter(value.values()), "")


def _remember_choice():
    if request.args.get("lang") in LANGUAGES:
        session["lang"] = request.args["lang"]


def init_app(app) -> None:
    app.before_request(_remember_choice)
    app.jinja_env.globals.update(t=t, label=label, current_language=current_language)
