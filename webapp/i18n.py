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
    "assign.map_help": ("点击地图上的站点即可勾选或取消，再点“分配”或“取消分配”。",
                        "Click sites on the map to tick or untick them, then Assign or Unassign."),
    "map.unreviewed": ("最近一次巡查待审核", "Latest report awaits review"),
    "map.unreviewed_legend": ("虚线边框：最近一次巡查待审核", "Dashed outline: latest report awaits review"),
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
    # grid worker's phone pages (webapp/blueprints/worker.py, static/worker.js)
    "nav.my": ("我的站点", "My sites"),
    "my.title": ("我的站点", "My sites"),
    "my.count": ("共{n}个", "{n} in all"),
    "my.showing": ("仅列出最紧急的{n}个", "the {n} most urgent are listed"),
    "my.none": ("还没有分配给您的站点。", "No sites are assigned to you yet."),
    "my.days_overdue": ("逾期{n}天", "{n} days overdue"),
    "my.report": ("填报", "Report"),
    "my.nearest": ("同等紧急的站点按距离由近到远排列", "Equally urgent sites: nearest first"),
    "my.offline_ready": ("已可离线使用", "Ready to use offline"),
    "my.queue": ("报告发送情况", "Reports sent from this phone"),
    "my.queue_empty": ("这台手机上没有报告记录。", "No reports on this phone yet."),
    "queue.queued": ("等待发送", "Waiting to send"),
    "queue.sent": ("已送达", "Delivered"),
    "queue.failed": ("未被接收", "Not accepted"),
    "queue.receipt": ("回执：编号 {id}，服务器接收时间 {time}", "Receipt: no. {id}, received {time}"),
    "queue.offline": ("无网络，联网后自动发送", "No network: sent automatically when back online"),
    "queue.login": ("登录已过期，请重新登录，之后自动发送", "Logged out: log in again and it is sent"),
    "queue.server": ("服务器暂时无法接收，稍后自动重试", "The server is busy: retried automatically"),
    "queue.photos": ("{n}张照片", "photos: {n}"),
    "queue.dismiss": ("删除此记录", "Remove"),
    "queue.send_now": ("立即发送", "Send now"),
    "queue.waiting_count": ("{n}份报告等待发送", "{n} reports waiting to be sent"),
    "report.title": ("巡查填报", "Inspection report"),
    "report.status": ("当前状态", "Status"),
    "report.checklist": ("检查项目", "Checklist"),
    "report.comment": ("说明（可选）", "Comment (optional)"),
    "report.metrics": ("工作量", "Figures"),
    "report.unit": ("单位", "unit"),
    "report.range": ("范围", "range"),
    "report.note": ("备注", "Note"),
    "report.photos": ("现场照片（1–10张）", "Photos (1–10)"),
    "report.add_photo": ("拍照 / 选择照片", "Take or choose photos"),
    "report.remove_photo": ("移除", "Remove"),
    "report.photo_gps": ("照片含位置", "photo has a position"),
    "report.gps": ("手机定位", "Phone position"),
    "report.gps_waiting": ("正在定位…", "Locating…"),
    "report.gps_fix": ("精度 ±{m} 米", "accuracy ±{m} m"),
    "report.gps_error": ("无法定位，报告将不带位置提交", "No position: the report goes without one"),
    "report.submit": ("提交报告", "Submit report"),
    "report.processing": ("正在处理照片…", "Preparing photos…"),
    "report.saving": ("正在保存并发送…", "Saving and sending…"),
    "report.saved_offline": ("已保存在手机上，联网后自动发送。",
                             "Saved on this phone; it is sent when the network is back."),
    "report.sent": ("报告已送达服务器。", "The server has received the report."),
    "report.failed": ("服务器未接收此报告：", "The server did not accept this report: "),
    "report.need_answer": ("请选择：合格、不合格或不适用。", "Choose pass, fail or not applicable."),
    "report.need_photo": ("请至少拍一张照片。", "Add at least one photo."),
    "report.too_many_photos": ("最多10张照片。", "At most 10 photos."),
    "report.out_of_range": ("请输入{min}到{max}之间的数字。", "Enter a number from {min} to {max}."),
    "report.back": ("返回我的站点", "Back to my sites"),
    "report.another": ("再填一份", "File another report"),
    "report.flags": ("系统提示", "Flagged"),
    # manager and admin pages (webapp/blueprints/manager.py, admin.py)
    "nav.review": ("报告审核", "Review"),
    "nav.assign": ("站点分配", "Assign sites"),
    "nav.users": ("用户管理", "Users"),
    "manage.reports_title": ("巡查报告审核", "Review inspection reports"),
    "manage.pending_heading": ("待审核的报告", "Awaiting review"),
    "manage.decided": ("最近审核的报告", "Recently reviewed"),
    "manage.none_pending": ("没有待审核的报告。", "No report is awaiting review."),
    "manage.none_decided": ("还没有审核过的报告。", "No report has been reviewed yet."),
    "manage.worker": ("网格员", "Worker"),
    "manage.observed": ("巡查时间", "Inspected"),
    "manage.received": ("收到时间", "Received"),
    "manage.distance": ("距站点", "Distance to site"),
    "manage.reviewed_at": ("审核时间", "Reviewed"),
    "manage.comment": ("审核意见", "Comment"),
    "manage.approve": ("通过", "Approve"),
    "manage.reject": ("退回", "Reject"),
    "manage.site_status": ("通过后站点状态", "Site status on approval"),
    "manage.status_unchanged": ("不变", "unchanged"),
    "manage.approved_msg": ("报告已通过。", "Report approved."),
    "manage.rejected_msg": ("报告已退回。", "Report rejected."),
    "assign.title": ("为网格员分配站点", "Assign sites to grid workers"),
    "assign.worker": ("网格员", "Grid worker"),
    "assign.choose_worker": ("请选择网格员", "Choose a grid worker"),
    "assign.choose_worker_first": ("请先选择网格员，再勾选站点。", "Choose a grid worker, then check sites."),
    "assign.no_workers": ("还没有可用的网格员账号。", "There is no active grid worker account."),
    "assign.layer": ("图层", "Layer"),
    "assign.all_layers": ("全部图层", "All layers"),
    "assign.name": ("名称", "Name"),
    "assign.status": ("状态", "Status"),
    "assign.only_mine": ("只看已分配给该网格员的站点", "Only this worker's sites"),
    "assign.filter": ("筛选", "Filter"),
    "assign.assigned": ("已分配", "Assigned"),
    "assign.others": ("其他网格员", "Other workers"),
    "assign.select_all": ("全选", "All"),
    "assign.assign": ("分配勾选的站点", "Assign the checked sites"),
    "assign.unassign": ("取消分配勾选的站点", "Unassign the checked sites"),
    "assign.done_assign": ("已为 {name} 新分配 {n} 个站点。", "{n} site(s) newly assigned to {name}."),
    "assign.done_unassign": ("已取消 {name} 的 {n} 个站点。", "{n} site(s) taken from {name}."),
    "assign.none_checked": ("请至少勾选一个站点。", "Check at least one site."),
    "assign.count": ("已分配站点", "Sites assigned"),
    "assign.truncated": ("站点过多，仅列出前 {n} 个，请缩小筛选范围。",
                         "Too many sites: the first {n} are listed; narrow the filter."),
    "assign.no_sites": ("没有符合条件的站点。", "No site matches."),
    "admin.title": ("用户管理", "Users"),
    "admin.username": ("用户名", "User name"),
    "admin.display_name": ("姓名", "Display name"),
    "admin.role": ("角色", "Role"),
    "admin.active": ("状态", "Status"),
    "admin.is_active": ("启用", "active"),
    "admin.is_inactive": ("已停用", "deactivated"),
    "admin.assigned": ("分配站点数", "Sites assigned"),
    "admin.new_password": ("重置密码", "New password"),
    "admin.actions": ("启用 / 停用", "Activate / deactivate"),
    "admin.create": ("新建用户", "Create user"),
    "admin.password": ("密码", "Password"),
    "admin.min_password": ("至少8个字符", "at least 8 characters"),
    "admin.reset": ("重置", "Reset"),
    "admin.deactivate": ("停用", "Deactivate"),
    "admin.activate": ("重新启用", "Reactivate"),
    "admin.you": ("（本人）", "(you)"),
    "admin.created": ("已创建用户 {name}。", "User {name} created."),
    "admin.password_reset": ("已重置 {name} 的密码。", "Password of {name} reset."),
    "admin.deactivated": ("已停用 {name}。", "{name} deactivated."),
    "admin.activated": ("已重新启用 {name}。", "{name} reactivated."),
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
