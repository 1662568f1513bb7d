"""What staff do around the workflow: find cases, work the inbox (claim, unclaim, assign), comment, and
attach documents. Every read applies the visibility rules of :mod:`engine.users.access`; every write is one
transaction and leaves an event in the case history."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from . import diagram
from engine.records import history
from engine.users import redaction
from engine.definitions import starting
from engine.users.access import (
    actionable_tasks,
    case_visible,
    inspector_on_case,
    read_only,
    sees_all_cases,
    visible_cases,
)
from engine.actors import Actor
from .attachments import DEFAULT_CASE_QUOTA, DEFAULT_MAX_UPLOAD, AttachmentView, FileStore, checked_upload
from engine.storage.db import Database
from engine.errors import Conflict, Forbidden, InvalidFormData, NotFound, TooLarge
from engine.users.identity import Identity
from .inbox import Page, inbox_page
from engine.storage.models import Attachment, Case, Comment, HumanTask, utcnow
from .services import CaseView, Engine, TaskView
from engine.records.signatures import verify_signer
from engine.vocabulary import APPLICANT, COORDINATOR, INSPECTOR

MAX_COMMENT = 10_000


class _CaseRef:
    """Enough of a loaded case for history.record (no workflow needed)."""

    def __init__(self, row: Case):
        self.row, self.next_seq = row, None


class Workspace:
    def __init__(self, db: Database, engine: Engine, identity: Identity, attachments_dir: str | Path,
                 max_upload: int = DEFAULT_MAX_UPLOAD, case_quota: int = DEFAULT_CASE_QUOTA):
        self.db, self.engine, self.identity = db, engine, identity
        self.files = FileStore(attachments_dir)
        self.max_upload = max_upload
        self.case_quota = case_quota

    # -- cases ---------------------------------------------------------------------------------------
    def list_cases(self, actor: Actor, *, process: str | None = None, status: str | None = None,
                   organisation_id: str | None = None, q: str | None = None, page: int = 1,
                   per_page: int = 20) -> Page:
        stmt = sa.select(Case).where(visible_cases(actor))
        if process:
            stmt = stmt.where(Case.process_key == process)
        if status:
            stmt = stmt.where(Case.status == status)
        if organisation_id:
            stmt = stmt.where(Case.organisation_id == organisation_id)
        if q:
            stmt = stmt.where(Case.business_key.ilike(f"%{q}%"))
        with self.db.read() as s:
            total = s.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
            rows = s.scalars(stmt.order_by(Case.created_at.desc(), Case.id)
                             .offset((page - 1) * per_page).limit(per_page)).all()
            items = [CaseView(r.id, r.process_key, r.definition.version, r.organisation_id, r.business_key,
                              r.status, r.outcome, r.parent_case_id, r.created_at, r.ended_at) for r in rows]
        return Page(items, total, page, per_page)

    def case_for(self, actor: Actor, case_id: str) -> CaseView:
        """The case as ``actor`` may see it (tasks filtered to those they may act on, variables to what the
        diagram shares with them); 404 otherwise. One read, one deserialization."""
        with self.db.read() as s:
            row = self._visible_case(actor, case_id, s)
            return self.engine.case_view(s, row, self.engine.specs.restore(row), actor)

    def case_diagram(self, actor: Actor, case_id: str, process: str | None = None) -> dict:
        """The case's diagram — or, with ``process``, the diagram of a process its call activities run (by
        ``calledElement``, at any depth) — from the definition version the case runs on, with what is done
        and what waits now in that process, and the call activities one can open from it. Same visibility
        as the case (404 otherwise); element states carry no variables. One read."""
        with self.db.read() as s:
            row = self._visible_case(actor, case_id, s)
            return diagram.case_diagram(self.engine, s, row, self.engine.specs.restore(row), process)

    def start_case(self, actor: Actor, process_key: str, organisation_id: str | None = None,
                   data: dict | None = None, business_key: str | None = None) -> CaseView:
        """Start a case (for the caller's organisation unless another is named) and return it as the caller
        sees it."""
        org = organisation_id or actor.organisation_id
        return self.engine.start_case(process_key, actor, org, data, business_key, viewer=actor, declared=True)

    def complete(self, actor: Actor, task_id: str, data: dict | None,
                 signature: dict | None = None) -> CaseView:
        """Complete a task and return its case as the caller now sees it.

        A signature step (``signature_meaning``) takes ``signature={"password": …[, "meaning": …]}``: the
        password is re-verified here, before and outside the write transaction (argon2 is slow on purpose;
        it must not hold the database's write lock), and only for someone who may act on the task — others
        get the engine's 404/403/409 without being asked for a password. The engine re-checks everything
        inside its transaction."""
        signed = None
        if signature is not None:
            with self.db.read() as s:
                row = s.get(HumanTask, task_id)
                if row is None:
                    raise NotFound(f"task {task_id} does not exist", task_id=task_id)
                self._task_case(actor, row, s)
                may_act = row.status == "ready" and bool(s.scalar(sa.select(sa.func.count(HumanTask.id)).where(
                    HumanTask.id == task_id, actionable_tasks(actor))))
                meaning, case_id, element_id, label = row.signature_meaning, row.case_id, row.element_id, \
                    row.name or row.element_id
            if not meaning:
                raise InvalidFormData(f"task '{label}' is not a signature step",
                                      [{"field": "/signature", "message": "this task takes no signature"}])
            if may_act:
                signed = verify_signer(self.identity, actor, signature.get("password"), case_id=case_id,
                                       task_id=task_id, element_id=element_id, meaning=meaning)
                signed["meaning"] = signature.get("meaning") or meaning
        return self.engine.complete_task(task_id, actor, data or {}, signature=signed, viewer=actor)

    def task_detail(self, actor: Actor, task_id: str) -> dict:
        """A task with its form (schema, UI schema; current values only for someone who may act on it, or
        staff) — one read."""
        with self.db.read() as s:
            row = s.get(HumanTask, task_id)
            if row is None:
                raise NotFound(f"task {task_id} does not exist", task_id=task_id)
            case = self._task_case(actor, row, s)
            may_see_values = sees_all_cases(actor) or bool(s.scalar(sa.select(sa.func.count(HumanTask.id)).where(
                HumanTask.id == task_id, actionable_tasks(actor))))
            detail = dict(vars(TaskView.of(row)), overdue=TaskView.of(row).overdue, business_key=case.business_key)
            spec, subs = self.engine.specs.of(case.definition)  # the name its diagram gives the process
            detail["process_name"] = getattr({spec.name: spec, **subs}.get(row.process_key), "description", None)
            detail["form"] = self.engine.task_form(task_id, s, with_data=may_see_values)
            return detail

    # -- messages, schedule, notifications, for-cause audits ------------------------------------------
    def send_message(self, actor: Actor, name: str, payload: dict | None, *, organisation_id: str | None = None,
                     case_id: str | None = None) -> dict:
        """Deliver message ``name`` from a person: applicants only for their own organisation (and only to a
        case they can see), coordinators to any organisation or case (naming one). Others: 403. Only a message
        the diagrams let one of the sender's roles send (``sentBy`` on its catch event): else 403."""
        org = organisation_id
        if COORDINATOR in actor.roles:
            if not org and not case_id:
                raise InvalidFormData("say which case should receive the message",
                                      [{"field": "/organisation_id", "message": "give organisation_id or case_id"}])
        else:
            if APPLICANT not in actor.roles:
                raise Forbidden("only applicants and coordinators send messages to cases")
            if org not in (None, actor.organisation_id):
                raise Forbidden("applicants send messages only for their own organisation")
            org = actor.organisation_id
            if case_id:
                self._visible_case(actor, case_id)  # 404 unless it is the applicant's own case
        with self.db.read() as s:
            starting.check_message_sender(self.engine, s, actor, name)  # sentBy, as the diagrams declare it
            starting.check_declared_message(self.engine, s, name, payload or {})
        ids = self.engine.deliver_message(name, payload or {}, actor, organisation_id=org, case_id=case_id)
        return {"message": name, "case_ids": ids}

    def schedule(self, actor: Actor, *, organisation_id: str | None = None, kind: str | None = None,
                 since=None, until=None, limit: int = 500) -> list[dict]:
        """Upcoming timers of the running cases the caller may see (staff: all; an applicant: its own
        organisation's; an inspector: the cases assigned to them)."""
        case_ids = None
        if not sees_all_cases(actor):
            if APPLICANT in actor.roles and organisation_id not in (None, actor.organisation_id):
                raise Forbidden("applicants see only their own organisation's schedule")
            case_ids = sa.select(Case.id).where(Case.status == "running", visible_cases(actor))
        return self.engine.schedule(organisation_id=organisation_id, kind=kind, since=since, until=until,
                                    case_ids=case_ids, limit=limit)

    def notifications(self, actor: Actor, limit: int = 200) -> list:
        """Reminders and deadline notices for the caller (as a person, or for a role they hold), only of cases
        they may see (:func:`engine.users.redaction.notifications_for`)."""
        return redaction.notifications_for(self.db, actor, limit)

    def for_cause_audit(self, actor: Actor, organisation_id: str, reason: str,
                        accreditation_case_id: str | None = None) -> CaseView:
        """A for-cause surveillance audit of a laboratory, started now, linked to its running accreditation
        (or the one named) exactly as one its accreditation starts after a change notification: parent case,
        certificate number, scope and organisation name (:mod:`engine.cases.linking`). 422 "<name> has no
        accreditation to audit" otherwise. Who may start it: the diagram's start lane."""
        return self.engine.start_linked_case("surveillance_audit", actor, organisation_id,
                                             {"audit_type": "for_cause", "reason": reason},
                                             parent_case_id=accreditation_case_id, viewer=actor)

    def _visible_case(self, actor: Actor, case_id: str, s=None) -> Case:
        def check(session):
            row = session.get(Case, case_id)
            if row is None or not case_visible(session, actor, row):
                raise NotFound(f"case {case_id} does not exist", case_id=case_id)
            return row
        if s is not None:
            return check(s)
        with self.db.read() as session:
            return check(session)

    # -- inbox ---------------------------------------------------------------------------------------
    def inbox(self, actor: Actor, **filters) -> Page:
        """One page of the tasks ``actor`` may act on (filters and sorts: :func:`engine.cases.inbox.inbox_page`)."""
        return inbox_page(self.db, actor, **filters)

    def task_for(self, actor: Actor, task_id: str) -> TaskView:
        with self.db.read() as s:
            row = s.get(HumanTask, task_id)
            if row is None:
                raise NotFound(f"task {task_id} does not exist", task_id=task_id)
            self._task_case(actor, row, s)
            return TaskView.of(row)

    def task_form_for(self, actor: Actor, task_id: str) -> dict:
        """The task's form; its current values only for someone who may act on the task (or staff)."""
        form = self.engine.task_form(task_id)
        if not sees_all_cases(actor):
            with self.db.read() as s:
                row = s.get(HumanTask, task_id)
                may_act = bool(s.scalar(sa.select(sa.func.count(HumanTask.id)).where(
                    HumanTask.id == task_id, actionable_tasks(actor)))) if row is not None else False
            if not may_act:
                form["data"] = {}
        return form

    def claim(self, task_id: str, actor: Actor) -> TaskView:
        with self.db.write() as s:
            task, case = self._task_to_act_on(s, task_id, actor)
            if task.claimed_by == actor.username:
                return TaskView.of(task)
            if task.claimed_by:
                raise Conflict(f"task is claimed by {task.claimed_by}", claimed_by=task.claimed_by)
            task.claimed_by = actor.username
            history.record(s, _CaseRef(case), actor, "task.claimed", role=task.role,
                           data={"task_id": task.id, "element_id": task.element_id})
            return TaskView.of(task)

    def unclaim(self, task_id: str, actor: Actor) -> TaskView:
        with self.db.write() as s:
            task, case = self._locked_task(s, task_id, actor)
            if task.claimed_by is None:
                return TaskView.of(task)
            if task.claimed_by != actor.username and COORDINATOR not in actor.roles:
                raise Forbidden(f"task is claimed by {task.claimed_by}; only they or a coordinator may release it")
            history.record(s, _CaseRef(case), actor, "task.unclaimed",
                           data={"task_id": task.id, "element_id": task.element_id, "was": task.claimed_by})
            task.claimed_by = None
            return TaskView.of(task)

    def assign(self, task_id: str, actor: Actor, username: str) -> TaskView:
        """A coordinator gives a task to a named user who holds its role."""
        if COORDINATOR not in actor.roles:
            raise Forbidden("only a coordinator may assign tasks")
        target = self.identity.actor(username)
        with self.db.write() as s:
            task, case = self._locked_task(s, task_id, actor)
            if target is None:
                raise InvalidFormData("no such active user", [{"field": "/username", "message": "unknown user"}])
            if task.role not in target.roles:
                raise InvalidFormData(f"{username} does not hold the role '{task.role}'",
                                      [{"field": "/username", "message": f"lacks role {task.role}"}])
            if task.role == APPLICANT and target.organisation_id != case.organisation_id:
                raise InvalidFormData(f"{username} belongs to another organisation",
                                      [{"field": "/username", "message": "other organisation"}])
            if task.assignee and task.assignee != username:
                raise Conflict(f"the diagram assigns this task to {task.assignee}", assignee=task.assignee)
            if task.role == INSPECTOR and not inspector_on_case(s, target, case.id):
                raise InvalidFormData(f"{username} is not on the case's team",
                                      [{"field": "/username", "message": "not on the case's team"}])
            old = task.claimed_by
            task.claimed_by = username
            history.record(s, _CaseRef(case), actor, "task.assigned", role=COORDINATOR,
                           data={"task_id": task.id, "element_id": task.element_id, "old": old, "new": username})
            return TaskView.of(task)

    def _task_case(self, actor: Actor, task: HumanTask, s) -> Case:
        """The case of a task the caller may see; otherwise 'task not found' — never the case id."""
        try:
            return self._visible_case(actor, task.case_id, s)
        except NotFound:
            raise NotFound(f"task {task.id} does not exist", task_id=task.id) from None

    def _locked_task(self, s, task_id: str, actor: Actor):
        stmt = sa.select(HumanTask).where(HumanTask.id == task_id)
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        task = s.scalar(stmt)
        if task is None:
            raise NotFound(f"task {task_id} does not exist", task_id=task_id)
        case = self._task_case(actor, task, s)
        if task.status != "ready":
            raise Conflict(f"task is already {task.status}", status=task.status)
        return task, case

    def _task_to_act_on(self, s, task_id: str, actor: Actor):
        task, case = self._locked_task(s, task_id, actor)
        allowed = s.scalar(sa.select(sa.func.count(HumanTask.id)).where(HumanTask.id == task.id,
                                                                        actionable_tasks(actor)))
        if not allowed:
            raise Forbidden(f"you may not act on task '{task.name or task.element_id}' (role {task.role})")
        return task, case

    # -- comments ------------------------------------------------------------------------------------
    def add_comment(self, case_id: str, actor: Actor, body: str, task_id: str | None = None,
                    internal: bool = False) -> dict:
        """A comment on a case (or one of its tasks). ``internal``: a staff-only note, which only staff may
        write and read (the laboratory and inspectors never see it, not even in the history)."""
        if internal and not sees_all_cases(actor):
            raise Forbidden("only accreditation staff write internal notes")
        body = (body or "").strip()
        if not body or len(body) > MAX_COMMENT:
            raise InvalidFormData("a comment needs text", [{"field": "/body",
                                                            "message": f"1 to {MAX_COMMENT} characters"}])
        with self.db.write() as s:
            case = self._visible_case(actor, case_id, s)
            if read_only(actor):
                raise Forbidden("auditors read cases; they do not comment on them")
            if task_id is not None:
                task = s.get(HumanTask, task_id)
                if task is None or task.case_id != case_id:
                    raise InvalidFormData("no such task in this case", [{"field": "/task_id", "message": "unknown"}])
            c = Comment(case_id=case_id, task_id=task_id, author=actor.username, author_name=actor.printed_name,
                        body=body, created_at=utcnow(), internal=internal)
            s.add(c)
            s.flush()
            history.record(s, _CaseRef(case), actor, "comment.added",
                           data={"comment_id": c.id, "task_id": task_id, "body": body, "internal": internal})
            return _comment(c)

    def comments(self, case_id: str, actor: Actor, task_id: str | None = None) -> list[dict]:
        with self.db.read() as s:
            self._visible_case(actor, case_id, s)
            stmt = sa.select(Comment).where(Comment.case_id == case_id)
            if not sees_all_cases(actor):
                stmt = stmt.where(Comment.internal.is_(False))
            if task_id:
                stmt = stmt.where(Comment.task_id == task_id)
            return [_comment(c) for c in s.scalars(stmt.order_by(Comment.created_at, Comment.id))]

    # -- attachments ---------------------------------------------------------------------------------
    def upload(self, case_id: str, actor: Actor, filename: str, content_type: str, data: bytes) -> AttachmentView:
        filename, content_type, digest = checked_upload(filename, content_type, data, self.max_upload)
        with self.db.write() as s:
            case = self._visible_case(actor, case_id, s)
            if read_only(actor):
                raise Forbidden("auditors read cases; they do not attach files to them")
            if case.status != "running":
                raise Conflict("the case has ended; no more files can be attached")
            if APPLICANT in actor.roles and not sees_all_cases(actor) and case.organisation_id != actor.organisation_id:
                raise Forbidden("applicants attach files only to their own organisation's cases")
            used = s.scalar(sa.select(sa.func.coalesce(sa.func.sum(Attachment.size), 0))
                            .where(Attachment.case_id == case_id, Attachment.sha256 != digest))
            if used + len(data) > self.case_quota:
                raise TooLarge(f"the case's files would exceed its quota of {self.case_quota} bytes "
                               f"({used} bytes are attached already)", limit=self.case_quota,
                               errors=[{"field": "/file", "message": "case quota exceeded"}])
            self.files.store(digest, data)
            row = s.scalar(sa.select(Attachment).where(Attachment.case_id == case_id, Attachment.sha256 == digest))
            if row is None:
                row = Attachment(case_id=case_id, sha256=digest, filename=filename, content_type=content_type,
                                 size=len(data), uploaded_by=actor.username, uploaded_at=utcnow())
                s.add(row)
                history.record(s, _CaseRef(case), actor, "attachment.uploaded",
                               data={"sha256": digest, "filename": filename, "content_type": content_type,
                                     "size": len(data)})
            return AttachmentView.of(row)

    def attachment(self, case_id: str, sha256: str, actor: Actor) -> tuple[AttachmentView, Path]:
        with self.db.read() as s:
            self._visible_case(actor, case_id, s)
            row = s.scalar(sa.select(Attachment).where(Attachment.case_id == case_id, Attachment.sha256 == sha256))
            if row is None:
                raise NotFound("no such attachment on this case", sha256=sha256)
            return AttachmentView.of(row), self.files.path(sha256)

    def attachments(self, case_id: str, actor: Actor) -> list[AttachmentView]:
        with self.db.read() as s:
            self._visible_case(actor, case_id, s)
            return [AttachmentView.of(r) for r in s.scalars(sa.select(Attachment).where(Attachment.case_id == case_id)
                                                      .order_by(Attachment.uploaded_at))]

def _comment(c: Comment) -> dict:
    return {"id": c.id, "case_id": c.case_id, "task_id": c.task_id, "author": c.author,
            "author_name": c.author_name, "body": c.body, "created_at": c.created_at, "internal": bool(c.internal)}
