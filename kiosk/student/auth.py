"""The logged-in student, kept in the signed session cookie (no server-side state)."""

import functools

from flask import redirect, session, url_for

from ..extensions import db
from ..models import Student


def log_in(student: Student, method: str) -> None:
    """Start a fresh session for the student, dropping whatever the previous user left.

    A language chosen before logging in is kept and stored on the student, for the next
    sessions and the mails. Without one, the language stored earlier applies. The caller commits.
    """
    locale = session.get("locale") or student.locale
    session.clear()
    session["student_id"] = student.id
    session["login_method"] = method
    if locale:
        session["locale"] = locale
        student.locale = locale


def log_out() -> None:
    session.clear()


def current_student() -> Student | None:
    """Return the logged-in student; the session's identity map makes repeated calls free."""
    student_id = session.get("student_id")
    return db.session.get(Student, student_id) if student_id else None


def student_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_student() is None:
            return redirect(url_for("student.login"))
        return view(*args, **kwargs)

    return wrapped
