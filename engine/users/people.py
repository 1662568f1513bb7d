"""Who holds a role: the choices a staff member is offered when a form asks for a person (a team leader, the
inspectors, an appeals panel — fields with ``"format": "user:<role>"``). Staff only: a laboratory never learns
the accrediting body's user list."""
from __future__ import annotations

import sqlalchemy as sa

from .access import sees_all_cases
from engine.actors import Actor
from engine.errors import Forbidden, InvalidFormData
from engine.storage.models import User, UserRole
from engine.vocabulary import ROLES


def users_with_role(db, actor: Actor, role: str) -> list[dict]:
    """Active users holding ``role``: ``[{"username", "display_name"}]``, by display name."""
    if not sees_all_cases(actor):
        raise Forbidden("only staff look up who holds a role")
    if role not in ROLES:
        raise InvalidFormData(f"unknown role '{role}'",
                              [{"field": "/role", "message": f"one of {', '.join(ROLES)}"}])
    with db.read() as s:
        rows = s.execute(sa.select(User.username, User.display_name).join(UserRole)
                         .where(UserRole.role == role, User.active.is_(True))
                         .order_by(User.display_name, User.username)).all()
    return [{"username": u, "display_name": n or u} for u, n in rows]



