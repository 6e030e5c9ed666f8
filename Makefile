# The README's two commands. Everything real lives in CMake; this file only
# installs dependencies, configures, builds and runs.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)
KERNEL ?= $(BUILD)/guest-tests/hello.elf

.PHONY: all setup build test run run-hello clean format

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
# The default guest: Debian's i386 kernel and a busybox initramfs
# (scripts/fetch-linux-guest.sh downloads and builds it into $(LINUX_DIR) the
# first time), booted under popek to a shell on the console (Ctrl-A x quits;
# `poweroff -f` ends it). `make run QEMU=1` boots the same under QEMU TCG.
LINUX_DIR ?= $(BUILD)/linux
run: build
	@scripts/fetch-linux-guest.sh $(LINUX_DIR) >/dev/null
	@env -u QEMU POPEK=$(BUILD)/cli/popek scripts/run-linux-guest.sh \
	    $(if $(filter-out 0,$(QEMU)),--qemu) \
	    --kernel $(LINUX_DIR)/vmlinuz --initrd $(LINUX_DIR)/initramfs.cpio.gz; \
	status=$$?; \
	if [ $$status -gt 1 ]; then echo "run: exit status $$status" >&2; exit 1; fi

# The smallest guest: a multiboot kernel that prints and exits through the
# debug-exit port, which QEMU and popek turn into process status
# (0 << 1) | 1 = 1: that is success here.
run-hello: build
	@$(BUILD)/cli/popek -kernel $(KERNEL) -m 128; status=$$?; \
	if [ $$status -ne 1 ]; then echo "popek exited with status $$status" >&2; exit 1; fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
