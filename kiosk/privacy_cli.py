"""`flask --app kiosk purge-personal-data`: delete the personal data older than the retention."""

import click
from flask import current_app

from .database import use_immediate_transactions
from .extensions import db
from .services import clock
from .services.personal_data import first_retained_year, purge_personal_data


@click.command("purge-personal-data")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted, then roll back and delete nothing.")
def purge_personal_data_command(dry_run: bool) -> None:
    """Delete personal data older than KIOSK_RETENTION_YEARS, in one transaction.

    Removes IPs (with their versions and selections), IAs and owed elements of the academic
    years before the retention, the outbox mails and audit entries about students from before
    those years, and the students who have no IA in a kept year, with everything about them.
    """
    retention_years = current_app.config["KIOSK_RETENTION_YEARS"]
    if retention_years < 1:
        raise click.ClickException(
            f"KIOSK_RETENTION_YEARS is {retention_years}: set it to 1 or more "
            "(the number of academic years kept besides the current one)."
        )
    current_year = clock.current_year()
    oldest_year = first_retained_year(current_year, retention_years)

    use_immediate_transactions()
    counts = purge_personal_data(current_year, retention_years)
    if dry_run:
        db.session.rollback()
        click.echo(f"Dry run: nothing deleted. Would delete, before {clock.year_label(oldest_year)}:")
    else:
        db.session.commit()
        click.echo(f"Deleted, before {clock.year_label(oldest_year)}:")
    for line in counts.as_lines():
        click.echo(f"  {line}")
