"""Diagram code is bounded in CPU time and memory, including single long operations inside C.

Each abuse class runs through the engine's environment (bounded expressions in process, everything else in
a worker process under OS limits). Each test asserts the *kind* of stop and that the code was stopped —
never how long it took. A concurrent evaluation on another thread still answers while a runaway runs.
"""
from __future__ import annotations

import threading

import pytest

from engine.sandbox import IsolatedEnvironment, SandboxViolation, ScriptMemoryLimit, ScriptTimeout, lint
from engine.sandbox.pool import WorkerPool


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(size=3)
    yield pool
    pool.close()


@pytest.fixture
def env(pool):
    return IsolatedEnvironment(time_limit=1.0, pool=pool)


def refused(env, script, data=None):
    with pytest.raises(SandboxViolation) as info:
        env.execute(script, dict(data or {}))
    return str(info.value)


# -- C-level blow-ups stopped by a size check before the C call ------------------------------------

@pytest.mark.parametrize("script", [
    pytest.param("x = pow(3, 2**5000 - 1, 2**5000 + 1)", id="three-argument-pow"),
    pytest.param("m = 2**4000 + 1\nx = pow(7, m, m)", id="three-argument-pow-vars"),
    pytest.param("x = 7 ** 10**7", id="power"),
    pytest.param("a = 2**90000\nb = a * a", id="big-multiplication"),
    pytest.param("a = 2**90000\nb = a << 50000", id="big-shift"),
    pytest.param("a = 1 << 99000\nb = a\nfor i in range(5):\n    b = b * 3\nc = b * b", id="grown-product"),
    pytest.param("x = (1 << 200000) // 3", id="big-division"),
    pytest.param("x = round(1, -10**6)", id="round"),
])
def test_big_integer_arithmetic(env, script):
    assert "sandbox" in refused(env, script)


@pytest.mark.parametrize("script", [
    "x = math.factorial(10**7)", "x = math.comb(10**7, 5 * 10**6)", "x = math.perm(10**7, 10**6)",
    "x = math.lcm(*[2**60000 + i for i in range(3)])", "x = math.prod([2**60000, 2**60000])",
])
def test_math_functions_on_huge_inputs(env, script):
    assert "sandbox" in refused(env, script)


@pytest.mark.parametrize("script", [
    pytest.param("x = 'a'.ljust(10**9)", id="ljust"),
    pytest.param("x = 'a'.center(10**9)", id="center"),
    pytest.param("x = '1'.zfill(10**9)", id="zfill"),
    pytest.param("x = ('\\t' * 1000).expandtabs(10**6)", id="expandtabs"),
    pytest.param("x = f'{1:>999999999}'", id="fstring-width"),
    pytest.param("w = 999999999\nx = f'{1:>{w}}'", id="fstring-dynamic-width"),
    pytest.param("x = f'{1.5:.999999999f}'", id="fstring-precision"),
    pytest.param("x = '%999999999d' % 1", id="percent-width"),
    pytest.param("x = '%*d' % (10**9, 1)", id="percent-star"),
    pytest.param("x = format(1, '>999999999')", id="format-builtin"),
    pytest.param("x = '{:>999999999}'.format(1)", id="str-format"),
])
def test_padding_and_format_widths(env, script):
    assert "sandbox" in refused(env, script) or "not allowed" in refused(env, script)


@pytest.mark.parametrize("script", [
    pytest.param("x = 'x' * 10**9", id="str-repetition"),
    pytest.param("x = [0] * 10**9", id="list-repetition"),
    pytest.param("x = [0]\nx *= 10**9", id="inplace-repetition"),
    pytest.param("s = 'x' * 10**6\nt = s.replace('x', 'y' * 1000)", id="replace"),
    pytest.param("s = 'x' * 1000\nt = s.replace('', 'y' * 10**4)", id="replace-empty"),
    pytest.param("x = ''.join('x' * 1000 for _ in range(10**6))", id="join-generator"),
    pytest.param("big = ['x' * 10**6] * 1000\nx = ','.join(big)", id="join-list"),
    pytest.param("x = str.join('', ['x' * 10**6] * 1000)", id="join-unbound"),
    pytest.param("x = 'a' * 1000\ny = x.translate({97: 'b' * 10**5})", id="translate"),
    pytest.param("x = list(range(10**9))", id="range"),
    pytest.param("x = random.randbytes(10**9)", id="randbytes"),
])
def test_string_and_sequence_blowups(env, script):
    assert "sandbox" in refused(env, script)


def test_regex_is_not_available_to_scripts():
    assert any("imports are not allowed" in p for p in lint("import re\nre.match('(a+)+$', 'a' * 50 + 'b')"))
    assert lint("x = re.match('(a+)+$', 'a' * 50 + 'b')") == []  # a name lookup: NameError at run time


def test_regex_backtracking_has_no_way_in(env):
    with pytest.raises(NameError):
        env.execute("x = re.match('(a+)+$', 'a' * 50 + 'b')", {})


# -- stopped by the worker's OS limits or the hard kill --------------------------------------------

def test_memory_bomb_in_a_loop_is_stopped(env):
    with pytest.raises((ScriptMemoryLimit, ScriptTimeout)) as info:
        env.execute("chunks = []\nwhile True:\n    chunks.append('x' * 10**6 + str(len(chunks)))", {})
    assert "stopped" in str(info.value)


def test_huge_repr_is_stopped_by_the_address_space_limit(env):
    """No size guard covers repr(): the worker's RLIMIT_AS does."""
    with pytest.raises((ScriptMemoryLimit, ScriptTimeout)) as info:
        env.execute("big = [['x' * 10**6] * 10**5] * 100\ntext = str(big)", {})
    assert "stopped" in str(info.value)


def test_long_c_call_without_size_check_is_killed(env, pool):
    """``sum(lists, [])`` is quadratic inside one C call: no signal can stop it, the supervisor kills the
    worker; the next call gets a fresh one."""
    before = pool.spawned
    with pytest.raises(ScriptTimeout) as info:
        env.execute("rows = [[1] * 1000] * 20000\nflat = sum(rows, [])", {})
    assert "killed" in str(info.value) or "CPU" in str(info.value)
    data = {"n": 1}
    env.execute("m = n + 1", data)
    assert data["m"] == 2
    assert pool.spawned > before


@pytest.mark.parametrize("script", [
    "while True:\n    pass",
    "while True:\n    try:\n        while True:\n            pass\n    except Exception:\n        pass",
    "def f():\n    return f()\nwhile True:\n    try:\n        f()\n    except Exception:\n        pass",
])
def test_python_loops_are_stopped_at_the_time_limit(env, script):
    with pytest.raises(ScriptTimeout):
        env.execute(script, {})


# -- no unwrapped module or object ---------------------------------------------------------------------

@pytest.mark.parametrize("script", [
    pytest.param("try:\n    math.nothing\nexcept AttributeError as e:\n    m = e.obj", id="AttributeError.obj"),
    pytest.param("try:\n    getattr(random, 'nothing')\nexcept AttributeError as e:\n    m = getattr(e, 'obj')",
                 id="getattr-obj"),
    pytest.param("try:\n    1 / 0\nexcept Exception as e:\n    tb = e.__traceback__", id="traceback"),
    pytest.param("try:\n    1 / 0\nexcept Exception as e:\n    c = e.__context__", id="context"),
    pytest.param("try:\n    1 / 0\nexcept Exception as e:\n    t = getattr(e, 'with_traceback')", id="exc-method"),
    pytest.param("g = (x for x in [1])\nf = g.gi_frame", id="gi_frame"),
    pytest.param("g = (x for x in [1])\nf = getattr(g, 'gi_frame')", id="getattr-gi_frame"),
    pytest.param("x = '{0.__class__}'.format(1)", id="format-attribute"),
    pytest.param("f = str.format\nx = f('{0.__class__}', 1)", id="unbound-format"),
    pytest.param("x = string.Formatter", id="string-formatter"),
    pytest.param("classes = KeyError.mro()\ntop = classes[-2]", id="mro-to-BaseException"),
])
def test_exception_and_interpreter_objects_are_not_reachable(env, script):
    with pytest.raises((SandboxViolation, AttributeError)) as info:
        env.execute(script, {})
    if isinstance(info.value, AttributeError):  # a fresh error that carries no object
        assert getattr(info.value, "obj", None) is None


def test_exception_args_still_work(env):
    data = {}
    env.execute("try:\n    {}['k']\nexcept KeyError as e:\n    missing = e.args[0]", data)
    assert data["missing"] == "k"


# -- a runaway never stalls another thread --------------------------------------------------------------

def test_concurrent_evaluation_answers_while_a_runaway_runs(pool):
    hostile = IsolatedEnvironment(time_limit=3.0, pool=pool)
    friendly = IsolatedEnvironment(time_limit=3.0, pool=pool)
    order: list[str] = []
    started = threading.Event()

    def runaway():
        started.set()
        try:
            hostile.execute("rows = [[1] * 1000] * 50000\nflat = sum(rows, [])", {})
        except ScriptTimeout:
            order.append("runaway stopped")

    thread = threading.Thread(target=runaway)
    thread.start()
    started.wait()
    data = {"a": 2}
    friendly.execute("b = a * 21", data)  # a worker round trip (another worker)
    assert friendly.evaluate("b == 42 and a > 1", data) is True  # in process
    order.append("friendly answered")
    thread.join(timeout=60)
    assert order == ["friendly answered", "runaway stopped"]


@pytest.mark.parametrize("script, message", [
    ("x = []\nfor i in range(1000):\n    x = [x]", "nested more than"),
    ("x = []\nx.append(x)", "contains itself"),
    ("x = [[{'k': {1, 2}}]]", "x[0][0]['k'] is a set"),
])
def test_data_that_json_cannot_hold_is_named(env, script, message):
    from engine.sandbox import NonJsonData

    with pytest.raises(NonJsonData) as info:
        env.execute(script, {})
    assert message in str(info.value)


def test_scripts_in_the_worker_read_the_engine_clock(env):
    """A step happens at one instant, the engine's: tests (and the scheduler) may move it."""
    from datetime import date, datetime, timezone

    import time_machine

    frozen = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)
    with time_machine.travel(frozen, tick=False):
        data = {"then": datetime(2020, 1, 1)}
        env.execute("now = datetime.now(timezone.utc)\ntoday = date.today()\nok = isinstance(then, datetime)", data)
    assert data["now"] == frozen
    assert data["today"] == date(2027, 1, 4)
    assert data["ok"] is True
