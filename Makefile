# The two commands: `make demo` (install everything, run the whole pipeline) and `make test`.
# Everything the project needs is installed from here; nothing by hand.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip -q --disable-pip-version-check
PEOPLE ?= 20000

.PHONY: demo test test-min bench lint install install-test sysdeps bench-sysdeps room clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# sdv pulls in torch: pin the CPU wheel first, or pip fetches a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

# pycanon (the reference for k, l and t in tests) pins exact old versions of numpy, scipy and
# typer; the part we compare against needs only numpy and pandas, so it goes in without them.
$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install -e '.[test]'
	$(PIP) install --no-deps 'pycanon>=1.3.6'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# System packages the tests drive for real: the Debian `age` tool (decrypts our envelopes) and
# Chromium (the console's browser test; Playwright drives it, never downloads its own).
# Java 17 for Spark is part of the machine image. `make bench` also needs wrk.
# The room's walls (issue 15): bubblewrap makes each room's mount, pid and network namespaces.
ROOM_DEBS := bwrap:bubblewrap
TEST_DEBS := age:age chromium:chromium $(ROOM_DEBS)
BENCH_DEBS := wrk:wrk
define install_debs
	@missing=""; for pair in $(1); do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	     (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null)); \
	  else echo "not root: cannot install$$missing; the tests that need them will skip"; fi; \
	fi
endef

sysdeps:
	$(call install_debs,$(TEST_DEBS))
	@# Korean glyphs for the browser tests' screenshots (pages name no web font: offline).
	@fc-list :lang=ko 2>/dev/null | grep -q . || { [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -qq fonts-noto-cjk >/dev/null 2>&1 || (apt-get update -qq && \
	   DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null)) \
	  || echo "no Korean font: screenshots will show boxes for Hangul"; }

# The analysis room (issue 9): configurable-http-proxy from npm, and a Python of the room's own
# outside /root (researchers' uids cannot read the project's venv), with the hub's version.
ROOM ?= /opt/pseudolink-room
ROOM_PACKAGES := jupyter_server jupyterlab ipykernel pandas pyarrow duckdb statsmodels matplotlib
room: $(VENV)/.installed
	$(call install_debs,$(ROOM_DEBS))
	@if [ "$$(id -u)" != 0 ]; then echo "room: not root; the analysis-room tests will skip"; exit 0; fi; \
	command -v configurable-http-proxy >/dev/null 2>&1 || npm install -g --silent configurable-http-proxy@5; \
	hub=$$($(PY) -c "import jupyterhub; print(jupyterhub.__version__)"); \
	if ! $(ROOM)/bin/python -c "import jupyterhub, jupyterlab, sys; sys.exit(jupyterhub.__version__ != '$$hub')" 2>/dev/null; then \
	  /usr/bin/python3 -m venv $(ROOM) 2>/dev/null || \
	    { apt-get install -y -qq python3-venv >/dev/null && /usr/bin/python3 -m venv $(ROOM); }; \
	  $(ROOM)/bin/pip install -q --disable-pip-version-check "jupyterhub==$$hub" $(ROOM_PACKAGES); \
	fi

bench-sysdeps:
	$(call install_debs,$(BENCH_DEBS))

demo: install
	$(VENV)/bin/pseudolink demo --people $(PEOPLE)

# Two workers (pytest-xdist); tests that start Spark or a JupyterHub share one worker, in
# turn (tests/conftest.py groups them). TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist loadgroup

test: install-test sysdeps room
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest $(PYTEST_PARALLEL)

$(VENV)/.installed-bench: $(VENV)/.installed-test pyproject.toml
	$(PIP) install -e '.[test,bench]'
	touch $@

# SmartNoise AIM, bench/synth.py's DP peer, pins opendp<0.15 (pseudolink needs 0.16): it
# gets a virtualenv of its own, which bench/_aim_peer.py runs in.
.aimvenv/.installed:
	python3 -m venv .aimvenv
	.aimvenv/bin/pip install 'smartnoise-synth==1.0.8' pandas pyarrow
	touch $@

bench: $(VENV)/.installed-bench .aimvenv/.installed sysdeps bench-sysdeps room
	@for f in bench/*.py; do \
	  case "$$(basename $$f)" in _*) continue;; esac; \
	  echo "== $$f"; $(PY) $$f || exit 1; \
	done

# The suite on the lowest versions pyproject.toml admits (ci/minimum-versions.txt), in a
# venv of its own, so that the floors stay honest as `make test` moves to newer releases.
MIN_VENV ?= .venv-min
test-min: sysdeps room
	@test -x $(MIN_VENV)/bin/python || $(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/pip -q --disable-pip-version-check install torch==2.13.0
	$(MIN_VENV)/bin/pip -q --disable-pip-version-check install -c ci/minimum-versions.txt -e '.[test]'
	$(MIN_VENV)/bin/pip -q --disable-pip-version-check install --no-deps 'pycanon>=1.3.6'
	PATH=$(CURDIR)/$(MIN_VENV)/bin:$$PATH $(MIN_VENV)/bin/pytest $(PYTEST_PARALLEL)

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check . || true

clean:
	rm -rf $(VENV) $(MIN_VENV) .pseudolink bench/work .pytest_cache .ruff_cache
