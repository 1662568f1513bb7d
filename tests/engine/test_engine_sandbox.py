"""Diagram code runs sandboxed through the engine — also after a case is reloaded from the database
(deserialising gives SpiffWorkflow's unsandboxed default back unless the engine re-attaches its own)."""
from __future__ import annotations

import pytest

from engine.errors import DefinitionInvalid, ProcessError
from engine.cases.services import Engine

from .bpmn_builder import two_step


@pytest.mark.parametrize("script, sandbox_error", [
    ("while True:\n    pass", "ScriptTimeout"),
    ("result = [x for x in iter(int, 1)]", "ScriptTimeout"),
    ("result = getattr(1, '__cl' + 'ass__')", "SandboxViolation"),
])
def test_runtime_escape_stopped_and_rolled_back_after_reload(db, actors, tmp_path, script, sandbox_error):
    first = Engine(db, script_time_limit=0.3)
    first.deploy(two_step(script=script.replace("\n", "&#10;")))
    case = first.start_case("two_step", actors["applicant"], "lab-a")
    reloaded = Engine(db, script_time_limit=0.3)  # a new process: the case comes from the database
    with pytest.raises(ProcessError) as info:
        reloaded.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert info.value.details.get("sandbox") == sandbox_error, info.value.to_dict()
    assert info.value.details["element_id"] == "compute"
    assert reloaded.get_case(case.id).tasks[0].element_id == "ask"
    assert not any(e["action"] == "task.completed" for e in reloaded.history(case.id))


@pytest.mark.parametrize("script", [
    "import os",
    "from subprocess import run",
    "x = ().__class__.__bases__[0].__subclasses__()",
    "x = open('/etc/passwd').read()",
])
def test_escapes_are_refused_at_deploy(engine, script):
    with pytest.raises(DefinitionInvalid) as info:
        engine.deploy(two_step(script=script))
    assert any(p.element_id == "compute" for p in info.value.problems), [str(p) for p in info.value.problems]


def test_date_functions_work_under_the_real_clock(engine, actors):
    """date.today()/strptime import helpers from C code: the sandbox must allow exactly that (no clock
    faking here — under time_machine the pure-Python fakes would hide the problem)."""
    from datetime import date

    script = "result = date.today().isoformat() + ' ' + str(datetime.strptime('2027-01-31', '%Y-%m-%d').month)"
    engine.deploy(two_step(script=script))
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    case = engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert case.data["result"] == f"{date.today().isoformat()} 1"
