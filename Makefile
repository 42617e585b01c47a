# The course's two commands: `make lab` and `make test` (plus `make bench`).
# Both create .venv when needed and reinstall only when pyproject.toml changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FIRST_NOTEBOOK := notebooks/00_start_here.ipynb
LAB_ARGS ?=
PYTEST_ARGS ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test test-lib test-notebooks bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[course,test]'
	touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=. $(LAB_ARGS) $(FIRST_NOTEBOOK)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) tests
	$(PY) -m pytest $(PYTEST_ARGS) --doctest-modules k8snet_lesson
	K8SNET_PROGRESS=build/nbval-progress.json $(PY) -m pytest $(PYTEST_ARGS) --nbval-lax --nbval-current-env notebooks/

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build
