"""Database tables. Alembic (engine/migrations) owns the schema; these classes mirror it.

* ``process_definition`` — immutable deployed versions; the SpiffWorkflow spec is stored here once per
  version, not in every case.
* ``case`` — one running process instance: serialized workflow state (without the spec) + optimistic
  ``version`` so two concurrent writers cannot both win.
* ``human_task`` — the inbox index, rewritten from the engine state on every save; the inbox never
  deserialises workflows.
* ``timer`` — every pending timer of every case with its UTC due time.
* ``event`` — the append-only history of each case (and system events with ``case_id`` NULL).
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates


class UTCDateTime(sa.types.TypeDecorator):
    """Stores naive UTC, always hands back aware UTC datetimes (SQLite keeps no offset)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


class ProcessDefinition(Base):
    __tablename__ = "process_definition"
    __table_args__ = (
        sa.UniqueConstraint("key", "version", name="uq_process_definition_key_version"),
        sa.Index("ix_process_definition_key_hash", "key", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str | None] = mapped_column(sa.String(400))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    #: {filename: text} of every file this version uses (BPMN, DMN, forms). Deferred: ~170 KB that loading a
    #: case must not drag along; the engine caches what it needs per (immutable) version.
    files: Mapped[dict] = mapped_column(sa.JSON, deferred=True)
    #: serialized SpiffWorkflow specs: {"spec": {...}, "subprocess_specs": {...}}; deferred like ``files``
    spec: Mapped[str] = mapped_column(sa.Text, deferred=True)
    #: message name that starts this process when it has only a message start event, else NULL
    start_message: Mapped[str | None] = mapped_column(sa.String(200))
    deployed_by: Mapped[str] = mapped_column(sa.String(200))
    deployed_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(sa.Text)


class Case(Base):
    __tablename__ = "case"
    __table_args__ = (
        sa.Index("ix_case_org_status", "organisation_id", "status"),
        sa.Index("ix_case_process_status", "process_key", "status"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    definition_id: Mapped[int] = mapped_column(sa.ForeignKey("process_definition.id"))
    process_key: Mapped[str] = mapped_column(sa.String(200))
    organisation_id: Mapped[str | None] = mapped_column(sa.String(100))
    business_key: Mapped[str] = mapped_column(sa.String(200), index=True)
    parent_case_id: Mapped[str | None] = mapped_column(sa.ForeignKey("case.id"), index=True)
    #: running | completed
    status: Mapped[str] = mapped_column(sa.String(20))
    #: id of the end event the case finished on (e.g. ended_rejected), NULL while running
    outcome: Mapped[str | None] = mapped_column(sa.String(200))
    state: Mapped[str] = mapped_column(sa.Text)
    started_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)

    definition: Mapped[ProcessDefinition] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}


#: the due sort key of a task with no due date: after every dated one, so "by due date" is one index order
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=timezone.utc)


class HumanTask(Base):
    __tablename__ = "human_task"
    __table_args__ = (
        # the inbox: each index matches one filter (status, role; an applicant's organisation) and one sort, so
        # the first page is read in index order and stops after per_page rows (migration 0008_inbox_scale)
        sa.Index("ix_human_task_inbox_due", "status", "role", "due_sort", "created_at", "id"),
        sa.Index("ix_human_task_inbox_created", "status", "role", "created_at", "id"),
        sa.Index("ix_human_task_inbox_org_due", "status", "organisation_id", "role", "due_sort", "created_at", "id"),
        sa.Index("ix_human_task_inbox_priority", "status", "role", sa.text("priority DESC"), "due_sort", "id"),
        sa.Index("ix_human_task_case_status", "case_id", "status"),
        sa.Index("ix_human_task_assignee", "assignee"),
    )

    #: the SpiffWorkflow task id
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"))
    organisation_id: Mapped[str | None] = mapped_column(sa.String(100))
    process_key: Mapped[str] = mapped_column(sa.String(200))
    element_id: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str | None] = mapped_column(sa.String(400))
    role: Mapped[str | None] = mapped_column(sa.String(50))
    assignee: Mapped[str | None] = mapped_column(sa.String(200))
    claimed_by: Mapped[str | None] = mapped_column(sa.String(200))
    form: Mapped[str | None] = mapped_column(sa.String(400))
    ui_form: Mapped[str | None] = mapped_column(sa.String(400))
    signature_meaning: Mapped[str | None] = mapped_column(sa.String(50))
    due_at: Mapped[datetime | None]
    #: ``due_at``, or :data:`NO_DUE_DATE` when there is none — kept in step by :meth:`_due` (never set directly)
    due_sort: Mapped[datetime] = mapped_column(default=NO_DUE_DATE)
    priority: Mapped[int] = mapped_column(default=0)
    #: ready | completed | cancelled
    status: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(sa.String(200))

    @validates("due_at")
    def _due(self, _key, value):
        self.due_sort = value if value is not None else NO_DUE_DATE
        return value


class Timer(Base):
    __tablename__ = "timer"
    __table_args__ = (sa.Index("ix_timer_due", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"), index=True)
    #: the SpiffWorkflow task id of the waiting timer event
    task_id: Mapped[str] = mapped_column(sa.String(36))
    element_id: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str | None] = mapped_column(sa.String(400))
    #: TimeDateEventDefinition | DurationTimerEventDefinition | CycleTimerEventDefinition
    kind: Mapped[str] = mapped_column(sa.String(60))
    due_at: Mapped[datetime]
    #: the human task this boundary timer is attached to, if any
    attached_to: Mapped[str | None] = mapped_column(sa.String(36))
    interrupting: Mapped[bool] = mapped_column(default=False)


class MessageSubscription(Base):
    """A case waiting for a named message (intermediate/boundary catch). Rewritten on every save, so
    routing a message never has to deserialise cases that are not waiting for it."""

    __tablename__ = "message_subscription"
    __table_args__ = (sa.Index("ix_message_subscription_name_org", "name", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"), index=True)
    organisation_id: Mapped[str | None] = mapped_column(sa.String(100))
    task_id: Mapped[str] = mapped_column(sa.String(36))
    element_id: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(200))


class Event(Base):
    """Append-only history. Rows are only ever inserted (database triggers refuse UPDATE and DELETE), and
    each row carries the hash of its predecessor in its chain (see :mod:`engine.records.chain`)."""

    __tablename__ = "event"
    __table_args__ = (sa.UniqueConstraint("case_id", "seq", name="uq_event_case_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str | None] = mapped_column(sa.ForeignKey("case.id"), index=True)
    seq: Mapped[int]
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(200))
    actor_name: Mapped[str | None] = mapped_column(sa.String(400))
    role: Mapped[str | None] = mapped_column(sa.String(50))
    action: Mapped[str] = mapped_column(sa.String(60))
    element_id: Mapped[str | None] = mapped_column(sa.String(200))
    element_name: Mapped[str | None] = mapped_column(sa.String(400))
    element_type: Mapped[str | None] = mapped_column(sa.String(60))
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    data: Mapped[dict | None] = mapped_column(sa.JSON)
    #: SHA-256 (hex) of the previous event of the same chain (the case; or the system chain), NULL for the first
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    #: SHA-256 (hex) of this event's canonical content including prev_hash (engine.records.chain.event_hash)
    hash: Mapped[str | None] = mapped_column(sa.String(64))


# -- identity ------------------------------------------------------------------------------------------

class Organisation(Base):
    """A laboratory (or other member institution). Applicant-side data is scoped to one."""

    __tablename__ = "organisation"

    id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(400))
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(400))
    email: Mapped[str | None] = mapped_column(sa.String(400))
    #: argon2id hash
    password_hash: Mapped[str] = mapped_column(sa.String(400))
    organisation_id: Mapped[str | None] = mapped_column(sa.ForeignKey("organisation.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    roles: Mapped[list["UserRole"]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(50), primary_key=True)


class ApiToken(Base):
    """Bearer tokens for API clients. Only the SHA-256 of the token is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(default=False)
    #: tokens end (ACCREDIT_TOKEN_DAYS, default 90); NULL only for rows a migration could not date
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(sa.String(200))


class BrowserSession(Base):
    """A signed-in browser: an opaque server-side record. The cookie holds only a random secret whose SHA-256
    is stored here; it is not an API token and cannot be used as one. Idle and absolute expiry are checked on
    the server at every request; ``last_seen_at`` is refreshed at most every few seconds-to-a-minute."""

    __tablename__ = "browser_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(sa.String(100))


class AuthAttempt(Base):
    """A password check (sign-in or signature), inserted BEFORE the password is verified so that parallel
    guesses are counted: ``succeeded`` is NULL while the check runs, then True/False. Throttling counts
    the rows that are not successes."""

    __tablename__ = "auth_attempt"
    __table_args__ = (sa.Index("ix_auth_attempt_kind_user_at", "kind", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    username: Mapped[str] = mapped_column(sa.String(200))
    source: Mapped[str | None] = mapped_column(sa.String(100))
    at: Mapped[datetime]
    succeeded: Mapped[bool | None]


class Setting(Base):
    """Installation-wide settings kept in the database (e.g. ``demo_mode`` set by ``accredit demo``)."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    value: Mapped[dict | list | str | bool | None] = mapped_column(sa.JSON)


# -- collaboration on cases ----------------------------------------------------------------------------

class Comment(Base):
    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    author: Mapped[str] = mapped_column(sa.String(200))
    author_name: Mapped[str | None] = mapped_column(sa.String(400))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    #: staff-only note: never shown to the laboratory or to inspectors
    internal: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class Attachment(Base):
    """A file uploaded to a case. Content lives in content-addressed storage under its SHA-256."""

    __tablename__ = "attachment"
    __table_args__ = (sa.UniqueConstraint("case_id", "sha256", name="uq_attachment_case_sha"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"), index=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    filename: Mapped[str] = mapped_column(sa.String(400))
    content_type: Mapped[str] = mapped_column(sa.String(200))
    size: Mapped[int]
    uploaded_by: Mapped[str] = mapped_column(sa.String(200))
    uploaded_at: Mapped[datetime]


# -- notifications (outbox) ----------------------------------------------------------------------------

class Notification(Base):
    """An outbox row: a reminder or escalation for a person or a role. A mailer may send and mark them;
    the web inbox shows them. Written in the same transaction as the timer firing that caused it."""

    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_recipient", "recipient", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    organisation_id: Mapped[str | None] = mapped_column(sa.String(100))
    #: a username, or "role:<role>" when nobody holds the task yet
    recipient: Mapped[str] = mapped_column(sa.String(200))
    #: reminder | deadline
    kind: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(400))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class AuditCheckpoint(Base):
    """The signed head of one audit chain (a case's, or ``"system"``): an HMAC-SHA256, with a key kept outside
    the database, over the chain, seq and hash of its last event (:mod:`engine.records.checkpoints`). Someone who
    rewrites a tail and recomputes every hash cannot sign the new head."""

    __tablename__ = "audit_checkpoint"

    chain: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(sa.String(64))
    signed_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(sa.String(16))
    mac: Mapped[str] = mapped_column(sa.String(64))


class CaseMember(Base):
    """Who is on a case's team (:mod:`engine.cases.caseteam`): the explicit record inspector access comes from.

    A row per membership period: ``until`` NULL while active. Written by the engine, inside the operation's
    transaction, from what the diagram declares (``caseTeam`` / ``revokesMembershipIf`` task properties);
    never deleted, so who could read a case when stays answerable (the history has the same as events)."""

    __tablename__ = "case_member"
    __table_args__ = (
        sa.Index("ix_case_member_user_active", "username", "until"),
        sa.Index("ix_case_member_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"))
    username: Mapped[str] = mapped_column(sa.String(200))
    #: the diagram variable that named the member (e.g. team_leader, inspectors)
    role: Mapped[str | None] = mapped_column(sa.String(200))
    since: Mapped[datetime]
    until: Mapped[datetime | None]
    #: why the membership began / ended (the declaring element, a conflict of interest, a team change)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    ended_reason: Mapped[str | None] = mapped_column(sa.Text)
    added_by: Mapped[str | None] = mapped_column(sa.String(200))
    removed_by: Mapped[str | None] = mapped_column(sa.String(200))
