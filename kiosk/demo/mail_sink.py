"""The demo's SMTP server: it accepts every mail on 127.0.0.1 and saves it as a .eml file.

Run it with `python -m kiosk.demo.mail_sink --port 8025 --directory instance/demo-mail`,
then read the mails at /demo/courriels. It delivers nothing anywhere.
"""

import argparse
import logging
import os
import signal
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

from aiosmtpd.controller import Controller

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"


class EmlDirectoryHandler:
    """An aiosmtpd handler that writes each message, as received, to a file of its own."""

    def __init__(self, directory: Path):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        try:
            path = self.save(envelope.original_content)
        except OSError:
            logger.exception("Failed to save the mail from %s in %s", envelope.mail_from, self.directory)
            # A 4xx reply is temporary, so the kiosk keeps the mail pending and retries it.
            return "451 Requested action aborted: local error in processing"
        logger.info(
            "Received mail from %s to %s (%d bytes), saved as %s",
            envelope.mail_from, ", ".join(envelope.rcpt_tos), len(envelope.original_content), path.name,
        )
        return "250 Message accepted for delivery"

    def save(self, raw_message: bytes) -> Path:
        """Write the message to <UTC time>-<random>.eml through a temporary file.

        The rename is atomic, so a reader of the directory never gets half a mail.
        """
        received_at = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{received_at}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(raw_message)
        path = self.directory / name
        os.replace(partial, path)
        return path


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="SMTP server for the demo that keeps each mail as a .eml file.")
    parser.add_argument(
        "--port", type=int, default=8025, help="TCP port to listen on, on 127.0.0.1 (default: 8025).",
    )
    parser.add_argument(
        "--directory", type=Path, default=Path("instance/demo-mail"),
        help="Directory the .eml files are written to, created if missing (default: instance/demo-mail).",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiosmtpd logs every SMTP command at INFO. Keep its warnings only, because handle_DATA logs one line per mail.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    arguments = parse_arguments(argv)
    arguments.directory.mkdir(parents=True, exist_ok=True)

    stop_requested = threading.Event()

    def request_stop(signal_number, _frame):
        logger.info("Received %s, stopping", signal.Signals(signal_number).name)
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    controller = Controller(EmlDirectoryHandler(arguments.directory), hostname=HOST, port=arguments.port)
    try:
        controller.start()
    except OSError as error:
        logger.error(
            "Failed to listen on %s:%d: %s. Stop the program using that port or pass another --port.",
            HOST, arguments.port, error,
        )
        raise SystemExit(1) from error
    logger.info(
        "Demo SMTP sink listening on %s:%d, saving mails to %s", HOST, arguments.port, arguments.directory,
    )
    try:
        stop_requested.wait()
    finally:
        controller.stop()
        logger.info("Demo SMTP sink stopped")


if __name__ == "__main__":
    main()
