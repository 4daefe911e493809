"""Staff accounts: gestionnaires see the CIPs they are attached to, administrators see all."""

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .structure import Cip

staff_cip = Table(
    "staff_cip",
    db.metadata,
    Column("staff_id", ForeignKey("staff_user.id"), primary_key=True),
    Column("cip_id", ForeignKey("cip.id"), primary_key=True),
)


class StaffUser(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # None: CAS login only
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)

    cips: Mapped[list[Cip]] = relationship(secondary=staff_cip, order_by="Cip.code")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return self.password_hash is not None and check_password_hash(self.password_hash, password)

    def can_manage(self, cip_id: int) -> bool:
        return self.is_admin or any(cip.id == cip_id for cip in self.cips)
