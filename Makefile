# Convenience front end for the CMake build.
#   make          build (build/flipcheck)
#   make check    build with -Werror, run every test; then the same under
#                 ASan+UBSan (build-asan/).  This is the project's test command.
#   make run      the main job on the bundled models and images
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build check check-fast check-asan run clean
all: build

build:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFLIPCHECK_WERROR=ON
	cmake --build build -j $(JOBS)

check-fast: build
	cd build && ctest --output-on-failure -j $(JOBS)

check-asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLIPCHECK_WERROR=ON -DFLIPCHECK_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# The main job on the bundled models: part of the gate, so a change that
# breaks a threshold on them fails `make check`.
run: build
	./build/flipcheck run --out build/flipcheck-out

check: check-fast check-asan
	$(MAKE) run

clean:
	rm -rf build build-asan
