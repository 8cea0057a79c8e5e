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
    "nav.dashboard": ("统计看板", "Dashboard"),
    "map.layers": ("图层", "Layers"),
    "map.sites": ("个站点", "sites"),
    "map.loading": ("正在加载…", "Loading…"),
    "map.search": ("按名称搜索", "Search by name"),
    "map.county": ("县（市、区）", "County"),
    "map.all_counties": ("全部县（市、区）", "All counties"),
    "map.filter_status": ("只显示此状态", "Show only this status"),
    "map.in_view": ("当前视野内的站点", "Sites in view"),
    "map.more": ("仅列出前200个", "first 200 listed"),
    "map.locate": ("在地图上定位", "Show on the map"),
    "map.truncated": ("站点过多，请放大地图", "Too many sites: zoom in"),
    "map.offline": ("无法连接服务器", "Cannot reach the server"),
    "popup.last_inspected": ("最近巡查", "Last inspection"),
    "popup.never": ("尚未巡查", "Never inspected"),
    "popup.pass": ("全部合格", "all passed"),
    "popup.fail": ("有不合格项", "items failed"),
    "popup.open_site": ("查看站点详情", "Open site page"),
    "site.last_inspected": ("最近巡查", "Last inspection"),
    "site.attributes": ("基本信息", "Attributes"),
    "site.timeline": ("状态变化", "Status over time"),
    "site.history": ("巡查记录", "Inspection history"),
    "site.no_reports": ("暂无巡查记录。", "No inspection reports yet."),
    "site.review_comment": ("审核意见", "Review comment"),
    "review.pending": ("待审核", "awaiting review"),
    "review.approved": ("已通过", "approved"),
    "review.rejected": ("已退回", "rejected"),
    "answer.pass": ("合格", "pass"),
    "answer.fail": ("不合格", "fail"),
    "answer.na": ("不适用", "n/a"),
    "flag.off_site": ("不在现场", "off site"),
    "flag.photo_far": ("照片位置偏远", "photo taken far away"),
    "flag.photo_old": ("照片拍摄过早", "photo taken long before"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "dash.targets": ("目标完成情况", "Targets"),
    "dash.metrics": ("工作量统计", "Work done"),
    "dash.reported_here": ("本系统填报合计", "Reported in OneMap"),
    "dash.published": ("公开报道数字", "Published figure"),
    "dash.progress": ("工程进度", "Construction progress"),
    "dash.overdue": ("逾期未巡查的站点", "Overdue sites"),
    "dash.none_overdue": ("没有逾期的站点。", "No site is overdue."),
    "dash.site": ("站点", "Site"),
    "dash.outside": ("锦州市域外", "Outside Jinzhou"),
    "dash.days_overdue": ("逾期天数", "Days overdue"),
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


def t(key: str, default: str | None = None) -> str:
    """The interface text for ``key`` in the current language (``default`` for unknown keys)."""
    if key not in MESSAGES and default is not None:
        return default
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
