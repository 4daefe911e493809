"""Command-line imports and exports: `flask --app kiosk import KIND FILE`, `flask --app kiosk export KIND`.

Their output is in French, like the row messages the importers write for the console.
"""

from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from . import transaction
from .database import use_immediate_transactions
from .extensions import db
from .models import Vet
from .services import clock
from .transfers import IMPORTERS
from .transfers.base import ImportRejected
from .transfers.cells import RowIssue
from .transfers.exports import EXPORT_KINDS, export_groups, export_ips
from .transfers.imports import import_file


def register(app: Flask) -> None:
    app.cli.add_command(import_command)
    app.cli.add_command(export_command)


def issue_text(issue: RowIssue) -> str:
    return f"Ligne {issue.line} : {issue.message}" if issue.line else issue.message


@click.command("import")
@click.argument("kind", type=click.Choice(list(IMPORTERS)))
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default="cli", show_default=True, help="Name recorded as the author of the import in the audit trail.")
def import_command(kind: str, path: Path, actor: str) -> None:
    """Import a CSV file of KIND: all its rows, or none if any row is invalid (see docs/import-formats.md)."""
    use_immediate_transactions()
    try:
        result = import_file(kind, path.read_bytes(), path.name, actor)
    except ImportRejected as rejected:
        db.session.rollback()
        for issue in rejected.issues:
            click.echo(issue_text(issue), err=True)
        raise click.ClickException(f"Rien n'a été importé : {len(rejected.issues)} problème(s) dans {path.name}.")
    transaction.commit()
    if result.ignored_columns:
        click.echo(f"Colonnes ignorées : {', '.join(result.ignored_columns)}.")
    click.echo(f"Import terminé, {result.row_count} ligne(s) : {result.counts.summary()}.")


@click.command("export")
@click.argument("kind", type=click.Choice(EXPORT_KINDS))
@click.option("--vet", "vet_key", metavar="CODE/VERSION", help="Export only this VET, e.g. L3AGE/201 (default: every VET).")
@click.option("--year", type=int, help="Academic year of the IPs, as the year it starts in (default: the current year).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: standard output).")
def export_command(kind: str, vet_key: str | None, year: int | None, output: Path | None) -> None:
    """Export the validated IPs ("ips") or the group lists ("groups") as a CSV file for French Excel."""
    vet = find_vet(vet_key) if vet_key else None
    if kind == "ips":
        data = export_ips(vet, year or clock.current_year())
    else:
        data = export_groups(vet)
    if output is None:
        click.echo(data, nl=False)
        return
    output.write_bytes(data)
    click.echo(f"{output} écrit ({len(data)} octets).", err=True)


def find_vet(vet_key: str) -> Vet:
    code, _separator, version = vet_key.partition("/")
    vet = db.session.scalar(select(Vet).where(Vet.code == code, Vet.version == version))
    if vet is None:
        raise click.BadParameter(f"VET {vet_key!r} introuvable ; écrivez-la CODE/VERSION, par exemple L3AGE/201.",
                                 param_hint="--vet")
    return vet
