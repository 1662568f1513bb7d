"""Sign-in and signature throttles hold under parallel requests: every attempt is counted (inserted) before
its password is verified, so N parallel guesses against a limit of 5 get exactly 5 checked — on a real SQLite
file and on real PostgreSQL, with real threads."""
from __future__ import annotations

import threading

import pytest

from engine.users.identity import MAX_FAILED_LOGINS, AuthenticationFailed, Identity, TooManyAttempts

PASSWORD = "correct-horse-battery"
PARALLEL = 20


def _parallel(fn, n=PARALLEL):
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one(i):
        barrier.wait()
        try:
            fn(i)
            result = "ok"
        except AuthenticationFailed:
            result = "checked"
        except TooManyAttempts:
            result = "throttled"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def _identity(database):
    ident = Identity(database)
    ident.create_organisation("lab-a", "Lab A")
    ident.create_user("alice", PASSWORD, ["applicant"], organisation_id="lab-a")
    return ident


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request):
    return request.getfixturevalue("db" if request.param == "sqlite" else "pg_db")


def test_parallel_wrong_passwords_are_held_to_the_limit(database):
    ident = _identity(database)
    outcomes = _parallel(lambda i: ident.authenticate("alice", f"guess-{i}", source="203.0.113.7"))
    assert len(outcomes) == PARALLEL
    assert outcomes.count("checked") == MAX_FAILED_LOGINS, outcomes
    assert outcomes.count("throttled") == PARALLEL - MAX_FAILED_LOGINS
    # and the right password from that source is refused too, until the window passes
    with pytest.raises(TooManyAttempts):
        ident.authenticate("alice", PASSWORD, source="203.0.113.7")
    assert ident.authenticate("alice", PASSWORD, source="10.0.0.9").username == "alice"


def test_parallel_wrong_signature_passwords_are_held_to_the_limit(database):
    ident = _identity(database)
    details = {"case_id": "c", "task_id": "t", "element_id": "sign", "meaning": "approval"}
    outcomes = _parallel(lambda i: ident.check_signature_password("alice", f"guess-{i}", details))
    assert outcomes.count("checked") == MAX_FAILED_LOGINS, outcomes
    assert outcomes.count("throttled") == PARALLEL - MAX_FAILED_LOGINS


def test_successful_sign_ins_do_not_count_against_the_limit(db):
    ident = _identity(db)
    for _ in range(MAX_FAILED_LOGINS * 2):
        assert ident.authenticate("alice", PASSWORD, source="10.0.0.9").username == "alice"


def test_argon2_runs_outside_any_transaction(db, monkeypatch):
    """While a password is hashed or verified, this request holds no database connection (so no lock others
    would wait for): a flood of failed sign-ins costs CPU, not other users' writes."""
    import engine.users.identity as identity_module

    ident = _identity(db)
    real = identity_module._hasher
    held: list[int] = []

    class Watching:
        def __getattr__(self, name):
            attr = getattr(real, name)
            if name in ("verify", "hash"):
                def watched(*args, **kwargs):
                    held.append(db.engine.pool.checkedout())
                    return attr(*args, **kwargs)
                return watched
            return attr

    monkeypatch.setattr(identity_module, "_hasher", Watching())
    with pytest.raises(AuthenticationFailed):
        ident.authenticate("alice", "wrong-password")
    with pytest.raises(AuthenticationFailed):
        ident.authenticate("nobody", "wrong-password")
    ident.authenticate("alice", PASSWORD)
    ident.create_user("bob", PASSWORD, ["coordinator"])
    with pytest.raises(AuthenticationFailed):
        ident.check_signature_password("alice", "wrong-password", {})
    assert len(held) == 5 and set(held) == {0}, held
