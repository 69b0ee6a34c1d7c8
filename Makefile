# The two commands of the README. Each sets up .venv the first time (pip, not uv: pip takes the CPU build of
# torch that lies on this machine's disk instead of downloading a multi-GB CUDA build) and reuses it after.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: demo test quick docs
demo: $(STAMP)
	$(VENV)/bin/deepprior demo

# Every test, the slow ones included (what CI runs); `make quick` leaves the slow ones out. The browser tests
# need Debian's chromium: installed here with apt when it is missing, and required (not skipped) by this target.
test: $(STAMP) $(CHROMIUM)
	DEEPPRIOR_REQUIRE_ALL=1 $(VENV)/bin/python -m pytest -q -m "slow or not slow" -n auto --dist loadfile

quick: $(STAMP)
	$(VENV)/bin/python -m pytest -q

# The generated docs: the command-line reference and the presets (a test fails when one is stale).
docs: $(STAMP)
	$(VENV)/bin/python -m deepprior.cli.reference cli > docs/cli.md
	$(VENV)/bin/python -m deepprior.cli.reference presets > docs/presets.md

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q "torch==2.13.0"
	$(VENV)/bin/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

$(CHROMIUM):
	$(SUDO) apt-get install -y -q chromium || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)
