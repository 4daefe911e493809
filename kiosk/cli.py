"""Command-line tools: `flask --app kiosk send-mail`, `load-demo`."""

import logging

import click
from flask import Flask

from .database import use_immediate_transactions
from .extensions import db
from .privacy_cli import purge_personal_data_command
from .reminders_cli import remind_command

logger = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.cli.add_command(send_mail_command)
    app.cli.add_command(load_demo_command)
    app.cli.add_command(create_staff_command)
    from .transfers_cli import register; register(app)
    app.cli.add_command(translations_command)
    app.cli.add_command(purge_personal_data_command)
    app.cli.add_command(remind_command)


@click.command("send-mail")
@click.option("--limit", default=500, show_default=True, help="Maximum number of mails to send in this run.")
def send_mail_command(limit: int) -> None:
    """Send pending mails of the outbox, retrying those that failed before."""
    from .services.outbox import send_pending

    use_immediate_transactions()
    sent, failed = send_pending(limit=limit)
    click.echo(f"{sent} mail(s) sent, {failed} failed and left pending.")
    if failed:
        raise SystemExit(1)


@click.command("load-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing, successfully, when the database already holds a VET.")
def load_demo_command(if_empty: bool) -> None:
    """Load the demo programmes, campaigns and students into an empty database."""
    from .demo import DatabaseNotEmptyError, load_demo
    from .services import clock

    use_immediate_transactions()
    try:
        personas = load_demo(clock.utcnow(), clock.current_year())
    except DatabaseNotEmptyError as error:
        db.session.rollback()
        if if_empty:
            click.echo("The database already holds data; the demo data was not loaded again.")
            return
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Demo data loaded; {len(personas)} demo personas, for example {personas[0][0]}.")


@click.command("create-staff")
@click.argument("login")
@click.option("--name", "display_name", help="Name shown in the console and the audit trail (default: the login).")
@click.option("--admin", "is_admin", is_flag=True, help="Let this account see and change every CIP.")
@click.option("--cip", "cip_codes", multiple=True, help="Code of a CIP the account manages; repeat for several.")
@click.password_option(help="Password for the local login (prompted twice when omitted).")
def create_staff_command(login: str, display_name: str | None, is_admin: bool, cip_codes: tuple[str, ...], password: str) -> None:
    """Create a staff account with a local password."""
    from sqlalchemy import select

    from .models import Cip, StaffUser

    use_immediate_transactions()
    if db.session.scalar(select(StaffUser).where(StaffUser.login == login)) is not None:
        raise click.ClickException(f"A staff account named {login!r} already exists.")
    cips = []
    for code in cip_codes:
        cip = db.session.scalar(select(Cip).where(Cip.code == code))
        if cip is None:
            raise click.ClickException(f"CIP {code!r} not found; check the code (3 characters).")
        cips.append(cip)
    staff = StaffUser(login=login, display_name=display_name or login, is_admin=is_admin, cips=cips)
    staff.set_password(password)
    db.session.add(staff)
    db.session.commit()
    click.echo(f"Staff account {login} created{' (administrator)' if is_admin else ''}.")


@click.command("translations")
@click.option("--update", is_flag=True, help="Extract the messages again and merge them into the catalogs first.")
def translations_command(update: bool) -> None:
    """Compile the translation catalogs (kiosk/translations/*/LC_MESSAGES/messages.po)."""
    from .i18n import compile_catalogs, update_catalogs

    if update:
        update_catalogs()
    click.echo(f"{compile_catalogs()} catalog(s) compiled.")
