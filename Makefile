# CityLifeline — every habit is one command.  The first run of any target sets up .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
WEB    := citylifeline/web
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml $(WEB)/package-lock.json | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000
LTOWN  ?= ../shared/bench/ltown
export OMP_NUM_THREADS ?= 1

.PHONY: demo test lint bench setup browser clean

demo: $(STAMP)  ## the platform on the embedded store with the demo city and a live digital-twin feed
	$(BIN)/citylifeline demo --host $(HOST) --port $(PORT)

test: $(STAMP) browser  ## the whole test suite (under CI=true nothing may skip)
	$(BIN)/python -m pytest -q

lint: $(STAMP)  ## ruff on everything, mypy on the library
	$(BIN)/ruff check citylifeline tests bench
	$(BIN)/mypy citylifeline

bench: $(STAMP) browser  ## speed benchmarks and the scenario scorer; results go to docs/benchmarks.md
	$(BIN)/python bench/ingest.py --write-docs
	$(BIN)/python bench/scada.py --write-docs
	$(BIN)/python bench/water_live.py --write-docs
	$(BIN)/python bench/water_bwsn2.py --write-docs
	$(BIN)/python bench/water_demo.py --write-docs
	$(BIN)/python bench/water_changes.py --write-docs
	$(BIN)/python bench/throughput.py --write-docs
	$(BIN)/python bench/deadletters.py --write-docs
	$(BIN)/python bench/hostile.py --write-docs
	$(BIN)/python bench/wire.py --write-docs
	$(BIN)/python bench/cluster.py --write-docs
	$(BIN)/python bench/cluster_front.py --write-docs
	$(BIN)/python bench/twin.py --write-docs
	$(BIN)/python bench/dashboard.py --write-docs
	$(BIN)/python bench/nab.py --write-docs
	$(BIN)/citylifeline bench bridges --write-docs
	$(BIN)/citylifeline bench drainage --write-docs
	$(BIN)/citylifeline bench cascade --write-docs
	$(BIN)/citylifeline bench cascade-choice --write-docs
	$(BIN)/citylifeline bench scenarios --write-docs --compare --generated 51 52 53
	$(BIN)/citylifeline bench gas --write-docs
	$(BIN)/citylifeline bench leaks --inp $(LTOWN)/L-TOWN.inp --sensors $(LTOWN)/sensors.json \
	  --leaks $(LTOWN)/leaks_2018.json $(foreach y,2019 2020 2021 2022 2023,bench/data/ltown_leaks_$(y).json) \
	  --name "L-Town 2018 (tuned on)" $(foreach y,2019 2020 2021 2022 2023,"$(y), generated") --write-docs

setup: $(STAMP)

browser:  ## Debian's Chromium and a CJK font, for the dashboard's browser tests (installed once, as root)
	@if command -v chromium >/dev/null && test -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    chromium fonts-wqy-microhei; \
	else echo "the dashboard's browser tests need Chromium: sudo apt-get install chromium fonts-wqy-microhei"; fi

$(STAMP): requirements.lock pyproject.toml $(WEB)/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	npm ci --prefix $(WEB) --no-audit --no-fund --loglevel=error  # the dashboard's map and chart libraries
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

clean:
	rm -rf $(VENV) $(WEB)/node_modules .pytest_cache .mypy_cache .ruff_cache var
