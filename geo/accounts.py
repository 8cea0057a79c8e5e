"""Account use cases: reset a password, deactivate / reactivate a user, assign sites and take them away.

Like geo/services.py, each takes the unit of work, the user who acts and the time,
checks that user's role (geo.access.require_role) and its input before writing
anything, commits, and records an audit entry under the user's name. Adding users and
issuing tokens stay in geo/services.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from geo import credentials
from geo.access import require_role, role_name
from geo.messages import msg
from geo.model import InvalidInput, NotFound, User
from geo.services import MANAGE_USERS, MIN_PASSWORD
from geo.storage.base import UnitOfWork

ASSIGN_SITES = msg("action_assign_sites", "assigning sites")


def _user(username: str, uow: UnitOfWork) -> User:
    found = uow.users.by_name(username or "")
    if not found:
        raise NotFound(msg("user_not_found", "user {username} does not exist", username=repr(username)))
    return found[0]


def reset_password(username: str, new_password: str, *, uow: UnitOfWork, user: User,
                   now: datetime) -> User:
    """Give a user a new password (an admin's work); the old one stops working at once."""
    require_role(user, "admin", action=MANAGE_USERS)
    target = _user(username, uow)
    if len(new_password or "") < MIN_PASSWORD:
        raise InvalidInput(msg("password_too_short", "password: at least {limit} characters",
                               limit=MIN_PASSWORD), field="password")
    uow.users.set_password_hash(target.id, credentials.hash_password(new_password))
    uow.audit.record(user.username, "user.password", f"user:{username}", {}, now)
    uow.commit()
    return target


def set_active(username: str, active: bool, *, uow: UnitOfWork, user: User,
               now: datetime) -> User:
    """Deactivate or reactivate a user.

    A deactivated user cannot log in, their session ends at its next request and
    their API tokens are refused; their reports and assignments stay. Nobody can
    deactivate themselves (an admin would lock themselves out). An admin's work.
    """
    require_role(user, "admin", action=MANAGE_USERS)
    target = _user(username, uow)
    active = bool(active)
    if not active and target.username == user.username:
        raise InvalidInput(msg("user_cannot_deactivate_self", "you cannot deactivate your own account"),
                           field="username")
    if target.active == active:
        return target  # nothing changes, nothing to record
    uow.users.set_active(target.id, active)
    uow.audit.record(user.username, "user.activate" if active else "user.deactivate", f"user:{username}", {},
                     now)
    uow.commit()
    return uow.users.get(target.id)


def assign_sites(username: str, site_ids: Iterable[int], *, uow: UnitOfWork, user: User,
                 now: datetime) -> list[int]:
    """Assign sites to a grid worker (a manager's work); returns the newly assigned ids."""
    require_role(user, "manager", action=ASSIGN_SITES)
    worker = _user(username, uow)
    if worker.role != "worker":
        raise InvalidInput(msg("assign_not_a_worker", "{username} is a {role}; sites are assigned to workers",
                               username=repr(username), role=role_name(worker.role)),
                           field="username")
    wanted = sorted(set(site_ids))
    found = {s.id for s in uow.sites.find(ids=wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(msg("sites_not_found", "no site with id {ids}", ids=", ".join(map(str, missing))))
    new = uow.assignments.assign(worker.id, wanted, now)
    uow.audit.record(user.username, "sites.assign", f"user:{username}", {"site_ids": new}, now)
    uow.commit()
    return new


def unassign_sites(username: str, site_ids: Iterable[int], *, uow: UnitOfWork, user: User,
                   now: datetime) -> list[int]:
    """Take sites away from a grid worker (a manager's work); returns the ids that were theirs.

    Ids that were not assigned to the worker are ignored; nothing else changes.
    """
    require_role(user, "manager", action=ASSIGN_SITES)
    worker = _user(username, uow)
    wanted = sorted(set(site_ids))
    if not wanted:
        raise InvalidInput(msg("sites_none_chosen", "site_ids: choose at least one site"), field="site_ids")
    removed = uow.assignments.unassign(worker.id, wanted)
    uow.audit.record(user.username, "sites.unassign", f"user:{username}", {"site_ids": removed}, now)
    uow.commit()
    return removed


@dataclass(frozen=True)
class UserSummary:
    user: User
    assigned: int  # number of sites assigned


def list_users(*, uow: UnitOfWork, user: User) -> list[UserSummary]:
    """Every user, by name, with how many sites each has assigned (read only; an admin's page)."""
    require_role(user, "admin", action=MANAGE_USERS)
    counts = uow.assignments.by_user()
    return [UserSummary(user, counts.get(user.id, 0)) for user in uow.users.all()]
