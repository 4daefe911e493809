"""Serve the demo: the SMTP sink in a child process, then the kiosk on http://127.0.0.1:5000.

`make demo` runs this after the database and the demo data are in place. Ctrl-C stops both.
"""

import argparse
import logging
import subprocess
import sys

from kiosk import create_app

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the Kiosque IP demo with its mail sink.")
    parser.add_argument("--port", type=int, default=5000, help="HTTP port on 127.0.0.1 (default: 5000).")
    parser.add_argument("--smtp-port", type=int, default=8025, help="Port of the demo SMTP sink (default: 8025).")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    app = create_app()
    mail_directory = app.config.get("KIOSK_DEMO_MAIL_DIR") or f"{app.instance_path}/demo-mail"
    sink = subprocess.Popen([
        sys.executable, "-m", "kiosk.demo.mail_sink",
        "--port", str(arguments.smtp_port), "--directory", mail_directory,
    ])
    print(
        f"\n  Kiosque IP demo: http://127.0.0.1:{arguments.port}/\n"
        f"  Mails sent by the kiosk: http://127.0.0.1:{arguments.port}/demo/courriels"
        f" (files in {mail_directory})\n  Stop with Ctrl-C.\n",
        flush=True,
    )
    try:
        app.run(host="127.0.0.1", port=arguments.port, debug=False, use_reloader=False)
    finally:
        sink.terminate()
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()
