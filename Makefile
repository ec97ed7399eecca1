# The two commands of the README: `make run` and `make test`. Everything else is a helper.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run test bench bench-codec fuzz format clean sanitize

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/switchyard serve

test: deps
	@scripts/install-deps.sh --test
	@$(MAKE) --no-print-directory build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j 2

# wrk through nginx, Switchyard and Switchyard translating to Anthropic; the codec and ledger
# micro-benchmarks; the routing strategies against a failing and a slow deployment
# (bench/README.md).
bench:
	@scripts/install-deps.sh --bench
	@$(MAKE) --no-print-directory build
	BUILD_DIR=$(BUILD_DIR) bench/run.sh

# The codec micro-benchmarks alone (sy_codec_bench); e.g. CODEC_ARGS=--benchmark_filter=stream/
CODEC_ARGS ?=
bench-codec:
	@scripts/install-deps.sh --bench
	@$(MAKE) --no-print-directory $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS) --target sy_codec_bench
	$(BUILD_DIR)/bench/sy_codec_bench $(CODEC_ARGS)

# A bounded libFuzzer run (clang, ASan + UBSan) of every parser and codec: FUZZ_SECONDS each.
FUZZ_SECONDS ?= 30
fuzz:
	@scripts/install-deps.sh --fuzz
	tests/fuzz/run.sh $(FUZZ_SECONDS)

# ASan + UBSan build of everything, tests included.
sanitize:
	@$(MAKE) --no-print-directory test BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_FLAGS=-DSY_SANITIZE=ON

format:
	find src tests bench -name '*.cpp' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
