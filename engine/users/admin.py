"""Administration (issue 10 item 3): users, organisations and API tokens, with the authorisation checks.

Every call takes the acting :class:`Actor`: user and organisation administration needs the ``admin`` role;
a user may list and revoke their own tokens. Every change is one transaction recorded in the system history
(by :class:`engine.users.identity.Identity`). The HTTP layer, the CLI and the admin page all go through here.
"""
from __future__ import annotations

from dataclasses import asdict

from engine.actors import Actor
from engine.errors import Conflict, Forbidden
from .identity import Identity
from engine.vocabulary import ADMIN


def _require_admin(actor: Actor) -> None:
    if not actor.has_role(ADMIN):
        raise Forbidden("administration needs the admin role")


class Administration:
    def __init__(self, identity: Identity):
        self.identity = identity

    # -- users -------------------------------------------------------------------------------------
    def users(self, actor: Actor, active: bool | None = None) -> list[dict]:
        _require_admin(actor)
        return [asdict(u) for u in self.identity.users() if active is None or u.active == active]

    def user(self, actor: Actor, username: str) -> dict:
        _require_admin(actor)
        return asdict(self.identity.get_user(username))

    def create_user(self, actor: Actor, data: dict) -> dict:
        _require_admin(actor)
        view = self.identity.create_user(data["username"], data["password"], data["roles"],
                                         display_name=data.get("display_name"),
                                         organisation_id=data.get("organisation_id"), email=data.get("email"),
                                         by=actor.username)
        return asdict(view)

    def update_user(self, actor: Actor, username: str, changes: dict) -> dict:
        _require_admin(actor)
        if username == actor.username and (changes.get("active") is False
                                           or ("roles" in changes and ADMIN not in changes["roles"])):
            raise Conflict("administrators cannot deactivate themselves or drop their own admin role "
                           "(another administrator can)", username=username)
        return asdict(self.identity.update_user(username, changes, by=actor.username))

    # -- organisations -----------------------------------------------------------------------------
    def organisations(self, actor: Actor) -> list[dict]:
        _require_admin(actor)
        return self.identity.organisations()

    def create_organisation(self, actor: Actor, data: dict) -> dict:
        _require_admin(actor)
        self.identity.create_organisation(data["id"], data["name"], by=actor.username)
        return {"id": data["id"], "name": data["name"]}

    # -- API tokens --------------------------------------------------------------------------------
    def tokens(self, actor: Actor, username: str) -> list[dict]:
        """``username``'s tokens: their own, or anyone's for an administrator."""
        self._owner_or_admin(actor, username)
        return self.identity.tokens(username)

    def revoke_token(self, actor: Actor, username: str, token_id: int) -> dict:
        self._owner_or_admin(actor, username)
        return self.identity.revoke_token_id(username, token_id, by=actor.username)

    @staticmethod
    def _owner_or_admin(actor: Actor, username: str) -> None:
        if actor.username != username and not actor.has_role(ADMIN):
            raise Forbidden("only the token's owner or an administrator may see or revoke it")
