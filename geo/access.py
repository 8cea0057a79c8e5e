"""Who may see which sites and who may do what (pure role rules; the data comes from the caller)."""

from __future__ import annotations

from geo.messages import Message, msg
from geo.model import ROLE_NAMES, PermissionDenied, User

READ_ALL = ("planner", "manager", "admin")
GRID_LAYER = "grid_cells"  # a cell assigned to a worker makes every site inside it theirs


def sees_all_sites(user: User) -> bool:
    """Planners, managers and admins see every site; a grid worker only their own."""
    return user.role in READ_ALL


def require_role(user: User, *roles: str, action: Message) -> None:
    """PermissionDenied naming the user's role and the ones ``action`` takes, unless the user holds one
    of ``roles``. Admins may do everything, as webapp's ``role_required`` lets them; each use case a person
    triggers checks this itself, so no caller can skip it."""
    if user.role in roles or user.role == "admin":
        return
    allowed = _either(roles or ("admin",))
    raise PermissionDenied(msg("role_not_allowed", "{action}: not for the role {role} (only {allowed})",
                               action=action, role=role_name(user.role), allowed=allowed))


def role_name(role: str) -> Message | str:
    """What people call a role (translated at the edge); an unknown code as it is."""
    return ROLE_NAMES.get(role, role)


def _either(roles: tuple[str, ...]) -> Message | str:
    if len(roles) == 1:
        return role_name(roles[0])
    return msg("roles_either", "{first} or {rest}", first=role_name(roles[0]), rest=_either(roles[1:]))


def system_user(name: str) -> User:
    """The user a command or script acts as: an administrator that is no account (id 0), whose ``name``
    is what the audit log and the versions record as the actor (``cli``, ``onemap init``)."""
    return User(0, name, "admin")
