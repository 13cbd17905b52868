# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export QUILT_DISABLE_USAGE_METRICS := true

.PHONY: demo test venv lint format unit opensearch-start opensearch-stop bench clean

DEMO_READY := $(VENV)/.demo-ready

# Everything the tests need (the dev and local-llm extras, Chromium, a JDK and Maven).
$(BIN)/labsearch: pyproject.toml scripts/bootstrap
	scripts/bootstrap test

# Only what the demo needs: no llama.cpp build, no test tools.
$(DEMO_READY): pyproject.toml scripts/bootstrap
	scripts/bootstrap demo

venv: $(BIN)/labsearch

demo: $(DEMO_READY)
	$(BIN)/labsearch demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Everything CI runs: venv, lint, the OpenSearch node, every test (unit, integration, e2e).
test: venv lint
	scripts/opensearch-node start
	$(BIN)/pytest -p no:cacheprovider --junitxml=artifacts/junit.xml; status=$$?; \
	  scripts/opensearch-node stop; exit $$status

# Fast loop without OpenSearch or the browser.
unit: venv
	$(BIN)/pytest -m "not integration and not e2e"

# Speed is measured here, never in tests (each script's --help says what it measures).
bench: venv
	$(BIN)/python bench/store_latency.py --assets 10000
	$(BIN)/python bench/store_latency.py --assets 100000
	$(BIN)/python bench/scale.py --assets 100000
	$(BIN)/python bench/index_vs_langchain.py --runs 40
	$(BIN)/python bench/freshness.py --events 50 --backends embedded
	$(BIN)/python bench/fairness.py --assets 20000
	$(BIN)/python bench/fuzz.py
	$(BIN)/python bench/load.py --minutes 5
	$(BIN)/python bench/kill_resume.py --backend embedded --kills 20

clean:
	rm -rf .labsearch artifacts .pytest_cache
