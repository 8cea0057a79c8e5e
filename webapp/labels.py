"""Texts chosen by a code at run time (roles, review states, flags, answers, version actions …),
and the tables of text the map's and the site page's scripts receive. Lazy, so each is translated
into the language of the request that reads it."""

from webapp.i18n import lazy as _l

# user roles
ROLES = {
    "planner": _l("Planner"),
    "worker": _l("Grid worker"),
    "manager": _l("Manager"),
    "admin": _l("Administrator"),
}

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

# what made a site version (the site page)
VERSION_ACTIONS = {
    "create": _l("drawn on the map"),
    "edit": _l("edited"),
    "import": _l("imported from a file"),
    "load": _l("loaded with the dataset"),
    "initial": _l("first recorded"),
    "status": _l("status set on review"),
    "delete": _l("deleted"),
    "restore": _l("restored"),
    "split": _l("split"),
    "merge": _l("merged"),
}

# after assigning or unassigning
ASSIGN_DONE = {
    "assign": _l("{n} site(s) newly assigned to {name}."),
    "unassign": _l("{n} site(s) taken from {name}."),
}

# the map's planning tools (edit.js)
EDIT_TEXT = {
    "new_title": _l("New site"),
    "layer": _l("Layer"),
    "draw_Point": _l("Place a point"),
    "draw_LineString": _l("Draw a line"),
    "draw_Polygon": _l("Draw an area"),
    "hint_Point": _l("Click the map to place the site."),
    "hint_LineString": _l("Click the points in order; click the last one again to finish."),
    "hint_Polygon": _l("Click each corner in turn; click the first one again to close the area."),
    "hint_adjust": _l("You can still drag it into place before saving."),
    "reshape": _l("Edit shape"),
    "attributes": _l("Edit attributes"),
    "split": _l("Split"),
    "merge": _l("Merge"),
    "delete": _l("Delete"),
    "hint_reshape": _l("Drag the vertices; drag a small middle mark to add one; right-click a vertex to "
                       "remove it."),
    "hint_split": _l("Draw a line across the area: click the points, then the last one again to finish."),
    "hint_merge": _l("Click another site of the same layer that touches it."),
    "merge_with": _l("Merged into it: "),
    "same_layer": _l("Choose a site of the same layer."),
    "confirm_delete": _l("Delete “{name}”? Its reports and version history are kept; its page can restore "
                         "it."),
    "name": _l("Name"),
    "status": _l("Status"),
    "comment": _l("Comment on the change (optional)"),
    "required": _l("required"),
    "choose": _l("Choose"),
    "unknown": _l("not set"),
    "list_hint": _l("separate values with ;"),
    "save": _l("Save"),
    "cancel": _l("Cancel"),
    "saving": _l("Saving…"),
    "saved": _l("Saved: {name} (version {version})"),
    "deleted": _l("Deleted: {name}"),
    "split_done": _l("Split into {n} sites."),
    "not_saved": _l("Not saved: "),
    "initial_status": _l("(initial status)"),
    "no_gcj02": _l("Sites cannot be edited on the AMap basemap (GCJ-02 coordinates); choose another "
                   "basemap."),
    "conflict": _l("Someone else changed this site"),
    "changes": _l("Changes (before → after)"),
    "reload_latest": _l("Load the latest version"),
    "shape_changed": _l("shape changed"),
    "empty": _l("(empty)"),
    "field.name": _l("Name"),
    "field.status": _l("Status"),
    "field.county": _l("County"),
    "field.ref": _l("Source key"),
    "field.deleted": _l("Deleted"),
    "field.geometry": _l("Shape"),
}

# the site page's version history (site.js)
SITE_TEXT = {
    "system": _l("system"),
    "offline": _l("Cannot reach the server"),
    "version_n": _l("Version {n}"),
    "current": _l("current"),
    "showing_version": _l("Dashed: the shape of version {n}; solid: the current one"),
    "show_version": _l("Show this version on the map"),
    "restore": _l("Restore this version"),
    "restore_comment": _l("Comment on the restore (optional)"),
    "restore_confirm": _l("Restore as a new version"),
    "conflict": _l("Someone else changed this site"),
    "changes": _l("Changes (before → after)"),
    "reload_latest": _l("Load the latest version"),
    "shape_changed": _l("shape changed"),
    "empty": _l("(empty)"),
    "not_saved": _l("Not saved: "),
    "yes": _l("yes"),
    "no": _l("no"),
    "restored_from": _l("from version {n}"),
    "split_from": _l("split from site {id}"),
    "merged": _l("took in sites {ids}"),
    "merged_into": _l("merged into site {id}"),
    "on_report": _l("on report {id}"),
    "field.name": _l("Name"),
    "field.status": _l("Status"),
    "field.county": _l("County"),
    "field.ref": _l("Source key"),
    "field.deleted": _l("Deleted"),
    "field.geometry": _l("Shape"),
}


def texts(table: dict, **more: str) -> dict[str, str]:
    """A table of lazy texts resolved in the request's language (for a page script's JSON)."""
    return {key: str(value) for key, value in table.items()} | more
