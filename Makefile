# One entry point for set-up, tests and the demo. Everything installs into .venv/ at the checkout root.
#   make demo   - the quick study on the built-in synthetic corpus (CPU; docs: study guide)
#   make test   - the default test suite (CPU; docs: development page)
#   make test-slow - the tests marked `slow`
#   make findings - the findings profile: every family on the synthetic corpus (docs: study guide)
#   make findings-seeds - the findings profile over 3 training seeds on the crossed-modes corpus (docs: study guide)
#   make docs  - the documentation site into site/ (mkdocs build --strict) and the README's headline table checked
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
DEMO_OUT ?= runs/demo

FINDINGS_OUT ?= runs/findings
FINDINGS_SEEDS_OUT ?= runs/findings_seeds

.PHONY: venv demo findings findings-seeds test test-slow docs clean-venv

venv: $(STAMP)

# torch first (the CPU build from the local index), then fairseq's build tools, then fairseq itself
# built from its hash-pinned sdist against *this* torch (no build isolation, no dependencies: its declared
# torchaudio would pull another torch), then fairseq's real runtime dependencies and ours, then the plugin.
$(STAMP): requirements/build.txt requirements/fairseq.txt requirements/runtime.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -r requirements/build.txt
	$(PY) -c "import fairseq" 2>/dev/null || $(PIP) install --no-deps --no-build-isolation -r requirements/fairseq.txt
	$(PIP) install -q -r requirements/runtime.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(PY) -c "import fairseq_nat_study, fairseq; print('fairseq', fairseq.__version__, 'plugin', fairseq_nat_study.__version__)"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/fairseq-nat-study study --out $(DEMO_OUT)

findings: $(STAMP)
	$(VENV)/bin/fairseq-nat-study study --config examples/study/synthetic_findings.json --out $(FINDINGS_OUT)

findings-seeds: $(STAMP)
	$(VENV)/bin/fairseq-nat-study study --config examples/study/synthetic_findings_seeds.json --out $(FINDINGS_SEEDS_OUT)

# pytest workers: one per core and one more, at most 5 (each trains the fixture models it is first to need, one
# torch thread each; the extra one runs while another waits on a fixture being trained; docs: development)
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 4 ? n + 1 : 5 )))

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q -n $(TEST_WORKERS) --dist loadfile tests

test-slow: $(STAMP)
	$(PY) -m pytest -m slow -q -n $(TEST_WORKERS) --dist loadfile tests

# mkdocs reads the sources without importing them, so the docs need only requirements/docs.txt in .venv/
DOCS_STAMP := $(VENV)/.docs-installed

$(DOCS_STAMP): requirements/docs.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements/docs.txt
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	PYTHONPATH=$(CURDIR) $(PY) -m fairseq_nat_study.cli.main docs --check --readme README.md --results docs/results
	$(VENV)/bin/mkdocs build --strict --site-dir site

clean-venv:
	rm -rf $(VENV)
