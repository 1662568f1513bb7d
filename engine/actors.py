"""Who is acting. The engine trusts the caller (the API layer) to have authenticated the actor; it checks
what the actor may do against the diagram (lanes = roles, assignee, organisation, separation of duties)."""
from __future__ import annotations

from dataclasses import dataclass, field

# The roles themselves are declared in engine/vocabulary.py (ROLES, LANE_ROLES, STAFF_ROLES).


@dataclass(frozen=True)
class Actor:
    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    organisation_id: str | None = None
    display_name: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "roles", frozenset(self.roles))

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def printed_name(self) -> str:
        return self.display_name or self.username


#: The engine itself (timers, message routing) when no person acts.
SYSTEM = Actor("system", frozenset(), None, "System")
