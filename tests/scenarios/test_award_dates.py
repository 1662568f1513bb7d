"""Dates that agree: the expiry date recorded on an award is the date the expiry timer fires, for awards on
the 29th, 30th and 31st (and a leap day), computed from one clock in UTC — never the server's local date."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from .test_accreditation import to_committee, to_desk_review

# (award instant, expected expiry date, expected renewal-opens date). Kiritimati is UTC+14: its local
# date is already the next day at 10:30 UTC — the award must still carry the UTC date.
AWARDS = [
    (datetime(2027, 1, 29, 10, 30, tzinfo=timezone.utc), "2030-01-29", "2029-07-29"),
    (datetime(2027, 1, 30, 10, 30, tzinfo=ZoneInfo("Pacific/Kiritimati")), "2030-01-29", "2029-07-29"),
    (datetime(2027, 3, 30, 23, 30, tzinfo=timezone.utc), "2030-03-30", "2029-09-30"),
    (datetime(2027, 5, 31, 12, 0, tzinfo=timezone.utc), "2030-05-31", "2029-11-30"),
    (datetime(2028, 2, 29, 12, 0, tzinfo=timezone.utc), "2031-02-28", "2030-08-29"),
]


@pytest.mark.parametrize("at,expires_on,renewal_on", AWARDS, ids=lambda v: str(v)[:16])
def test_recorded_expiry_is_the_expiry_timer_due_date(drive, at, expires_on, renewal_on):
    case = to_desk_review(drive)
    to_committee(drive, case)
    drive.clock.move_to(at)
    case = drive.do(case.id, "committee_decision", "cody")
    assert case.data["award_date"] == at.astimezone(timezone.utc).date().isoformat()
    assert case.data["accreditation_expires_on"] == expires_on
    due = {item["kind"]: item["due_at"] for item in drive.engine.schedule(case_ids=[case.id])
           if item["kind"] in ("expiry", "renewal")}
    assert due["expiry"].date().isoformat() == expires_on
    assert due["renewal"].date().isoformat() == renewal_on
    # the timer fires on that date, not before
    expiry = due["expiry"] if due["expiry"].tzinfo else due["expiry"].replace(tzinfo=timezone.utc)
    drive.clock.move_to(expiry - timedelta(seconds=1))
    drive.engine.fire_due_timers()
    assert drive.case(case.id).status == "running"
    drive.clock.move_to(expiry + timedelta(seconds=1))
    drive.engine.fire_due_timers()
    assert drive.case(case.id).outcome == "ended_expired"
