# qkit — the two commands of the README, and the build they share.
#   make study   install deps, build, run the quantization study (default model + WikiText-2)
#   make test    install deps, build, run every test (ctest)
# Variables: BUILD (build dir), MODEL (F16 GGUF; default: the fetched Qwen2.5-0.5B-Instruct),
# TEXT (default: WikiText-2 test split), OUT (study output dir), TYPES, CHUNKS, CTX, THREADS,
# QK_DATA_DIR (local data mirror, default ../shared/data).

BUILD       ?= build
QK_DATA_DIR ?= $(abspath ../shared/data)
DATA        ?= data
MODEL       ?=
TEXT        ?=
OUT         ?= study-out
TYPES       ?= Q2_K,Q4_K_M,Q6_K
CHUNKS      ?= 20
THREADS     ?=
CTX         ?= 512
JOBS        ?= $(shell nproc)

export QK_DATA_DIR

.PHONY: all deps build test study clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure

study: build
	@scripts/install-deps.sh --study
	@datasets/fetch.sh $(if $(MODEL),--text-only) $(DATA)
	$(BUILD)/bin/qk-study -m $(or $(MODEL),$(DATA)/models/qwen2.5-0.5b-instruct/qwen2.5-0.5b-instruct-fp16.gguf) \
	    -f $(or $(TEXT),$(DATA)/wikitext-2-raw/wiki.test.raw) -o $(OUT) --types $(TYPES) --chunks $(CHUNKS) -c $(CTX) $(if $(THREADS),-t $(THREADS))

clean:
	rm -rf $(BUILD)
