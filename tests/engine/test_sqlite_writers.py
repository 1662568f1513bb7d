"""SQLite writers queue on an OS file lock before BEGIN IMMEDIATE (engine/storage/db.py, WriterQueue): a
blocked writer is woken when the holder releases it instead of polling in SQLite's busy handler, and a holder
that dies mid-transaction leaves neither that lock nor SQLite's behind."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa

from engine.storage.models import Organisation, utcnow

from ..servers import REPO, wait_for_output


def _queue_is_free(db) -> bool:
    fd = os.open(db.writers.path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_a_write_transaction_holds_the_writer_queue_and_a_read_does_not(db):
    assert db.writers is not None and db.writers.path.endswith("accredit.sqlite-writers.lock")
    with db.read():
        assert _queue_is_free(db)
    with db.write() as s:
        s.add(Organisation(id="lab-q", name="Q", created_at=utcnow()))
        assert not _queue_is_free(db)  # any other writer, of any process, waits here
    assert _queue_is_free(db)
    with pytest.raises(RuntimeError):
        with db.write():
            raise RuntimeError("rolled back")
    assert _queue_is_free(db)  # released on a rollback too


def test_a_writer_killed_in_the_middle_of_its_transaction_leaves_no_lock(db, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from engine.storage.db import Database
        from engine.storage.models import Organisation, utcnow
        db = Database({str(db.url)!r})
        with db.write() as s:
            s.add(Organisation(id="half-done", name="never committed", created_at=utcnow()))
            s.flush()
            print("holding", flush=True)
            signal.pause()
    """)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_output(holder, b"holding")
        assert not _queue_is_free(db)
    finally:
        holder.kill()
        holder.wait()
    with db.write() as s:  # neither the queue nor SQLite's lock is left behind
        s.add(Organisation(id="after", name="after", created_at=utcnow()))
    with db.read() as s:
        assert s.scalars(sa.select(Organisation.id).order_by(Organisation.id)).all() == ["after"]


def test_where_the_lock_file_cannot_be_made_writes_go_on_with_sqlites_own_lock_and_say_so_once(db, tmp_path,
                                                                                                caplog):
    db.writers.path = str(tmp_path / "no-such-directory" / "writers.lock")
    for i in range(3):
        with db.write() as s:
            s.add(Organisation(id=f"lab-{i}", name="x", created_at=utcnow()))
    assert db.writers.off
    assert [r.getMessage() for r in caplog.records].count(
        f"SQLite writer queue off ({db.writers.path}: [Errno 2] No such file or directory: "
        f"'{db.writers.path}'): SQLite's busy handler alone") == 1
    with db.read() as s:
        assert len(s.scalars(sa.select(Organisation.id)).all()) == 3


def test_a_write_inside_a_write_of_the_same_thread_does_not_wait_for_itself_in_the_queue(db):
    from engine.storage.db import Database

    other = Database(str(db.url))  # another object on the same file: the same queue
    try:
        with db.write():
            with other.writers.held():
                assert not _queue_is_free(db)
            assert not _queue_is_free(db)  # the outer transaction still holds it
        assert _queue_is_free(db)
    finally:
        other.dispose()


def test_commits_checkpoint_the_wal_every_4000_pages_not_every_1000(db):
    # SQLite's default (1,000 pages, ~40 completions) made a committing request copy the WAL back every few
    # dozen commits, the same inbox and history pages again each time; the WAL is copied back at 4,000
    with db.write() as s:
        s.execute(sa.text("CREATE TABLE filler (x BLOB)"))
    for _ in range(30):  # ~1,500 pages of WAL, one commit at a time
        with db.write() as s:
            s.execute(sa.text("INSERT INTO filler VALUES (zeroblob(200000))"))
    with db.engine.connect() as conn:
        busy, wal_pages, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    assert wal_pages > 1000  # no commit checkpointed (nor restarted the WAL) on the way
