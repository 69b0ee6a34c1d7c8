# The two commands of the README. Each sets up .venv the first time (pip, not uv: pip takes the CPU build of
# torch that lies on this machine's disk instead of downloading a multi-GB CUDA build) and reuses it after.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test bench
demo: $(STAMP)
	$(VENV)/bin/deepprior demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q "torch==2.13.0"
	$(VENV)/bin/python -m pip install -q -e ".[dev]"
	touch $(STAMP)
