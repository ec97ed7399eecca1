# The two commands of the README: `make run` and `make test`. Everything else is a helper.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run test bench fuzz format clean sanitize

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

bench:
	@scripts/install-deps.sh --bench
	@$(MAKE) --no-print-directory build
	bench/run.sh

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
