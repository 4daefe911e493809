"""Import jobs: a file uploaded in the console, checked and imported by successive requests.

The job lives in the database, not in a process, so any host serving the console can run the
next step or show the progress.
"""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import Counts

JOB_STATUSES = ("checking", "importing", "done", "failed")


class ImportJob(db.Model):
    """An import in progress or finished.

    status "checking": rows up to checked_count were checked against the database;
    "importing": every row passed, the next step writes them all in one transaction;
    "done" or "failed": finished, and content is dropped. step_count increases with each step,
    so that of two requests for the same step only one runs it. report holds "issues" (a list
    of {"line", "message"}), "ignored_columns" and, once done, "counts".
    """

    __table_args__ = (
        CheckConstraint("status IN ('checking', 'importing', 'done', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    staff_login: Mapped[str] = mapped_column(String(80), index=True)
    status: Mapped[str] = mapped_column(String(10), default="checking")
    row_count: Mapped[int]
    checked_count: Mapped[int] = mapped_column(default=0)
    step_count: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)

    @property
    def is_running(self) -> bool:
        return self.status in ("checking", "importing")

    @property
    def issues(self) -> list[dict]:
        return self.report.get("issues", [])

    def counts_summary(self) -> str:
        """Return "3 créés, 0 modifiés, 1 inchangé" once the job is done."""
        return Counts(**self.report["counts"]).summary()
