# Two commands on a fresh machine:
#   make demo   -- the whole study on the bundled alanine dipeptide (report in demo_out/)
#   make test   -- the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= demo_out
STAMP  := $(VENV)/.installed

.PHONY: demo test docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: this picks the CPU build where that is what the machine offers
	$(BIN)/python -m pip install --disable-pip-version-check -q "torch==2.13.0"
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[test,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mda-rcxai demo --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q

docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/features.py

clean:
	rm -rf $(VENV) $(OUT) docs/_build
