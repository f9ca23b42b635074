# Two commands after cloning:  make demo  (install + main job)   make test  (install + test suite)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch by default. With a GPU, choose yours, e.g.
#   make TORCH="torch --index-url https://download.pytorch.org/whl/cu124" demo
TORCH ?= torch==2.13.0

.PHONY: install demo test fixture-hub bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt scripts/install-system-deps.sh
	@$(PY) -c 'import sys; sys.exit("modeldeck needs Python >= 3.11, this is " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	bash scripts/install-system-deps.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c 'import torch' 2>/dev/null || $(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[all,test]'
	touch $@

demo: install
	$(BIN)/modeldeck ui --host 127.0.0.1

# Two workers: most tests wait on a subprocess, a server or a browser, so the second core is idle
# without them (about 10 minutes instead of 16 on an AVX-512 machine, 17 on an AVX2-only one;
# `pytest -p no:xdist` runs them one by one). Each file goes whole to one worker (tests/conftest.py).
test: install
	$(BIN)/python -m pytest -q -n 2

fixture-hub: install
	$(BIN)/python -m tests.fixtures.hub --root .cache/fixture-hub

# Every benchmark, one after the other (about 45 minutes on 2 cores; run it on a quiet machine);
# figures go in bench/RESULTS.md. bench/cluster.py needs a two-node Ray cluster in a network
# namespace of its own (see its docstring) and is run on its own.
bench: install
	for script in embed generate asr vision memory ui_startup engine server fast_cpu diffusion; do \
		$(BIN)/python bench/$$script.py || exit 1; done

clean:
	rm -rf $(VENV) .cache .pytest_cache
