# Two commands do all the set-up: `make lab` opens the series, `make test` runs the tests.
# Both create the virtual environment in .venv from requirements.txt on first use, with the versions
# CI last verified (constraints.txt; `make constraints` refreshes it).
PYTHON ?= python3
# Set UV to the uv program to install with it (much faster once its cache is warm; .ci/run does), else pip.
UV ?=
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Python keeps each module it compiles (.pyc) unless PYTHONDONTWRITEBYTECODE is set, as it is in some
# shells and CI images; then every process compiles TensorFlow anew (about 15 s to import it, not 6).
# The tests start a dozen such processes, so this Makefile lets Python keep what it compiles.
export PYTHONDONTWRITEBYTECODE :=

.PHONY: lab test test-colab book handout bench quality constraints clean-venv

$(STAMP): requirements.txt pyproject.toml constraints.txt
ifneq ($(UV),)
	test -x $(BIN)/python || $(UV) venv -q --seed --python $(PYTHON) $(VENV)
	VIRTUAL_ENV=$(abspath $(VENV)) $(UV) pip install -q -r requirements.txt -c constraints.txt
else
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -c constraints.txt
endif
	touch $(STAMP)

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $(ROOT_FLAG)

# Unit tests and every notebook in quick mode (nbval), each notebook executed once: the run leaves its
# executed copies in build/executed, the book is built from them, and the book's tests check it.
EXECUTED := build/executed
test: $(STAMP)
	rm -rf $(EXECUTED) build/book-ci
	# The notebooks first: the longest units of work start first, and the unit tests fill the gaps.
	GAN_UTILS_EXECUTED_DIR=$(EXECUTED) $(BIN)/python -m pytest -v notebooks tests --ignore=tests/test_book.py
	$(BIN)/python tools/build_book.py --executed $(EXECUTED) --out build/book-ci
	# One process: the book's tests take seconds, less than starting the workers (-n 0).
	GAN_UTILS_BOOK_DIR=build/book-ci $(BIN)/python -m pytest -v -n 0 tests/test_book.py

# The same unit tests and notebooks on Colab's versions: TensorFlow 2.19, Keras 3.8, numpy 2.1.
COLAB_VENV := .venv-colab
COLAB_PINS := tensorflow==2.19.* keras==3.8.* numpy==2.1.* mlxtend>=0.23,<0.24
COLAB_TOOLS := pytest pytest-xdist nbval ipykernel ipywidgets nbconvert matplotlib pillow filelock
$(COLAB_VENV)/.installed: requirements.txt pyproject.toml
	test -x $(COLAB_VENV)/bin/python || $(PYTHON) -m venv $(COLAB_VENV)
	printf '%s\n' $(foreach p,$(COLAB_PINS),'$(p)') > $(COLAB_VENV)/colab-pins.txt
	$(COLAB_VENV)/bin/python -m pip install -q -c $(COLAB_VENV)/colab-pins.txt $(foreach p,$(COLAB_PINS),'$(p)') $(COLAB_TOOLS)
	$(COLAB_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

test-colab: $(COLAB_VENV)/.installed
	$(COLAB_VENV)/bin/python -c "import tensorflow as tf, keras, numpy; print('TensorFlow', tf.__version__, 'Keras', keras.__version__, 'numpy', numpy.__version__)"
	$(COLAB_VENV)/bin/python -m pytest -v --ignore=tests/test_book.py --ignore=tests/test_jupyterlab.py --ignore=tests/test_packaging.py

# The series as an HTML book, executed at full size (GAN_UTILS_QUICK=1 for the quick edition);
# set GAN_UTILS_MNIST to execute on full MNIST. Re-executes only the notebooks whose code changed.
book: $(STAMP)
	$(BIN)/python tools/build_book.py

# A student edition (cells tagged "solution" removed) and an instructor edition of every notebook.
handout: $(STAMP)
	$(BIN)/python tools/handout.py --out build/handouts

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_training.py

quality: $(STAMP)
	$(BIN)/python benchmarks/quality.py

# Refresh constraints.txt: a fresh environment from requirements.txt's ranges, then its versions.
constraints:
	rm -rf .venv-constraints && $(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install -q -r requirements.txt
	{ echo '# The versions CI last verified, for make lab and make test (pip install -r requirements.txt -c constraints.txt).'; \
	  echo '# Refresh with: make constraints'; .venv-constraints/bin/python -m pip freeze --exclude-editable; } > constraints.txt
	rm -rf .venv-constraints

clean-venv:
	rm -rf $(VENV) $(COLAB_VENV)
