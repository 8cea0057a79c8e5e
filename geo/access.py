"""Who may see which sites (pure role rules; the data comes from the caller)."""

from __future__ import annotations

from geo.model import User

READ_ALL = ("planner", "manager", "admin")
GRID_LAYER = "grid_cells"  # a cell assigned to a worker makes every site inside it theirs


def sees_all_sites(user: User) -> bool:
    """Planners, managers and admins see every site; a grid worker only their own."""
    return user.role in READ_ALL

