"""The workspace around the workflow on a real database and real files: case visibility per role and
organisation, the inbox (scopes, filters, sorting, paging, overdue), claim / unclaim / assign, comments and
content-addressed attachments."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.errors import Conflict, Forbidden, InvalidFormData, NotFound, TooLarge
from engine.users.identity import Identity
from engine.storage.models import Attachment, Comment
from engine.cases.workspace import MAX_COMMENT, Workspace

from .bpmn_builder import flow, process, two_step, user_task
from .test_messages_timers import timer_bundle

PASSWORD = "a-long-enough-password"
T0 = datetime(2027, 5, 3, 9, 0, tzinfo=timezone.utc)

PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")

USERS = [
    # username, roles, organisation
    ("alice", ["applicant"], "lab-a"),
    ("anna", ["applicant"], "lab-a"),
    ("bob", ["applicant"], "lab-b"),
    ("carol", ["coordinator"], None),
    ("cora", ["coordinator"], None),
    ("ivan", ["inspector"], None),
    ("iris", ["inspector"], None),
    ("cody", ["committee"], None),
]


@pytest.fixture
def ident(db):
    identity = Identity(db)
    identity.create_organisation("lab-a", "Lab A")
    identity.create_organisation("lab-b", "Lab B")
    for username, roles, org in USERS:
        identity.create_user(username, PASSWORD, roles, organisation_id=org, display_name=username.title())
    return identity


@pytest.fixture
def ws(db, engine, ident, tmp_path):
    engine.deploy(two_step())
    return Workspace(db, engine, ident, tmp_path / "files")


@pytest.fixture
def who(ident):
    return {username: ident.actor(username) for username, _, _ in USERS}


def start(ws, who, user="alice", org="lab-a"):
    return ws.engine.start_case("two_step", who[user], org)


def actions(ws, case_id):
    return [e["action"] for e in ws.engine.history(case_id)]


# -- cases ---------------------------------------------------------------------------------------------

def test_applicant_sees_own_organisation_case(ws, who):
    case = start(ws, who)
    page = ws.list_cases(who["alice"])
    assert (page.total, [c.id for c in page.items]) == (1, [case.id])
    assert ws.list_cases(who["anna"]).total == 1  # same laboratory
    view = ws.case_for(who["alice"], case.id)
    assert (view.id, view.organisation_id) == (case.id, "lab-a")
    assert [t.element_id for t in view.tasks] == ["ask"]
    assert view.data["organisation_id"] == "lab-a"


def test_other_organisation_cannot_see_or_touch_the_case(ws, who):
    case = start(ws, who)
    task_id = case.tasks[0].id
    ws.upload(case.id, who["alice"], "report.pdf", "application/pdf", PDF)
    sha = hashlib.sha256(PDF).hexdigest()
    bob = who["bob"]
    page = ws.list_cases(bob)
    assert (page.total, page.items) == (0, [])
    assert ws.inbox(bob).total == 0
    for attempt in (
        lambda: ws.case_for(bob, case.id),
        lambda: ws.task_for(bob, task_id),
        lambda: ws.claim(task_id, bob),
        lambda: ws.unclaim(task_id, bob),
        lambda: ws.add_comment(case.id, bob, "hello"),
        lambda: ws.comments(case.id, bob),
        lambda: ws.upload(case.id, bob, "x.pdf", "application/pdf", PDF),
        lambda: ws.attachments(case.id, bob),
        lambda: ws.attachment(case.id, sha, bob),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert ws.engine.get_task(task_id).claimed_by is None
    assert ws.comments(case.id, who["alice"]) == []
    assert len(ws.attachments(case.id, who["alice"])) == 1


def test_staff_see_every_case_and_every_task(ws, who):
    a = start(ws, who)
    b = start(ws, who, "bob", "lab-b")
    for staff in ("carol", "cody"):
        page = ws.list_cases(who[staff])
        assert page.total == 2 and {c.id for c in page.items} == {a.id, b.id}
    assert [t.element_id for t in ws.case_for(who["carol"], b.id).tasks] == ["ask"]
    assert ws.list_cases(who["carol"], organisation_id="lab-b").items[0].id == b.id
    assert ws.list_cases(who["carol"], process="nope").total == 0
    assert ws.list_cases(who["carol"], status="running").total == 2
    assert ws.list_cases(who["carol"], q=b.business_key[-8:]).items[0].id == b.id
    # an inspector without any assignment sees nothing
    assert ws.list_cases(who["ivan"]).total == 0
    with pytest.raises(NotFound):
        ws.case_for(who["ivan"], a.id)
    with pytest.raises(NotFound):
        ws.case_for(who["carol"], "00000000-0000-0000-0000-000000000000")


# -- inbox ---------------------------------------------------------------------------------------------

def test_inbox_follows_the_lane_role(ws, who):
    case = start(ws, who)
    [ask] = ws.inbox(who["alice"]).items
    assert (ask.case_id, ask.element_id, ask.role) == (case.id, "ask", "applicant")
    assert ws.inbox(who["carol"]).total == 0
    assert ws.inbox(who["bob"]).total == 0
    ws.engine.complete_task(ask.id, who["alice"], {"answer": "yes"})
    assert ws.inbox(who["alice"]).total == 0
    [review] = ws.inbox(who["carol"]).items
    assert (review.case_id, review.element_id, review.role) == (case.id, "review", "coordinator")
    assert ws.inbox(who["carol"], role="applicant").total == 0
    assert ws.inbox(who["carol"], process="two_step", case_id=case.id).total == 1
    assert ws.inbox(who["carol"], case_id="other").total == 0
    # the applicant still sees the case, but none of its tasks
    assert ws.case_for(who["alice"], case.id).tasks == []
    assert [t.element_id for t in ws.case_for(who["carol"], case.id).tasks] == ["review"]


def test_inbox_scopes(ws, who):
    c1, c2 = start(ws, who), start(ws, who)
    t1, t2 = c1.tasks[0].id, c2.tasks[0].id
    claimed = ws.claim(t1, who["alice"])
    assert claimed.claimed_by == "alice"

    def ids(user, scope):
        return {t.id for t in ws.inbox(who[user], scope=scope).items}

    assert ids("alice", "all") == {t1, t2}
    assert ids("alice", "mine") == {t1}
    assert ids("alice", "claimed") == {t1}
    assert ids("alice", "unassigned") == {t2}
    assert ids("anna", "mine") == set() and ids("anna", "claimed") == set()
    assert ids("anna", "unassigned") == {t2}
    with pytest.raises(InvalidFormData) as info:
        ws.inbox(who["alice"], scope="everything")
    assert info.value.errors[0]["field"] == "/scope"


def test_claim_twice_conflicts_and_complete_by_other_user_conflicts(ws, who):
    case = start(ws, who)
    task_id = case.tasks[0].id
    ws.claim(task_id, who["alice"])
    assert ws.claim(task_id, who["alice"]).claimed_by == "alice"  # claiming again is a no-op
    with pytest.raises(Conflict) as info:
        ws.claim(task_id, who["anna"])
    assert info.value.details["claimed_by"] == "alice"
    with pytest.raises(Conflict, match="claimed by alice"):
        ws.engine.complete_task(task_id, who["anna"], {"answer": "yes"})
    assert ws.engine.get_task(task_id).status == "ready"
    with pytest.raises(Forbidden):
        ws.claim(task_id, who["carol"])  # not the lane's role
    assert actions(ws, case.id).count("task.claimed") == 1
    case = ws.engine.complete_task(task_id, who["alice"], {"answer": "yes"})
    assert case.tasks[0].element_id == "review"
    with pytest.raises(Conflict):
        ws.claim(task_id, who["alice"])  # no longer ready


def test_unclaim_only_by_claimer_or_coordinator(ws, who):
    case = start(ws, who)
    task_id = case.tasks[0].id
    ws.claim(task_id, who["alice"])
    with pytest.raises(Forbidden):
        ws.unclaim(task_id, who["anna"])
    assert ws.engine.get_task(task_id).claimed_by == "alice"
    assert ws.unclaim(task_id, who["carol"]).claimed_by is None
    released = [e for e in ws.engine.history(case.id) if e["action"] == "task.unclaimed"]
    assert [(e["actor"], e["data"]["was"]) for e in released] == [("carol", "alice")]
    ws.claim(task_id, who["anna"])
    assert ws.unclaim(task_id, who["anna"]).claimed_by is None
    assert ws.unclaim(task_id, who["anna"]).claimed_by is None  # nothing to release


def test_assign(ws, who):
    case = start(ws, who)
    task_id = case.tasks[0].id
    with pytest.raises(Forbidden):
        ws.assign(task_id, who["alice"], "anna")
    with pytest.raises(Forbidden):
        ws.assign(task_id, who["cody"], "anna")
    for target, message in (("ivan", "lacks role applicant"), ("bob", "other organisation"),
                            ("nobody", "unknown user")):
        with pytest.raises(InvalidFormData) as info:
            ws.assign(task_id, who["carol"], target)
        assert info.value.errors == [{"field": "/username", "message": message}]
    assert ws.engine.get_task(task_id).claimed_by is None
    ws.claim(task_id, who["alice"])
    view = ws.assign(task_id, who["carol"], "anna")
    assert view.claimed_by == "anna" and ws.engine.get_task(task_id).claimed_by == "anna"
    [assigned] = [e for e in ws.engine.history(case.id) if e["action"] == "task.assigned"]
    assert (assigned["actor"], assigned["role"]) == ("carol", "coordinator")
    assert assigned["data"] == {"task_id": task_id, "element_id": "ask", "old": "alice", "new": "anna"}
    assert [t.id for t in ws.inbox(who["anna"], scope="mine").items] == [task_id]
    with pytest.raises(Conflict):
        ws.engine.complete_task(task_id, who["alice"], {"answer": "no"})
    assert ws.engine.complete_task(task_id, who["anna"], {"answer": "no"}).status == "completed"


def test_pagination(ws, who):
    cases = []
    with time_machine.travel(T0, tick=False) as traveller:  # distinct creation times: a stable order
        for _ in range(5):
            cases.append(start(ws, who))
            traveller.shift(timedelta(minutes=1))
    first = ws.inbox(who["alice"], per_page=2)
    assert (first.total, len(first.items), first.page, first.per_page) == (5, 2, 1, 2)
    pages = [ws.inbox(who["alice"], per_page=2, page=p, sort="created").items for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [t.case_id for p in pages for t in p] == [c.id for c in cases]
    assert ws.inbox(who["alice"], per_page=2, page=4).items == []
    listed = [ws.list_cases(who["alice"], per_page=2, page=p) for p in (1, 2, 3)]
    assert [len(p.items) for p in listed] == [2, 2, 1] and listed[2].total == 5
    assert {c.id for p in listed for c in p.items} == {c.id for c in cases}


def test_sort_by_due_and_created_and_overdue_filter(db, engine, ident, who, tmp_path):
    engine.deploy(two_step())
    engine.deploy(timer_bundle())
    ws = Workspace(db, engine, ident, tmp_path / "files")
    alice = who["alice"]
    with time_machine.travel(T0, tick=False) as traveller:
        d1 = engine.start_case("deadline", alice, "lab-a").tasks[0]
        traveller.shift(timedelta(hours=1))
        n1 = engine.start_case("two_step", alice, "lab-a").tasks[0]
        traveller.shift(timedelta(hours=1))
        d2 = engine.start_case("deadline", alice, "lab-a").tasks[0]
        assert (d1.due_at, d2.due_at, n1.due_at) == (T0 + timedelta(days=3), T0 + timedelta(hours=2, days=3), None)

        def order(**kw):
            return [t.id for t in ws.inbox(alice, **kw).items]

        assert order() == [d1.id, d2.id, n1.id]  # default sort: due, tasks without a due date last
        assert order(sort="-due") == [d2.id, d1.id, n1.id]
        assert order(sort="created") == [d1.id, n1.id, d2.id]
        assert order(sort="-created") == [d2.id, n1.id, d1.id]
        with pytest.raises(InvalidFormData) as info:
            ws.inbox(alice, sort="name")
        assert info.value.errors[0]["field"] == "/sort"

        assert order(overdue=True) == []
        assert order(overdue=False) == [d1.id, d2.id, n1.id]
        traveller.move_to(T0 + timedelta(days=3, minutes=1))  # d1's deadline passed, its timer not yet fired
        assert order(overdue=True) == [d1.id]
        assert order(overdue=False) == [d2.id, n1.id]
        traveller.move_to(T0 + timedelta(days=3, hours=2, minutes=1))
        assert order(overdue=True) == [d1.id, d2.id]
        assert ws.inbox(alice, overdue=True, process="deadline").total == 2
        assert ws.inbox(alice, overdue=True, process="two_step").total == 0


# -- comments ------------------------------------------------------------------------------------------

def test_comments(ws, who):
    case = start(ws, who)
    other = start(ws, who)
    task_id = case.tasks[0].id
    first = ws.add_comment(case.id, who["alice"], "  Our SOP v3 is attached.  ")
    second = ws.add_comment(case.id, who["carol"], "Thanks, reviewing.", task_id=task_id)
    assert (first["author"], first["author_name"], first["body"], first["task_id"]) == (
        "alice", "Alice", "Our SOP v3 is attached.", None)
    listed = ws.comments(case.id, who["anna"])
    assert [(c["author"], c["body"]) for c in listed] == [("alice", "Our SOP v3 is attached."),
                                                           ("carol", "Thanks, reviewing.")]
    assert [c["id"] for c in ws.comments(case.id, who["carol"], task_id=task_id)] == [second["id"]]
    assert ws.comments(other.id, who["alice"]) == []
    added = [e for e in ws.engine.history(case.id) if e["action"] == "comment.added"]
    assert [(e["actor"], e["data"]["comment_id"], e["data"]["body"]) for e in added] == [
        ("alice", first["id"], "Our SOP v3 is attached."), ("carol", second["id"], "Thanks, reviewing.")]
    for body in ("", "   \n ", "x" * (MAX_COMMENT + 1)):
        with pytest.raises(InvalidFormData) as info:
            ws.add_comment(case.id, who["alice"], body)
        assert info.value.errors[0]["field"] == "/body"
    with pytest.raises(InvalidFormData) as info:
        ws.add_comment(case.id, who["alice"], "wrong task", task_id=other.tasks[0].id)
    assert info.value.errors[0]["field"] == "/task_id"
    assert len(ws.add_comment(case.id, who["alice"], "x" * MAX_COMMENT)["body"]) == MAX_COMMENT
    with ws.db.read() as s:
        assert s.scalar(sa.select(sa.func.count(Comment.id))) == 3


# -- attachments ---------------------------------------------------------------------------------------

def test_upload_stores_content_addressed_and_deduplicates(ws, who, tmp_path):
    case = start(ws, who)
    sha = hashlib.sha256(PDF).hexdigest()
    view = ws.upload(case.id, who["alice"], "../../etc/SOP v3.pdf", "application/PDF; charset=binary", PDF)
    assert (view.sha256, view.case_id, view.filename, view.content_type, view.size, view.uploaded_by) == (
        sha, case.id, "SOP v3.pdf", "application/pdf", len(PDF), "alice")
    stored = tmp_path / "files" / sha[:2] / sha[2:4] / sha
    assert stored.read_bytes() == PDF
    again = ws.upload(case.id, who["anna"], "copy.pdf", "application/pdf", PDF)
    assert (again.sha256, again.filename, again.uploaded_by) == (sha, "SOP v3.pdf", "alice")
    with ws.db.read() as s:
        assert s.scalar(sa.select(sa.func.count(Attachment.id))) == 1
    assert actions(ws, case.id).count("attachment.uploaded") == 1
    assert [f for f in (tmp_path / "files").rglob("*") if f.is_file()] == [stored]
    meta, path = ws.attachment(case.id, sha, who["carol"])
    assert (meta.sha256, path, path.read_bytes()) == (sha, stored, PDF)
    assert [a.sha256 for a in ws.attachments(case.id, who["anna"])] == [sha]
    with pytest.raises(NotFound):
        ws.attachment(case.id, "0" * 64, who["alice"])
    # the same content on another case is another attachment row but the same stored file
    other = start(ws, who)
    ws.upload(other.id, who["alice"], "r.pdf", "application/pdf", PDF)
    with ws.db.read() as s:
        assert s.scalar(sa.select(sa.func.count(Attachment.id))) == 2
    assert [f for f in (tmp_path / "files").rglob("*") if f.is_file()] == [stored]


def test_upload_refusals(db, engine, ident, who, tmp_path):
    engine.deploy(two_step())
    ws = Workspace(db, engine, ident, tmp_path / "files", max_upload=64)
    case = start(ws, who)
    alice = who["alice"]
    with pytest.raises(TooLarge) as info:  # 413 over HTTP
        ws.upload(case.id, alice, "big.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * 100)
    assert info.value.details["limit"] == 64 and info.value.details["errors"][0]["field"] == "/file"
    refusals = [
        ("setup.exe", "application/x-msdownload", b"MZ\x90\x00", "allowed: "),
        ("photo.png", "image/png", b"this is plain text, not an image", "content does not match its type"),
        ("fake.pdf", "application/pdf", b"<html>hi</html>", "content does not match its type"),
        ("", "application/pdf", b"%PDF-1.4\n", "missing file name"),
    ]
    for filename, content_type, data, message in refusals:
        with pytest.raises(InvalidFormData) as info:
            ws.upload(case.id, alice, filename, content_type, data)
        [error] = info.value.errors
        assert error["field"] == "/file" and message in error["message"], (filename, error)
    assert ws.attachments(case.id, alice) == []
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").rglob("*"))
    exactly = b"%PDF-1.4\n" + b"0" * (64 - 9)
    assert ws.upload(case.id, alice, "ok.pdf", "application/pdf", exactly).size == 64
    assert ws.upload(case.id, alice, "notes.txt", "text/plain", b"anything").content_type == "text/plain"
    png = ws.upload(case.id, alice, "p.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 8)
    assert png.content_type == "image/png"
    # a finished case takes no more files
    ws.engine.complete_task(case.tasks[0].id, alice, {"answer": "no"})
    with pytest.raises(Conflict):
        ws.upload(case.id, alice, "late.pdf", "application/pdf", b"%PDF-1.4\nlate")


EVIDENCE_FORM = ('{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", '
                 '"additionalProperties": false, "required": ["evidence_attachment_id"], '
                 '"properties": {"evidence_attachment_id": {"type": "string"}}}')


def evidence_bundle():
    body = ('<bpmn:startEvent id="start"/>' + user_task("submit", "Submit evidence", "evidence.json")
            + '<bpmn:endEvent id="end"/>' + flow("e1", "start", "submit") + flow("e2", "submit", "end"))
    return {"evidence.bpmn": process("evidence", {"applicant": ["start", "submit", "end"]}, body),
            "evidence.json": EVIDENCE_FORM}


def test_form_may_refer_only_to_files_uploaded_to_that_case(db, engine, ident, who, tmp_path):
    engine.deploy(evidence_bundle())
    ws = Workspace(db, engine, ident, tmp_path / "files")
    alice = who["alice"]
    case = engine.start_case("evidence", alice, "lab-a")
    other = engine.start_case("evidence", alice, "lab-a")
    task_id = case.tasks[0].id
    elsewhere = ws.upload(other.id, alice, "other.pdf", "application/pdf", PDF + b"other").sha256
    for ref in ("f" * 64, elsewhere):
        with pytest.raises(InvalidFormData) as info:
            engine.complete_task(task_id, alice, {"evidence_attachment_id": ref})
        assert info.value.errors == [{"field": "/evidence_attachment_id",
                                      "message": "no attachment with this id was uploaded to this case"}]
        assert engine.get_task(task_id).status == "ready"
    sha = ws.upload(case.id, alice, "evidence.pdf", "application/pdf", PDF).sha256
    done = engine.complete_task(task_id, alice, {"evidence_attachment_id": sha})
    assert (done.status, done.outcome, done.data["evidence_attachment_id"]) == ("completed", "end", sha)


def inspection_bundle():
    # the start event names the case's team (caseTeam): access comes from that record, not from the task
    body = ('<bpmn:startEvent id="start"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="caseTeam" value="inspector_name"/>'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:startEvent>'
            + user_task("inspect", "Inspect the site", None, {"assignee": "inspector_name"})
            + '<bpmn:endEvent id="end"/>' + flow("i1", "start", "inspect") + flow("i2", "inspect", "end"))
    return {"inspection.bpmn": process("inspection", {"coordinator": ["start"], "inspector": ["inspect", "end"]},
                                       body)}


def test_inspector_sees_only_cases_whose_team_they_are_on(db, engine, ident, who, tmp_path):
    engine.deploy(inspection_bundle())
    engine.deploy(two_step())
    ws = Workspace(db, engine, ident, tmp_path / "files")
    case = engine.start_case("inspection", who["carol"], "lab-a", {"inspector_name": "ivan"})
    unrelated = engine.start_case("two_step", who["alice"], "lab-a")
    [task] = case.tasks
    assert (task.role, task.assignee) == ("inspector", "ivan")
    ivan, iris = who["ivan"], who["iris"]

    assert [c.id for c in ws.list_cases(ivan).items] == [case.id]
    assert [t.id for t in ws.case_for(ivan, case.id).tasks] == [task.id]
    assert [t.id for t in ws.inbox(ivan).items] == [task.id]
    assert [t.id for t in ws.inbox(ivan, scope="mine").items] == [task.id]
    with pytest.raises(NotFound):
        ws.case_for(ivan, unrelated.id)

    assert ws.list_cases(iris).total == 0 and ws.inbox(iris).total == 0
    with pytest.raises(NotFound):
        ws.case_for(iris, case.id)
    with pytest.raises(NotFound):
        ws.claim(task.id, iris)
    with pytest.raises(NotFound):  # not on the case: the engine tells her nothing about it
        engine.complete_task(task.id, iris, {})
    with pytest.raises(Conflict):
        ws.assign(task.id, who["carol"], "iris")  # the diagram names ivan

    # the applicant's organisation sees its case, not the inspector's task
    assert ws.case_for(who["alice"], case.id).tasks == []
    assert ws.claim(task.id, ivan).claimed_by == "ivan"
    done = engine.complete_task(task.id, ivan, {})
    assert done.status == "completed"
    # on the team, the inspector keeps seeing the case after the work is done
    assert [c.id for c in ws.list_cases(ivan).items] == [case.id]


def test_an_assigned_task_alone_gives_an_inspector_nothing(db, engine, ident, who, tmp_path):
    """The diagram assigns the task to ivan, but no caseTeam names him: he is not on the case."""
    bundle = inspection_bundle()
    bundle["inspection.bpmn"] = bundle["inspection.bpmn"].replace(
        '<spiffworkflow:property name="caseTeam" value="inspector_name"/>', "")
    engine.deploy(bundle)
    ws = Workspace(db, engine, ident, tmp_path / "files")
    case = engine.start_case("inspection", who["carol"], "lab-a", {"inspector_name": "ivan"})
    [task] = case.tasks
    assert task.assignee == "ivan"
    ivan = who["ivan"]
    assert ws.list_cases(ivan).total == 0 and ws.inbox(ivan).total == 0
    with pytest.raises(NotFound):
        ws.case_for(ivan, case.id)
    with pytest.raises(NotFound):
        engine.complete_task(task.id, ivan, {})


def test_internal_notes_are_for_staff_only(db, engine, ident, who, tmp_path):
    from engine.reports.audit import Audit

    engine.deploy(two_step())
    ws = Workspace(db, engine, ident, tmp_path / "files")
    case = start(ws, who)
    carol = next(a for a in who.values() if "coordinator" in a.roles)
    alice = who["alice"]
    ws.add_comment(case.id, carol, "Lab looks understaffed; check at inspection", internal=True)
    ws.add_comment(case.id, carol, "Please upload the QMS manual")
    with pytest.raises(Forbidden):
        ws.add_comment(case.id, alice, "secret", internal=True)
    assert [c["body"] for c in ws.comments(case.id, carol)] == ["Lab looks understaffed; check at inspection",
                                                                "Please upload the QMS manual"]
    assert [c["body"] for c in ws.comments(case.id, alice)] == ["Please upload the QMS manual"]
    lab_history = Audit(db, engine=engine).history(alice, case.id, action="comment.added").items
    assert [e["data"].get("body") for e in lab_history] == [None, "Please upload the QMS manual"]
