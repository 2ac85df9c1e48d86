# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck install clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,emulators,charts]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/nexus demo examples

# tests/e2e/test_web_ui.py drives Debian's Chromium (PyPI has no browser that runs offline here):
# installed when missing, if this machine lets us.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium for the Web UI test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
	  || echo "warning: could not install chromium; tests/e2e/test_web_ui.py will fail" >&2; \
	fi

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy nexus_temporal interpreters activities workers policies
	$(BIN)/lint-imports
	$(BIN)/nexus lint examples
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy nexus_temporal interpreters activities workers policies

clean:
	rm -rf $(VENV) .nexus build *.egg-info
