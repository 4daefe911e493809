# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app kiosk
DEMO_SMTP_PORT ?= 8025

.PHONY: demo test venv instance db demo-data mail-sink serve clean-demo translations

$(BIN)/activate: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $(BIN)/activate

venv: $(BIN)/activate

translations: venv
	$(BIN)/pybabel compile --use-fuzzy -d kiosk/translations -f >/dev/null 2>&1 || true

# A local instance/config.py with a fresh secret key and the demo login switched on.
instance/config.py:
	mkdir -p instance
	$(PYTHON) -c "import secrets; print('SECRET_KEY = \"' + secrets.token_hex(32) + '\"'); print('KIOSK_DEMO_LOGIN = True'); print('MAIL_PORT = $(DEMO_SMTP_PORT)')" > $@

instance: instance/config.py

db: venv instance
	$(FLASK) db upgrade

demo-data: db
	$(FLASK) demo-status >/dev/null 2>&1 || $(FLASK) load-demo

# The demo's SMTP sink keeps every mail as a file in instance/demo-mail (read them at /demo/courriels).
mail-sink: venv
	$(BIN)/python -m kiosk.demo.mail_sink --port $(DEMO_SMTP_PORT) --directory instance/demo-mail

demo: demo-data translations
	$(BIN)/python -m kiosk.demo.serve --smtp-port $(DEMO_SMTP_PORT)

test: venv translations
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean-demo:
	rm -f instance/kiosk.sqlite instance/kiosk.sqlite-wal instance/kiosk.sqlite-shm
	rm -rf instance/demo-mail
