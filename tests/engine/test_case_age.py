"""Long-lived loops: no stall at any pass, and a state that does not grow with the age of the case.

SpiffWorkflow's stock stepping finds READY tasks with an iterator limited to depth 1,000; each loop pass
adds two levels here, so before engine/workflow/stepping.py and engine/workflow/pruning.py this case silently stalled at pass
~500 (running, no ready task, no error). Sizes are asserted, never times (bench/case_age.py measures those).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.workflow import stepping
from engine.storage.models import Case, Event

from .bpmn_builder import SIMPLE_FORM, flow, process, user_loop, user_task

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)


def _state_size(engine, case_id) -> int:
    with engine.db.read() as s:
        return len(s.scalar(sa.select(Case.state).where(Case.id == case_id)))


def _events(engine, case_id) -> list[tuple[str, str | None]]:
    with engine.db.read() as s:
        return [(e.action, e.element_id) for e in
                s.scalars(sa.select(Event).where(Event.case_id == case_id).order_by(Event.seq))]


def test_a_thousand_passes_of_a_user_task_loop_never_stall_and_stay_small(engine, actors):
    engine.deploy(user_loop())
    alice = actors["applicant"]
    case = engine.start_case("loop", alice, "lab-a")
    [task] = case.tasks
    sizes = {}
    for n in range(1, 1001):
        case = engine.complete_task(task.id, alice, {"answer": "yes", "note": f"pass {n}"})
        assert case.status == "running", f"pass {n}"
        assert [t.element_id for t in case.tasks] == ["again"], f"no ready task after pass {n}"
        [task] = case.tasks
        assert task.id != case.id
        if n in (10, 1000):
            sizes[n] = _state_size(engine, case.id)
    assert case.data["note"] == "pass 1000"
    # bounded: the state after 1,000 passes is about the state after 10 (it was ~2.3 MB before pruning)
    assert sizes[1000] <= 2 * sizes[10], sizes
    case = engine.complete_task(task.id, alice, {"answer": "no"})
    assert (case.status, case.outcome, case.tasks) == ("completed", "end", [])

    # the history still has every pass: 1,001 completions, 1,001 ready tasks, 1,001 gateways, one end
    events = _events(engine, case.id)
    assert events.count(("task.completed", "again")) == 1001
    assert events.count(("task.ready", "again")) == 1001
    assert events.count(("element.completed", "more")) == 1001
    assert events.count(("element.completed", "end")) == 1
    assert events[-1] == ("case.ended", None)


def _loop_workflow():
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(user_loop()["loop.bpmn"].encode())
    return BpmnWorkflow(parser.get_spec("loop"))


def test_stepping_finds_ready_tasks_below_depth_1000_without_pruning():
    """The mechanism on its own: the tree grows two levels a pass, nothing is pruned, and the engine
    steps still run the gateway of pass 520 (the stock ``do_engine_steps`` stops finding it at ~500)."""
    wf = _loop_workflow()
    stepping.do_engine_steps(wf)
    for n in range(520):
        [ready] = [t for t in wf.tasks.values() if t.state == TaskState.READY]
        assert ready.task_spec.name == "again", f"pass {n}"
        ready.data["answer"] = "yes"
        ready.run()
        stepping.do_engine_steps(wf)
    [ready] = [t for t in wf.tasks.values() if t.state == TaskState.READY]
    assert ready.depth > 1000


# -- a loop exercising what pruning must leave alone ---------------------------------------------------

DECIDE_FORM = ('{"type": "object", "additionalProperties": false, "required": ["again"], '
               '"properties": {"again": {"type": "boolean"}}}')


def rich_loop(parallel: bool):
    """Each pass: prepare (script) → a (applicant, with a non-interrupting 1-day reminder whose side path
    runs a script and ends), b (coordinator, decides whether to go round again) and a call activity (child:
    one applicant task) — one after the other (then a one-hour intermediate timer, whose waiting task
    re-inherits its parent's data on every refresh), or in parallel between a split and a join — with a
    parallel multi-instance script over three items, → more? → back to prepare | end."""
    body = (
        '<bpmn:startEvent id="start"/>'
        '<bpmn:scriptTask id="init" name="Init"><bpmn:script>passes = 0</bpmn:script></bpmn:scriptTask>'
        '<bpmn:scriptTask id="prepare" name="Prepare"><bpmn:script>items = [1, 2, 3]\ndoubled = []\npasses = passes + 1'
        '</bpmn:script></bpmn:scriptTask>'
        + user_task("a", "Answer", "simple.json")
        + '<bpmn:boundaryEvent id="remind" name="Reminder" attachedToRef="a" cancelActivity="false">'
          '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P1D"</bpmn:timeDuration>'
          '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'
          '<bpmn:scriptTask id="note_reminder" name="Note the reminder"><bpmn:script>reminded = True</bpmn:script>'
          '</bpmn:scriptTask><bpmn:endEvent id="reminded_end" name="Reminded"/>'
        + user_task("b", "Decide", "decide.json")
        + '<bpmn:callActivity id="call_child" name="Child work" calledElement="child"/>'
          '<bpmn:scriptTask id="tally" name="Tally"><bpmn:multiInstanceLoopCharacteristics>'
          '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>doubled</bpmn:loopDataOutputRef>'
          '<bpmn:inputDataItem id="item" name="item"/><bpmn:outputDataItem id="out" name="out"/>'
          '</bpmn:multiInstanceLoopCharacteristics><bpmn:script>out = item * 2</bpmn:script></bpmn:scriptTask>'
          '<bpmn:exclusiveGateway id="more" name="Again?" default="r_end"/><bpmn:endEvent id="end" name="Done"/>'
        + flow("r0", "start", "init") + flow("r1", "init", "prepare")
        + flow("r9", "remind", "note_reminder") + flow("r10", "note_reminder", "reminded_end")
        + flow("r_again", "more", "prepare", "again") + flow("r_end", "more", "end"))
    ids = ["start", "init", "prepare", "a", "remind", "note_reminder", "reminded_end", "call_child",
           "tally", "more", "end"]
    if parallel:
        body += ('<bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>'
                 + flow("r2", "prepare", "split") + flow("r3", "split", "a") + flow("r4", "split", "b")
                 + flow("r5", "split", "call_child") + flow("r6", "a", "join") + flow("r7", "b", "join")
                 + flow("r8", "call_child", "join") + flow("r11", "join", "tally") + flow("r12", "tally", "more"))
        ids += ["split", "join"]
    else:
        body += (flow("r2", "prepare", "a") + flow("r3", "a", "call_child") + flow("r4", "call_child", "tally")
                 + flow("r5", "tally", "b") + flow("r6", "b", "cool_off") + flow("r7", "cool_off", "more"))
        body += ('<bpmn:intermediateCatchEvent id="cool_off" name="Cool off"><bpmn:timerEventDefinition>'
                 '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"</bpmn:timeDuration>'
                 '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
        ids += ["cool_off"]
    child = ('<bpmn:startEvent id="c_start"/>' + user_task("work", "Work", "simple.json")
             + '<bpmn:endEvent id="c_end"/>' + flow("c1", "c_start", "work") + flow("c2", "work", "c_end"))
    return {"rich.bpmn": process("rich", {"applicant": ids, "coordinator": ["b"]}, body),
            "child.bpmn": process("child", {"applicant": ["c_start", "work", "c_end"]}, child),
            "simple.json": SIMPLE_FORM, "decide.json": DECIDE_FORM}


def _drive_rich_loop(engine, actors, passes: int, parallel: bool = False):
    """Run ``passes`` passes, letting the reminder fire every third pass; in parallel, complete the three
    tasks in a rotating order (so the join is saved with one and with two arrivals). Returns what an
    observer sees after every call, the history, the final case and the state sizes by pass."""
    engine.deploy(rich_loop(parallel))
    alice, carol = actors["applicant"], actors["coordinator"]
    seen, sizes = [], {}
    now = T0
    with time_machine.travel(now, tick=False) as clock:
        case = engine.start_case("rich", alice, "lab-a", {"note": "at start"})
        for n in range(1, passes + 1):
            if n % 3 == 0:
                now += timedelta(days=1, minutes=1)
                clock.move_to(now)
                engine.fire_due_timers()
            order = ["a", "work", "b"]
            if parallel and n < passes:  # the last to arrive at the join passes its data on: b, at the end
                order = order[n % 3:] + order[:n % 3]
            for element in order:
                [task] = [t for t in engine.get_case(case.id).tasks if t.element_id == element]
                data = {"again": n < passes} if element == "b" else {"answer": "yes", "note": f"{element}{n}"}
                case = engine.complete_task(task.id, carol if element == "b" else alice, data)
                seen.append((element, sorted(t.element_id for t in case.tasks), case.status,
                             case.data.get("note")))
            now += timedelta(hours=1, minutes=1)
            clock.move_to(now)
            if not parallel:  # the cool-off timer waited a saved call out; it fires now
                engine.fire_due_timers()
                case = engine.get_case(case.id)
                seen.append(("cool_off", sorted(t.element_id for t in case.tasks), case.status,
                             case.data.get("note")))
            sizes[n] = _state_size(engine, case.id)
    history = [(e["action"], e["element_id"], e["actor"]) for e in engine.history(case.id)]
    return seen, history, case, sizes


def test_pruning_changes_nothing_anyone_sees_and_keeps_the_state_bounded(engine, actors, monkeypatch, tmp_path):
    """The same 18 passes with and without pruning: identical ready tasks after every call, identical
    history (every event, in order), same outcome and data. Only the state size differs."""
    pruned = _drive_rich_loop(engine, actors, 18)

    from engine.workflow import pruning
    from engine.storage.db import Database
    from engine.cases.services import Engine

    monkeypatch.setattr(pruning, "prune", lambda wf: 0)
    other = Database(f"sqlite:///{tmp_path / 'unpruned.sqlite'}")
    other.migrate()
    try:
        unpruned = _drive_rich_loop(Engine(other, script_time_limit=1.0), actors, 18)
    finally:
        other.dispose()

    seen, history, case, sizes = pruned
    assert seen[:-1] == unpruned[0][:-1]  # every ready-task list and every running case's data
    assert seen[-1][:3] == unpruned[0][-1][:3]  # the ended case: same, but for its data (see below)
    assert history == unpruned[1]
    assert (case.status, case.outcome) == (unpruned[2].status, unpruned[2].outcome) == ("completed", "end")
    # An ended case shows the data of the end events left in its tree, merged in tree order (sub-process
    # ends last): without pruning the last child's end comes last; with pruning the old child records are
    # gone and the last reminder's end comes last. Only "note", written by several branches, differs.
    assert {k: v for k, v in case.data.items() if k not in ("note", "case_id", "business_key")} == \
        {k: v for k, v in unpruned[2].data.items() if k not in ("note", "case_id", "business_key")}
    assert case.data["passes"] == 18 and case.data["reminded"] is True
    assert sum(1 for h in history if h[:2] == ("timer.fired", "remind")) == 6
    assert sum(1 for h in history if h[:2] == ("task.completed", "work")) == 18
    # bounded with pruning, growing without
    assert sizes[17] <= 1.5 * sizes[5], sizes
    assert unpruned[3][17] > 2 * unpruned[3][5]


def test_a_parallel_join_inside_a_loop_waits_for_every_branch_of_its_own_pass(engine, actors):
    """Stock SpiffWorkflow 3.2 counts the previous pass's arrivals at a parallel join: from pass 2 on the
    join fires as soon as one branch arrives (and a branch task is left behind, still ready). Pruning drops
    the merged branches of earlier passes, so every pass waits for its three branches."""
    seen, history, case, sizes = _drive_rich_loop(engine, actors, 20, parallel=True)
    assert len(seen) == 60
    for i, (element, ready, status, _) in enumerate(seen):
        n, k = divmod(i, 3)  # pass n + 1, k-th completion of the pass
        order = [e for e, _, _, _ in seen[3 * n:3 * n + 3]]
        assert sorted(order) == ["a", "b", "work"]
        if k < 2:
            assert ready == sorted(order[k + 1:]), (n + 1, element, ready)
        elif n < 19:
            assert ready == ["a", "b", "work"], (n + 1, element, ready)
        else:
            assert (ready, status) == ([], "completed")
    assert sum(1 for h in history if h[:2] == ("element.completed", "join")) == 20
    assert sum(1 for h in history if h[:2] == ("element.completed", "tally")) == 20 * 4  # 3 instances + 1
    assert case.data["passes"] == 20  # (an ended case merges its end events' data: see the test above)
    assert sizes[19] <= 1.5 * sizes[5], sizes
