# The README's two commands. Everything real lives in CMake; this file only
# installs dependencies, configures, builds and runs.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)
KERNEL ?= $(BUILD)/guest-tests/hello.elf

.PHONY: all setup build test run clean format

all: build

setup:
	@scripts/setup-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The default guest ends by writing 0 to the debug-exit port, which QEMU and
# popek turn into process status (0 << 1) | 1 = 1: that is success here.
run: build
	@$(BUILD)/cli/popek -kernel $(KERNEL) -m 128; status=$$?; \
	if [ $$status -ne 1 ]; then echo "popek exited with status $$status" >&2; exit 1; fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
