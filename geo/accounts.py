"""Account use cases: reset a password, deactivate / reactivate a user, take sites away.

Like geo/services.py, each takes the unit of work, the actor and the time, checks
its input before writing anything, commits, and records an audit entry. Adding
users, assigning sites and issuing tokens stay in geo/services.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from geo import credentials
from geo.messages import msg
from geo.model import InvalidInput, NotFound, User
from geo.services import MIN_PASSWORD
from geo.storage.base import UnitOfWork


def _user(username: str, uow: UnitOfWork) -> User:
    found = uow.users.by_name(username or "")
    if not found:
        raise NotFound(msg("user_not_found", "user {username} does not exist", username=repr(username)))
    return found[0]


def reset_password(username: str, new_password: str, *, uow: UnitOfWork, actor: str | None,
                   now: datetime) -> User:
    """Give a user a new password; the old one stops working at once."""
    user = _user(username, uow)
    if len(new_password or "") < MIN_PASSWORD:
        raise InvalidInput(msg("password_too_short", "password: at least {limit} characters",
                               limit=MIN_PASSWORD), field="password")
    uow.users.set_password_hash(user.id, credentials.hash_password(new_password))
    uow.audit.record(actor, "user.password", f"user:{username}", {}, now)
    uow.commit()
    return user


def set_active(username: str, active: bool, *, uow: UnitOfWork, actor: str | None,
               now: datetime) -> User:
    """Deactivate or reactivate a user.

    A deactivated user cannot log in, their session ends at its next request and
    their API tokens are refused; their reports and assignments stay. Nobody can
    deactivate themselves (an admin would lock themselves out).
    """
    user = _user(username, uow)
    active = bool(active)
    if not active and actor is not None and actor == user.username:
        raise InvalidInput(msg("user_cannot_deactivate_self", "you cannot deactivate your own account"),
                           field="username")
    if user.active == active:
        return user  # nothing changes, nothing to record
    uow.users.set_active(user.id, active)
    uow.audit.record(actor, "user.activate" if active else "user.deactivate", f"user:{username}", {}, now)
    uow.commit()
    return uow.users.get(user.id)


def unassign_sites(username: str, site_ids: Iterable[int], *, uow: UnitOfWork, actor: str | None,
                   now: datetime) -> list[int]:
    """Take sites away from a grid worker; returns the ids that were theirs.

    Ids that were not assigned to the worker are ignored; nothing else changes.
    """
    user = _user(username, uow)
    wanted = sorted(set(site_ids))
    if not wanted:
        raise InvalidInput(msg("sites_none_chosen", "site_ids: choose at least one site"), field="site_ids")
    removed = uow.assignments.unassign(user.id, wanted)
    uow.audit.record(actor, "sites.unassign", f"user:{username}", {"site_ids": removed}, now)
    uow.commit()
    return removed


@dataclass(frozen=True)
class UserSummary:
    user: User
    assigned: int  # number of sites assigned


def list_users(*, uow: UnitOfWork) -> list[UserSummary]:
    """Every user, by name, with how many sites each has assigned (read only)."""
    counts = uow.assignments.by_user()
    return [UserSummary(user, counts.get(user.id, 0)) for user in uow.users.all()]
