"""Texts chosen by a code at run time (roles, review states, flags, answers …). Lazy, so each is
translated into the language of the request that reads it. The page scripts' texts are in the
scripts themselves (`_()` of webapp/static/i18n.js)."""

from flask_babel import LazyString

from geo.model import ROLE_NAMES
from webapp.i18n import lazy as _l
from webapp.i18n import translate

# user roles (named in geo/, where messages name them too)
ROLES = {role: LazyString(translate, name) for role, name in ROLE_NAMES.items()}

# the review state of a report
REVIEW = {
    "pending": _l("awaiting review"),
    "approved": _l("approved"),
    "rejected": _l("rejected"),
}

# flags a manager sees on a report
FLAGS = {
    "off_site": _l("off site"),
    "photo_far": _l("photo taken far away"),
    "photo_old": _l("photo taken long before"),
}

# answers to a checklist item
ANSWERS = {
    "pass": _l("pass"),
    "fail": _l("fail"),
    "na": _l("n/a"),
}

# the OGC API's item properties
OGC_PROPS = {
    "layer": _l("Layer"),
    "name": _l("Name"),
    "status": _l("Status code"),
    "status_label": _l("Status"),
    "county": _l("County code"),
    "ref": _l("Source key"),
    "last_inspected_at": _l("Last inspected"),
    "last_result": _l("Last result"),
    "report_count": _l("Reports (not rejected)"),
    "version": _l("Version"),
    "updated_at": _l("Updated"),
}

# paging links
PAGE_LINKS = {
    "prev": _l("Previous page"),
    "next": _l("Next page"),
}

