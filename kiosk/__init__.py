"""Kiosque IP: the web kiosk where students do their inscription pédagogique."""

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, session

from .config import DefaultConfig, environment_overrides
from .extensions import babel, csrf, db, mail, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def select_locale() -> str:
    """Use the language the student chose, French otherwise (and outside requests, as in the CLI)."""
    from flask import current_app, has_request_context

    chosen = session.get("locale") if has_request_context() else None
    return chosen if chosen in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_object(DefaultConfig)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.update(environment_overrides())
    else:
        app.config.update(test_config)

    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'kiosk.sqlite'}"
    if not app.config["SECRET_KEY"]:
        raise RuntimeError(
            "SECRET_KEY is missing: set it in instance/config.py or in KIOSK_SECRET_KEY "
            "(for example with: python -c 'import secrets; print(secrets.token_hex(32))')."
        )

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    mail.init_app(app)

    from .database import configure_engine

    with app.app_context():
        configure_engine(db.engine)

    from . import cli, models, security, session_guard, web  # noqa: F401  (models register their tables)
    from .admin import admin_blueprint
    from .student import student_blueprint

    app.register_blueprint(student_blueprint)
    app.register_blueprint(admin_blueprint, url_prefix="/gestion")
    if app.config["KIOSK_DEMO_LOGIN"]:
        from .demo.mailbox import demo_mailbox

        app.register_blueprint(demo_mailbox)
    web.init_app(app)
    # After the blueprints: the rate limits wrap their views, and the idle check goes before CSRF's.
    security.init_app(app)
    session_guard.init_app(app)
    cli.init_app(app)

    if app.config["KIOSK_MAX_IN_FLIGHT"]:
        from .overload import OverloadGuard

        app.wsgi_app = OverloadGuard(app.wsgi_app, int(app.config["KIOSK_MAX_IN_FLIGHT"]))
    hops = int(app.config["KIOSK_PROXY_HOPS"])
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Trust that many proxies' X-Forwarded-For/-Proto/-Host: the CAS service URL, the Secure
        # cookie and the rate limits per address then see the browser's side of the proxy.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app


def generate_secret_key() -> str:
    return secrets.token_hex(32)
