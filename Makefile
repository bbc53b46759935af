# The two commands of the README's Quick start: `make app` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo

.PHONY: app test install demo bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(STAMP)

$(DEMO_DIR)/yichang.gpkg: | $(STAMP)
	$(VENV)/bin/gridmap demo --out $(DEMO_DIR)

demo: $(DEMO_DIR)/yichang.gpkg

app: $(DEMO_DIR)/yichang.gpkg
	$(VENV)/bin/gridmap app $(DEMO_DIR)/yichang.gpkg

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

bench: $(STAMP)
	for script in benchmarks/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
