"""`flask --app kiosk remind`: the scheduled reminders, run by cron once or more a day."""

import click

from . import transaction
from .database import use_immediate_transactions


@click.command("remind")
@click.option(
    "--days-before", "days_before", type=click.IntRange(min=0), multiple=True,
    help="Send reminders for each open campaign that closes this many days from today (Paris dates). "
         "Repeat for several values; the default is 7 and 2.",
)
def remind_command(days_before: tuple[int, ...]) -> None:
    """Remind the eligible students who have not finished their IP, at most once a day per campaign."""
    from .services import clock
    from .services.followup import make_scope
    from .services.reminders import DEFAULT_DAYS_BEFORE, campaigns_due, run_scheduled_reminders

    use_immediate_transactions()
    days = set(days_before or DEFAULT_DAYS_BEFORE)
    now = clock.utcnow()
    due = campaigns_due(now, days)
    if not due:
        click.echo(f"No open campaign closes in {', '.join(str(day) for day in sorted(days))} day(s); nothing sent.")
        return
    for campaign, days_left in due:
        heading = f"Campaign {campaign.code} (closes in {days_left} day(s))"
        outcome = run_scheduled_reminders(make_scope(campaign), days_left, now)
        transaction.commit()
        if outcome.sent_count is None:
            click.echo(f"{heading}: already reminded today; nothing sent.")
        else:
            click.echo(f"{heading}: {outcome.sent_count} reminder(s) queued.")
