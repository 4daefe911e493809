"""Demo data: programme structures of real programmes, campaigns and an invented cohort.

Run it with `flask --app kiosk load-demo` on an empty database, or call load_demo.
"""

from .load import DatabaseNotEmptyError, load_demo

__all__ = ["DatabaseNotEmptyError", "load_demo"]
