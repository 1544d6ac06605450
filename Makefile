# Convenience front end for the CMake build.
#   make          build (build/flipcheck)
#   make check    build with -Werror, run every test; then the same under
#                 ASan+UBSan (build-asan/).  This is the project's test command.
#   make run      the main job on the bundled models and images
#   make fuzz-ci  build the libFuzzer harnesses (clang, build-fuzz/), replay
#                 fuzz/regress/, then run each harness FUZZ_SECONDS (60 s)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build check check-fast check-asan run clean fuzz-build fuzz-ci
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

# Fuzzing (fuzz/CMakeLists.txt): one harness at a time, each for
# FUZZ_SECONDS; any crash, sanitizer report, leak, timeout or OOM fails.
# New corpus entries go to build-fuzz/corpus/ (fuzz/corpus/ holds the
# committed seeds and is only read).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= onnx png config merge
FUZZ_BUILD ?= build-fuzz
fuzz-build:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLIPCHECK_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))

fuzz-ci: fuzz-build
	set -e; for t in $(FUZZ_TARGETS); do \
	  if [ -d fuzz/regress/$$t ]; then \
	    echo "== fuzz_$$t: replaying fuzz/regress/$$t"; \
	    OPENBLAS_NUM_THREADS=1 $(FUZZ_BUILD)/fuzz/fuzz_$$t -timeout=10 -rss_limit_mb=2048 fuzz/regress/$$t/*; \
	  fi; \
	  echo "== fuzz_$$t: $(FUZZ_SECONDS) s"; \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	  OPENBLAS_NUM_THREADS=1 $(FUZZ_BUILD)/fuzz/fuzz_$$t $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/fuzz_$$t-; \
	done

clean:
	rm -rf build build-asan build-fuzz
