# qkit — the two commands of the README, and the build they share.
#   make study   install deps, build, run the quantization study (default model + WikiText-2)
#   make test    install deps, build, run every test (ctest)
# Variables: BUILD (build dir), MODEL (F16 GGUF; default: the fetched Qwen2.5-0.5B-Instruct,
# offline and not in the mirror: the mirror's wiki-qwen2-13m, see scripts/study.sh),
# TEXT (default: WikiText-2 test split), OUT (study output dir), TYPES, CHUNKS, CTX, THREADS,
# IMATRIX (an imatrix file) or IMATRIX_TEXT (calibration text to make one from, never the
# evaluation text; e.g. ../shared/data/calibration/wiki.test.tail.raw): every type is then
# also quantized with the imatrix and reported beside the plain one,
# QK_DATA_DIR (local data mirror, default ../shared/data).

BUILD       ?= build
QK_DATA_DIR ?= $(abspath ../shared/data)
DATA        ?= data
MODEL       ?=
TEXT        ?=
IMATRIX     ?=
IMATRIX_TEXT ?=
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
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The model: MODEL, else the fetched default, else (offline, not in the mirror) the mirror's
# wiki-qwen2-13m, said in one line and in results.md (scripts/study.sh).
study: build
	@scripts/install-deps.sh --study
	@MODEL='$(MODEL)' TEXT='$(TEXT)' IMATRIX='$(IMATRIX)' IMATRIX_TEXT='$(IMATRIX_TEXT)' scripts/study.sh $(BUILD) $(DATA) $(OUT) $(TYPES) $(CHUNKS) $(CTX) $(THREADS)

clean:
	rm -rf $(BUILD)
