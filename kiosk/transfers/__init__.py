"""Files exchanged with the information system: CSV imports of each kind and CSV exports.

An importer class per kind (structure, students, records, groups) reads one file format.
imports.py runs an importer in a single call for the command line, and jobs.py runs it in
steps for the console, which shows the progress. exports.py writes the files sent back.
"""

from .base import Importer
from .groups import GroupImporter
from .lists import LinkImporter, LseImporter, LseMemberImporter
from .records import AcquiredImporter, BlockImporter, OwedImporter
from .structure import CipImporter, ElpImporter, NatureImporter, VetImporter
from .students import StudentImporter

# In the order a new installation loads them: each kind refers only to kinds above it.
IMPORTERS: dict[str, type[Importer]] = {
    importer.kind: importer
    for importer in (
        CipImporter, NatureImporter, VetImporter, ElpImporter, LseImporter, LseMemberImporter, LinkImporter,
        StudentImporter, BlockImporter, AcquiredImporter, OwedImporter, GroupImporter,
    )
}
