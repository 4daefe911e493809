"""CAS 3.0 single sign-on of the ENT, through python-cas.

python-cas builds the login and logout URLs and reads the p3/serviceValidate response. This
module adds a timeout to the validation request, turns failures into two exceptions that the
routes show as pages, and reads the attributes that identify a student or a staff member.

The kiosk's own log lines never contain a ticket, because an unused ticket lets its holder log
in. NOTE: at DEBUG level, urllib3 logs the validation URL and python-cas the CAS response, both
of which may contain the ticket, so keep the "urllib3" and "cas" loggers at INFO or above.
"""

import logging
from dataclasses import dataclass
from urllib.parse import quote
from xml.etree.ElementTree import ParseError

import requests
from cas import CASClient, CASClientV3
from flask import current_app
from requests.adapters import HTTPAdapter

logger = logging.getLogger(__name__)


class CasUnavailable(Exception):
    """Raised when the CAS server cannot be reached, times out, or returns no readable CAS response."""


class TicketRejected(Exception):
    """Raised when the CAS server rejects a ticket that is forged, expired, already used, or for another service."""


@dataclass(frozen=True)
class CasUser:
    """A user whose ticket the CAS server validated, with every attribute as a list of values."""

    name: str
    attributes: dict[str, list[str]]

    def values(self, attribute: str | None) -> list[str]:
        return self.attributes.get(attribute, []) if attribute else []


class TimeoutAdapter(HTTPAdapter):
    """An HTTP adapter that applies a timeout to requests sent without one.

    python-cas 1.7 calls session.get() without a timeout, so a silent CAS server would hold the
    request's worker forever. The session given to python-cas mounts this adapter to prevent it.
    """

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def send(self, request, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def is_enabled() -> bool:
    return bool(current_app.config["KIOSK_CAS_SERVER_URL"])


def server_url() -> str:
    # python-cas resolves "login", "logout" and "p3/serviceValidate" with urljoin, which drops a
    # last path segment without a trailing slash, so ".../cas" would lose "cas".
    return current_app.config["KIOSK_CAS_SERVER_URL"].rstrip("/") + "/"


def make_client(service_url: str, session: requests.Session | None = None) -> CASClientV3:
    return CASClient(version=3, service_url=service_url, server_url=server_url(), session=session)


def login_url(service_url: str) -> str:
    return make_client(service_url).get_login_url()


def logout_url(return_url: str) -> str:
    """Return the URL of the CAS logout, which then sends the browser on to return_url."""
    return make_client(return_url).get_logout_url(return_url)


def make_http_session() -> requests.Session:
    session = requests.Session()
    adapter = TimeoutAdapter(current_app.config["KIOSK_CAS_TIMEOUT"])
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def validate_ticket(ticket: str, service_url: str) -> CasUser:
    """Validate a service ticket with the CAS server and return its user.

    The timeout (KIOSK_CAS_TIMEOUT) bounds the connection and each read, not the whole exchange.
    Raise TicketRejected when the server rejects the ticket, CasUnavailable when no CAS response
    could be read.
    """
    with make_http_session() as http:
        client = make_client(service_url, session=http)
        try:
            name, attributes, _proxy_ticket_iou = client.verify_ticket(ticket)
        except requests.RequestException as error:
            reason = without_ticket(str(error), ticket)
            logger.error("CAS ticket validation at %s failed: %s", server_url(), reason)
            raise CasUnavailable(reason) from error
        except (ParseError, IndexError, AttributeError) as error:
            # python-cas raises these on a response that is not a CAS XML document.
            logger.error("CAS server %s returned an unreadable validation response: %r", server_url(), error)
            raise CasUnavailable("unreadable CAS response") from error
    if not name:
        logger.warning("CAS server rejected a service ticket for %s", service_url)
        raise TicketRejected()
    return CasUser(name=name, attributes=as_value_lists(attributes))


def without_ticket(text: str, ticket: str) -> str:
    """Remove the ticket from an error message, because requests repeats the URL in it."""
    return text.replace(quote(ticket, safe=""), "[ticket]").replace(ticket, "[ticket]")


def as_value_lists(attributes: dict | None) -> dict[str, list[str]]:
    """Return the attributes with every value in a list, because python-cas returns a single value as a string."""
    value_lists = {}
    for name, value in (attributes or {}).items():
        values = value if isinstance(value, list) else [value]
        value_lists[name] = [item for item in values if item]
    return value_lists


def student_number(user: CasUser) -> str:
    """Return the student number released by CAS, or the CAS user name when there is none."""
    numbers = user.values(current_app.config["KIOSK_CAS_STUDENT_NUMBER_ATTRIBUTE"])
    return numbers[0] if numbers else user.name


def has_staff_affiliation(user: CasUser) -> bool:
    granted = set(current_app.config["KIOSK_CAS_STAFF_VALUES"])
    return not granted.isdisjoint(user.values(current_app.config["KIOSK_CAS_STAFF_ATTRIBUTE"]))
