# Two commands do all the set-up: `make lab` opens the series, `make test` runs the tests.
# Both create the virtual environment in .venv from requirements.txt on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab test book bench quality clean-venv

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	touch $(STAMP)

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $(ROOT_FLAG)

test: $(STAMP)
	$(BIN)/python -m pytest -v

# The series as an HTML book, executed at full size (GAN_UTILS_QUICK=1 for the quick edition CI builds);
# set GAN_UTILS_MNIST to execute on full MNIST. Re-executes only the notebooks whose code changed.
book: $(STAMP)
	$(BIN)/python tools/build_book.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_training.py

quality: $(STAMP)
	$(BIN)/python benchmarks/quality.py

clean-venv:
	rm -rf $(VENV)
