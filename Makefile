# lossconform: the two commands a newcomer needs (see README.md).
#   make conform   full conformance run over every installed framework -> HTML report
#   make test      the whole test suite, as CI runs it
# Both bootstrap a virtual environment in .venv from constraints.txt (idempotent: the
# second run only checks a stamp file).

PYTHON ?= python3
JOBS   ?= 2
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lossconform-installed
OUT    := reports/out
RUN    := $(OUT)/conform
PYTEST := $(BIN)/python -m pytest

.PHONY: setup conform test report bench chromium clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e ".[ci]"
	touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium for the report's real-browser tests; without it those tests skip, visibly.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; browser tests will be skipped"; }

# One process runs the suite and then builds the report from the results it just wrote
# (python -m lossconform test): a Ctrl-C still gets its report, and a run that writes no
# results leaves none of the previous run's files behind. ARGS go to pytest unchanged.
conform: $(STAMP)
	$(BIN)/python -m lossconform test --out $(RUN) --jobs $(JOBS) -- $(ARGS)

test: $(STAMP) chromium
	@mkdir -p $(OUT)
	$(PYTEST) -n $(JOBS) -q --results=$(OUT)/test-results.json --junitxml=$(OUT)/test-junit.xml $(ARGS)

report: $(STAMP)
	$(BIN)/python -m lossconform.reports build $(RUN)/results.json -o $(RUN)/report.html

bench: $(STAMP)
	$(BIN)/python -m benchmarks.matrix

clean:
	rm -rf $(OUT) .pytest_cache
