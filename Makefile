# The two commands of the README: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app backend.app:create_app
PG_TEST_URL ?= $(or $(TEST_DATABASE_URL),postgresql+psycopg://postgres@127.0.0.1:5432/credit_test)
DEMO_ENTERPRISES ?= 2000
HOST ?= 127.0.0.1
PORT ?= 5000
# The demo's WeChat is the fake server on loopback (miniprogram_api/fake_wechat.py), never the real one.
FAKE_WECHAT_PORT ?= 8901
DEMO_WECHAT := WECHAT_API_BASE_URL=http://127.0.0.1:$(FAKE_WECHAT_PORT) \
	WECHAT_MP_APPID=wxdemo000000000mp WECHAT_MP_SECRET=demo-mp-secret

.PHONY: install demo demo-data serve test test-sqlite test-postgres lint bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

demo: install
	$(FLASK) db upgrade
	$(FLASK) credit demo-data --enterprises $(DEMO_ENTERPRISES) --seed 2026 --if-empty
	@echo
	@echo "  信用金昌 demo:   http://$(HOST):$(PORT)/"
	@echo "  public query:    http://$(HOST):$(PORT)/api/v1/subjects?q=金川"
	@echo "  API docs:        http://$(HOST):$(PORT)/docs"
	@echo "  staff console:   http://$(HOST):$(PORT)/admin/"
	@$(FLASK) credit demo-accounts
	@echo
	@echo "  fake WeChat:     http://127.0.0.1:$(FAKE_WECHAT_PORT)/__fake__/state (mini-program API at /api/mp/v1)"
	@$(DEMO_WECHAT) $(FLASK) wechat fake-server --port $(FAKE_WECHAT_PORT) & FAKE=$$!; \
		trap 'kill $$FAKE' EXIT; \
		$(DEMO_WECHAT) $(FLASK) wechat demo-flow --base-url http://127.0.0.1:$(FAKE_WECHAT_PORT) && \
		$(DEMO_WECHAT) $(FLASK) run --host $(HOST) --port $(PORT)

test: lint test-sqlite test-postgres

lint: install
	$(VENV)/bin/ruff check .

test-sqlite: install
	TEST_DATABASE_URL= $(PY) -m pytest

# PostgreSQL: always in CI (it must be reachable there); locally when the server answers.
test-postgres: install
	@if $(PY) tests/ensure_pg.py "$(PG_TEST_URL)"; then \
		echo "== test suite on PostgreSQL =="; \
		TEST_DATABASE_URL="$(PG_TEST_URL)" $(PY) -m pytest; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL is required in CI and is not reachable" >&2; exit 1; \
	else \
		echo "PostgreSQL not reachable: the PostgreSQL run was not done (CI requires it)"; \
	fi

# BENCH_ARGS: options of bench/run.py, e.g. BENCH_ARGS="--soak-seconds 60" (bench/README.md).
# Both databases (SQLite, then PostgreSQL's credit_bench); wrk, the load generator, is installed
# from Debian when missing and apt-get is usable.
bench: install
	@command -v wrk >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } || \
		echo "wrk is missing and could not be installed: the HTTP load benchmarks will say NOT RUN"
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .coverage
