"""The membership application ("Become a Member")."""
from __future__ import annotations


def test_member_approved_after_information_request(drive):
    case = drive.start("membership")
    drive.do(case.id, "membership_application", "alice")
    drive.do(case.id, "membership_review", "carol", membership_decision="request_info",
             membership_comment="Which institution?")
    drive.do(case.id, "membership_application", "alice", member_category="institutional",
             institution="North Cell Lab")
    drive.do(case.id, "membership_review", "carol")
    case = drive.do(case.id, "record_dues", "carol")
    assert case.status == "completed"
    assert case.data["member_number"].startswith("MEM-") and case.data["membership_active"] is True


def test_member_declined(drive):
    case = drive.start("membership")
    drive.do(case.id, "membership_application", "alice")
    case = drive.do(case.id, "membership_review", "carol", membership_decision="decline",
                    membership_comment="Outside scope")
    assert (case.status, case.outcome) == ("completed", "membership_declined")
