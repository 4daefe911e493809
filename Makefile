# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app kiosk
DEMO_SMTP_PORT ?= 8025

.PHONY: demo test test-postgresql venv instance db demo-data mail-sink clean-demo chromium translations bench

$(BIN)/activate: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $(BIN)/activate

venv: $(BIN)/activate

# The browser tests drive Debian's Chromium; as root, install it when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Chromium is missing: run 'sudo apt-get install chromium' (the browser tests need it)." >&2; exit 1; fi; }

# Compiled catalogs (.mo) are not tracked: they are built from the .po files.
translations: venv
	$(BIN)/python -c "from kiosk.i18n import compile_catalogs; compile_catalogs()"

# A local instance/config.py with a fresh secret key and the demo login switched on.
instance/config.py:
	mkdir -p instance
	$(PYTHON) -c "import secrets; print('SECRET_KEY = \"' + secrets.token_hex(32) + '\"'); print('KIOSK_DEMO_LOGIN = True'); print('MAIL_PORT = $(DEMO_SMTP_PORT)')" > $@

instance: instance/config.py

db: venv instance
	$(FLASK) db upgrade

demo-data: db
	$(FLASK) load-demo --if-empty

# The demo's SMTP sink keeps every mail as a file in instance/demo-mail (read them at /demo/courriels).
mail-sink: venv
	$(BIN)/python -m kiosk.demo.mail_sink --port $(DEMO_SMTP_PORT) --directory instance/demo-mail

demo: demo-data translations
	$(BIN)/python -m kiosk.demo.serve --smtp-port $(DEMO_SMTP_PORT)

test: venv chromium translations
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The same tests on PostgreSQL (each run works in a schema of its own, dropped at the end).
POSTGRESQL_URL ?= postgresql+psycopg://root@127.0.0.1:5432/test
test-postgresql: venv chromium translations
	KIOSK_TEST_DATABASE_URL=$(POSTGRESQL_URL) $(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean-demo:
	rm -f instance/kiosk.sqlite instance/kiosk.sqlite-wal instance/kiosk.sqlite-shm
	rm -rf instance/demo-mail

# The load benchmark (minutes, loopback only): writes docs/benchmarks.md. Not part of `make test`.
bench: venv translations
	$(BIN)/python bench/run.py $(BENCH_ARGS)
