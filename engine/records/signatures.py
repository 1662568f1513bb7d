"""Electronic signatures (21 CFR Part 11 §11.50, §11.70, §11.100, §11.200; EU GMP Annex 11 §14).

A user task whose diagram sets the property ``signatureMeaning`` (``authorship``, ``review``, ``approval``)
is a signature step. Completing it:

1. the caller re-verifies the signer's password (:func:`verify_signer` — two components: the identified
   user of the session/token plus the re-entered password; failures are system events and are throttled);
2. the engine (:meth:`engine.cases.services.Engine.complete_task` with ``signature=``) refuses the task without a
   signature, then builds the signature record (:func:`build`): printed name, username, UTC time, meaning,
   and the SHA-256 of the canonical JSON of ``{case_id, task_id, element_id, data}`` — the exact submitted
   data it signs;
3. the record is stored inside the ``task.completed`` event (``data.signature``): append-only and
   hash-chained like every event, shown with the history, ``GET /api/cases/{id}/signatures`` and exports.
"""
from __future__ import annotations

from datetime import datetime

from . import chain, history
from engine.actors import Actor
from engine.errors import InvalidFormData
from engine.storage.models import utcnow

MEANINGS = ("authorship", "review", "approval")
#: how the signer was re-identified; the engine only accepts what a caller can have checked
METHODS = ("password",)


def binding_digest(case_id: str, task_id: str, element_id: str, data: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of what is signed: the case, the task and the submitted data."""
    return chain.sha256_hex({"case_id": case_id, "task_id": task_id, "element_id": element_id,
                             "data": history.jsonable(data)})


def build(meaning: str | None, signature: dict | None, actor: Actor, *, case_id: str, task_id: str,
          element_id: str, element_name: str | None, data: dict, at: datetime | None = None) -> dict | None:
    """The signature record for completing a task, or None for a task that is not a signature step.

    Raises InvalidFormData when a signature step comes without a signature, a signature comes for a task that
    is no signature step, the method is unknown, or the meaning the signer confirmed is not the task's."""
    label = element_name or element_id
    if not meaning:
        if signature is not None:
            raise InvalidFormData(f"task '{label}' is not a signature step",
                                  [{"field": "/signature", "message": "this task takes no signature"}])
        return None
    if not isinstance(signature, dict) or signature.get("method") not in METHODS:
        raise InvalidFormData(f"task '{label}' is an electronic signature ({meaning}): it completes only when "
                              "the signer re-enters the password",
                              [{"field": "/signature/password", "message": "is required"}], meaning=meaning)
    confirmed = signature.get("meaning")
    if confirmed is not None and confirmed != meaning:
        raise InvalidFormData(f"the meaning of this signature is '{meaning}', not '{confirmed}'",
                              [{"field": "/signature/meaning", "message": f"must be '{meaning}'"}])
    return {"printed_name": actor.printed_name, "username": actor.username,
            "signed_at": chain.iso_utc(at or utcnow()), "meaning": meaning, "method": signature["method"],
            "element_id": element_id, "element_name": element_name,
            "data_sha256": binding_digest(case_id, task_id, element_id, data)}


def verify_signer(identity, actor: Actor, password: str | None, *, case_id: str, task_id: str, element_id: str,
                  meaning: str) -> dict:
    """Re-check the signer's password before a signature step. Returns the ``signature`` argument for
    :meth:`Engine.complete_task`. A wrong password is recorded (``signature.failed``) and raises
    AuthenticationFailed; too many recent failures raise TooManyAttempts (``signature.throttled``)."""
    if not password:
        raise InvalidFormData(f"this task is an electronic signature ({meaning}): re-enter your password",
                              [{"field": "/signature/password", "message": "is required"}], meaning=meaning)
    details = {"case_id": case_id, "task_id": task_id, "element_id": element_id, "meaning": meaning}
    # counted before the password is checked, so parallel attempts are held to the limit (engine/users/throttle.py)
    identity.check_signature_password(actor.username, password, details)
    return {"method": "password", "meaning": meaning}
