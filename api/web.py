"""Staff web pages: server-rendered shells whose vanilla JavaScript calls the REST API (same origin, session
cookie). No data is rendered on the server: every page reads what it shows from /api, so what a user sees is
exactly what the API lets them see. Vendored libraries (api/static/vendor/) carry their licences."""
from __future__ import annotations

from flask import Blueprint, make_response, render_template, session

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")

#: scripts only from this origin; inline styles are needed by json-editor and bpmn-js (they set style attributes)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def render_page(template: str, csp: str = CSP, **context):
    """A page of any of the blueprints (staff, studio, audit, admin) with the headers every page carries."""
    response = make_response(render_template(template, **context))
    response.headers.update({"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
                             "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})
    return response


def _page(template: str, **context):
    # whether a session cookie names a user: a signed-out visitor's page does not ask /api/me (a 401 in the console)
    context.setdefault("signed_in", bool(session.get("sid") or session.get("username")))
    return render_page(f"web/{template}", **context)


@bp.get("/")
def inbox():
    """Sign-in, then the inbox."""
    return _page("inbox.html", page="inbox")


@bp.get("/tasks/<task_id>")
def task(task_id: str):
    """A task: its form, rendered from the form's JSON Schema, and Submit."""
    return _page("task.html", page="task", task_id=task_id)


@bp.get("/cases")
def cases():
    """The cases the user may see, filtered by status and searched by business key."""
    return _page("cases.html", page="cases")


@bp.get("/cases/<case_id>")
def case(case_id: str):
    """A case: status, documents, comments, diagram with what is done, and its history."""
    return _page("case.html", page="case", case_id=case_id)


@bp.get("/start")
def start():
    """What the user may start (an application) or send (a change notification), from the diagrams."""
    return _page("start.html", page="start")


@bp.get("/schedule")
def schedule():
    """What is coming: surveillance audits, annual reports, renewals, expiries, deadlines; a for-cause audit."""
    return _page("schedule.html", page="schedule")
