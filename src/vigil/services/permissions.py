"""What each role may do: the one mapping from roles to permissions that the API (and the console, through
``/auth/me``) checks.

Roles are not a ladder. ``viewer``, ``operator`` and ``admin`` each hold every permission of the one before
(so ``require(Role.OPERATOR)`` still reads "operator or higher"), but ``auditor`` stands aside: it reads the
audit log and the accountability reports and the lists' and cameras' metadata needed to read them, and
nothing else: no alert, event, face, snapshot or footage, no search, no change. ``require(role)`` means
"holds every permission of ``role``", so an auditor passes none of the three old checks.

A new role, or a permission for a new route, is a change to ``ROLE_PERMISSIONS`` only.

Example:
    >>> role_may(Role.AUDITOR, Permission.AUDIT_READ), role_may(Role.AUDITOR, Permission.SIGHTINGS_READ)
    (True, False)
    >>> role_covers(Role.ADMIN, Role.OPERATOR), role_covers(Role.AUDITOR, Role.VIEWER)
    (True, False)
"""

from __future__ import annotations

from enum import StrEnum

from vigil.store.tables import Role


class Permission(StrEnum):
    METADATA_READ = "metadata.read"  # lists (names, rules) and cameras (names, state): no faces
    SIGHTINGS_READ = "sightings.read"  # alerts, events, people and their photos, snapshots, footage jobs
    ALERTS_REVIEW = "alerts.review"
    CAMERAS_MANAGE = "cameras.manage"
    PEOPLE_ENROL = "people.enrol"  # enrol, put on and take off lists, remove, negatives
    ARCHIVE_SEARCH = "archive.search"  # search by photo, recognise a photo
    FOOTAGE_UPLOAD = "footage.upload"
    LISTS_MANAGE = "lists.manage"
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"
    REPORTS_READ = "reports.read"


_VIEWER = frozenset({Permission.METADATA_READ, Permission.SIGHTINGS_READ})
_OPERATOR = _VIEWER | {
    Permission.ALERTS_REVIEW, Permission.CAMERAS_MANAGE, Permission.PEOPLE_ENROL, Permission.ARCHIVE_SEARCH,
    Permission.FOOTAGE_UPLOAD,
}  # fmt: skip

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.OPERATOR: _OPERATOR,
    Role.ADMIN: frozenset(Permission),
    Role.AUDITOR: frozenset({Permission.METADATA_READ, Permission.AUDIT_READ, Permission.REPORTS_READ}),
}
"""Every role's permissions. Admins hold all of them."""


def permissions_of(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role]


def role_may(role: Role, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``."""
    return permission in ROLE_PERMISSIONS[role]


def role_covers(role: Role, other: Role) -> bool:
    """Whether ``role`` holds every permission of ``other`` (what ``require(other)`` lets through)."""
    return ROLE_PERMISSIONS[other] <= ROLE_PERMISSIONS[role]
