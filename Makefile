# The entry point for people: make builds everything into build/, and the
# targets below wrap meson/ninja and the test runners.
BUILD ?= build
PREFIX ?= /usr/local
PYTEST ?= /usr/bin/python3 -m pytest

.PHONY: all install test check-unit check-system check-cgroup2 check-format format clean bench

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) --bindir=bin

install: all
	meson install -C $(BUILD) --no-rebuild

check-unit: all
	meson test -C $(BUILD) --print-errorlogs

# The CLI's comparison tests run twice: against dockerd (in the main run)
# and against skiffd.
check-system: all
	$(PYTEST) -q -ra tests/system
	tests/system/with-skiffd $(PYTEST) -q -ra $(wildcard tests/system/test_cli_*.py)

test: check-format check-unit check-system check-cgroup2

check-cgroup2: all
	tests/cgroup2/run-in-qemu

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# The tree stays as make format leaves it (clang-format 14, Debian 12's).
check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

bench: all
	bench/runtime

clean:
	rm -rf $(BUILD)
