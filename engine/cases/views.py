"""What the engine hands back to its callers: plain data, no SpiffWorkflow objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


from engine.storage.models import HumanTask, utcnow


@dataclass
class TaskView:
    id: str
    case_id: str
    process_key: str
    element_id: str
    name: str | None
    role: str | None
    assignee: str | None
    claimed_by: str | None
    form: str | None
    signature_meaning: str | None
    due_at: datetime | None
    priority: int
    status: str
    organisation_id: str | None
    created_at: datetime
    completed_at: datetime | None = None
    completed_by: str | None = None
    business_key: str | None = None  # the case's, filled in by list queries that join it

    @property
    def overdue(self) -> bool:
        return self.status == "ready" and self.due_at is not None and self.due_at < utcnow()

    @classmethod
    def of(cls, row: HumanTask) -> "TaskView":
        return cls(row.id, row.case_id, row.process_key, row.element_id, row.name, row.role, row.assignee,
                   row.claimed_by, row.form, row.signature_meaning, row.due_at, row.priority, row.status,
                   row.organisation_id, row.created_at, row.completed_at, row.completed_by)


@dataclass
class CaseView:
    id: str
    process_key: str
    definition_version: int
    organisation_id: str | None
    business_key: str
    status: str
    outcome: str | None
    parent_case_id: str | None
    created_at: datetime
    ended_at: datetime | None
    tasks: list[TaskView] = field(default_factory=list)
    data: dict = field(default_factory=dict)


@dataclass
class DeployResult:
    report: dict
    deployed: list[dict]  # {key, version, created}
