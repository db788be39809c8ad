# stylenet: `make test` and `make train` set everything up on a fresh machine (a venv in .venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# This workplace's x86_64 wheels (pip takes them from local disk); elsewhere any recent torch works.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STYLE ?= starry_night
# The suite in two pytest-xdist workers (a core each on the 2-core machines; the longest tests
# are single-threaded start-ups and subprocesses). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
PYTEST_PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist worksteal)
SHARED ?= ../shared
# The main job's default: a short offline run on ../shared when it exists, else COCO from data/.
TRAIN_ARGS ?= $(if $(wildcard $(SHARED)/weights),paths=shared data.image_size=128 trainer.max_steps=32,)

# 512 px tiles and a last row of tubingen by optimize:100 (about 10 min per style on one thread, cached in runs/)
GALLERY_SIZE ?= 512
GALLERY_OPTIMIZE ?= 100
GALLERY_CONTENT ?= tubingen.jpg golden_gate.jpg chicago.jpg hoovertowernight.jpg amber.jpg adain_sailboat.jpg

.PHONY: install browser test test-fast lint format train tensorboard gallery bench clean

$(BIN)/.stamp-install: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/.stamp-install

# headless Chromium for the web page's tests (apt-get, only where it is missing and apt works)
browser:
	bash scripts/install_browser.sh

test: install browser lint
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) --durations=15

test-fast: install browser
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not slow"

lint: install
	$(BIN)/ruff check stylenet scripts tests hubconf.py
	$(BIN)/ruff format --check stylenet scripts tests hubconf.py

format: install
	$(BIN)/ruff check --fix stylenet scripts tests hubconf.py
	$(BIN)/ruff format stylenet scripts tests hubconf.py

train: install
	$(BIN)/python scripts/train.py style=$(STYLE) $(TRAIN_ARGS)

tensorboard: install
	$(BIN)/tensorboard --logdir runs --bind_all

gallery: install
	$(BIN)/python scripts/gallery.py --content $(addprefix $(SHARED)/data/content/,$(GALLERY_CONTENT)) -o docs/gallery.jpg --overwrite \
		--size $(GALLERY_SIZE) --optimize $(GALLERY_OPTIMIZE) --style-weight 5 --tv-weight 5 --styles-dir $(SHARED)/data/styles \
		$(if $(wildcard $(SHARED)/weights),--vgg $(SHARED)/weights/vgg16_features_hed.pth,)

clean:
	rm -rf .pytest_cache .ruff_cache build *.egg-info
