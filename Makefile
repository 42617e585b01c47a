# The course's two commands: `make lab` and `make test` (plus `make bench`).
# Both create .venv when needed and reinstall only when pyproject.toml or the pins changed.
# `make lab` installs what a learner needs (the course and JupyterLab); `make test`
# installs everything. Both install the tested versions from constraints.txt.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAB_STAMP := $(VENV)/.installed-lab
LITE_TOOLS := build/lite-venv/.installed
PIP := $(PY) -m pip install --quiet --disable-pip-version-check --constraint constraints.txt
FIRST_NOTEBOOK := notebooks/00_start_here.ipynb
LAB_ARGS ?=
PYTEST_ARGS ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test test-lib test-notebooks bench venv clean lite site

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[course,lab,test,browser,site]'
	touch $(STAMP) $(LAB_STAMP)

# A learner's install: no test tools, and no byte-compiling of what it never imports.
$(LAB_STAMP): pyproject.toml setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --no-compile -e '.[course,lab]'
	touch $(LAB_STAMP)

# JupyterLite's tools, in a venv of their own: beside JupyterLab, the Pyodide kernel's
# extension would load into JupyterLab too, and fail there.
$(LITE_TOOLS): pyproject.toml constraints.txt | $(STAMP)
	$(PY) scripts/build_lite.py --install-tools
	touch $(LITE_TOOLS)

lab: $(LAB_STAMP)
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=. $(LAB_ARGS) $(FIRST_NOTEBOOK)

test: $(STAMP) $(LITE_TOOLS)
	$(PY) -m pytest $(PYTEST_ARGS) tests
	$(PY) -m pytest $(PYTEST_ARGS) --doctest-modules k8snet_lesson
	K8SNET_PROGRESS=build/nbval-progress.json $(PY) -m pytest $(PYTEST_ARGS) --nbval-lax --nbval-current-env notebooks/

# The course as a static JupyterLite site in build/lite/site (notebooks 00-07 and the wheel).
lite: $(STAMP) $(LITE_TOOLS)
	$(PY) scripts/build_lite.py --output-dir build/lite

# The executed notebooks as a static, searchable site in build/site/html (with the JupyterLite site in lite/).
site: $(STAMP) $(LITE_TOOLS)
	$(PY) scripts/build_site.py --output-dir build/site

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build
