"""Who may see which sites (pure role rules; the data comes from the caller)."""

from __future__ import annotations

from geo.model import User

READ_ALL = ("planner", "manager", "admin")
GRID_LAYER = "grid_cells"  # a cell assigned to a worker makes every site inside it theirs


def sees_all_sites(user: User) -> bool:
    """Planners, managers and admins see every site; a grid worker only their own."""
    return user.role in READ_ALL


def may_see_site(user: User, site_id: int, own_site_ids: set[int]) -> bool:
    return sees_all_sites(user) or site_id in own_site_ids
