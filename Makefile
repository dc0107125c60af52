# wsedge — build, run, test, benchmark.
#
#   make            release build of every binary into build/ (wsedge, wsedge-client, wsload, ...)
#   make run        build and start wsedge on 127.0.0.1:9001 (PORT=..., HOST=... to change)
#   make test       every suite in tests/; ends with one line "N passed, N failed"
#   make asan       the same suites against an AddressSanitizer + UBSan build (build-asan/)
#   make bench      Google Benchmark micro benchmarks
#   make fuzz       libFuzzer targets tests/fuzz/fuzz_*.cpp into build-fuzz/ (docs/fuzzing.md)
#   make deps       install missing Debian/npm packages (run automatically by the above)
#   make format     clang-format every source file;  make lint  cppcheck
#   make clean
#
# CXX=clang++ builds with clang. BUILD=dir picks the output folder.

CXX      ?= g++
BUILD    ?= build
MODE     ?= release
HOST     ?= 127.0.0.1
PORT     ?= 9001

WARN     := -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor
CXXFLAGS := -std=c++20 $(WARN) -g -MMD -MP -I. -pthread
ifeq ($(MODE),asan)
  CXXFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS  += -fsanitize=address,undefined
else
  CXXFLAGS += -O2
  # g++: link-time optimisation for the server and the load generator, so the calls each
  # message makes between ws/, net/ and server/ are inlined across files
  # (bench/instructions.sh: 748 -> 676 Ir per 16 B echo). The objects stay fat: the unit
  # tests and micro benchmarks link their machine code as before, with no LTO link each.
  # clang++ (CXX=clang++-14) builds without it, as does MODE=asan.
  ifeq ($(findstring clang,$(CXX)),)
    CXXFLAGS += -flto=auto -ffat-lto-objects
    LTO_LINK := -flto=auto -O2 -g
    AR := gcc-ar  # indexes the archive's LTO symbols, so the LTO link takes its members
  endif
endif
LDLIBS   := -lssl -lcrypto -lz -pthread

LIB_SRC   := $(wildcard core/*.cpp net/*.cpp http/*.cpp ws/*.cpp server/*.cpp redis/*.cpp)
# apps/client.cpp is wsedge-client's main; its parts live in apps/client/.
APP_SRC   := $(filter-out apps/client.cpp,$(wildcard apps/*.cpp))
CLIENT_SRC := apps/client.cpp $(wildcard apps/client/*.cpp)
UNIT_SRC  := $(wildcard tests/unit/*.cpp)
BENCH_SRC := $(wildcard bench/micro_*.cpp)
TOOL_SRC  := $(wildcard bench/wsload*.cpp)

LIB_OBJ   := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
APP_OBJ   := $(APP_SRC:%.cpp=$(BUILD)/obj/%.o)
# The demo handlers and helpers without main(), so unit tests can reach them too.
APP_PARTS := $(filter-out $(BUILD)/obj/apps/wsedge.o,$(APP_OBJ))
CLIENT_OBJ := $(CLIENT_SRC:%.cpp=$(BUILD)/obj/%.o)
# The client's parts without main(), for the unit tests.
CLIENT_PARTS := $(filter-out $(BUILD)/obj/apps/client.o,$(CLIENT_OBJ))
UNIT_OBJ  := $(UNIT_SRC:%.cpp=$(BUILD)/obj/%.o)
BENCH_OBJ := $(BENCH_SRC:%.cpp=$(BUILD)/obj/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.cpp=$(BUILD)/obj/%.o)
LIB       := $(BUILD)/libwsedge.a
SERVER    := $(BUILD)/wsedge
CLIENT    := $(BUILD)/wsedge-client
UNIT      := $(BUILD)/unit_tests
BENCHES   := $(BENCH_SRC:bench/%.cpp=$(BUILD)/%)
TOOLS     := $(TOOL_SRC:bench/%.cpp=$(BUILD)/%)
DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: all run test test-bins asan bench deps clean format lint install
.DEFAULT_GOAL := all

all: $(DEPS_STAMP) $(SERVER) $(CLIENT) $(UNIT) $(TOOLS)

# --- dependencies ----------------------------------------------------------------------
# Debian packages the build and the tests need; installed with apt-get when root,
# otherwise the one command to run is printed. Node's `ws` comes from tests/package-lock.json.
DEBS := g++ libssl-dev zlib1g-dev doctest-dev libbenchmark-dev python3 python3-websockets \
        nodejs curl chromium \
        clang-14 libclang-rt-14-dev
deps: $(DEPS_STAMP)
$(DEPS_STAMP): tests/package.json tests/package-lock.json
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing) >/dev/null || exit 1; \
	  else echo "missing packages; run: sudo apt-get install -y$$missing"; exit 1; fi; \
	fi
	@command -v npm >/dev/null || { echo "npm missing: apt-get install -y npm"; exit 1; }
	@cd tests && npm ci --silent --no-audit --no-fund >/dev/null
	@mkdir -p $(BUILD) && touch $@

# --- build -----------------------------------------------------------------------------
$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(SERVER): $(APP_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) $(LTO_LINK) $^ -o $@ $(LDLIBS)

$(CLIENT): $(CLIENT_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(UNIT): $(UNIT_OBJ) $(APP_PARTS) $(CLIENT_PARTS) $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/wsload%: $(BUILD)/obj/bench/wsload%.o $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# A pattern's % never matches the empty string, so build/wsload needs its own rule.
$(BUILD)/wsload: $(BUILD)/obj/bench/wsload.o $(LIB)
	$(CXX) $(LDFLAGS) $(LTO_LINK) $^ -o $@ $(LDLIBS)

$(BUILD)/micro_%: $(BUILD)/obj/bench/micro_%.o $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lbenchmark -lbenchmark_main

# --- use -------------------------------------------------------------------------------
run: all
	$(SERVER) --host $(HOST) --port $(PORT) --web apps/web --metrics same-port

# make install PREFIX=/usr/local DESTDIR=...: the three binaries, the demo pages, the man
# page (made from `wsedge --help` by apps/make_man.py, so it cannot drift from the options)
# and the systemd units. Installs what is built; it never runs as part of a build.
PREFIX  ?= /usr/local
DESTDIR ?=
MAN     := $(BUILD)/wsedge.1

$(MAN): $(SERVER) apps/make_man.py
	$(SERVER) --help | python3 apps/make_man.py --version "$$($(SERVER) --version)" > $@.tmp
	mv $@.tmp $@

install: all $(MAN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/wsedge/web \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/doc/wsedge/deploy
	install -m 755 $(SERVER) $(CLIENT) $(BUILD)/wsload $(DESTDIR)$(PREFIX)/bin/
	install -m 644 apps/web/*.html apps/web/*.js apps/web/*.css $(DESTDIR)$(PREFIX)/share/wsedge/web/
	install -m 644 $(MAN) $(DESTDIR)$(PREFIX)/share/man/man1/wsedge.1
	install -m 644 docs/deploy/wsedge.socket docs/deploy/wsedge.service docs/deploy/README.md \
	  $(DESTDIR)$(PREFIX)/share/doc/wsedge/deploy/

# Everything the suites run: the binaries, the raw TCP and TLS echoes bench/compare's tests
# use, and the failing-malloc shim the out-of-memory tests preload (tests/support/failmalloc.c).
test-bins: all $(BUILD)/peers/raw_echo $(BUILD)/peers/raw_tls_echo $(BUILD)/libfailmalloc.so

$(BUILD)/libfailmalloc.so: tests/support/failmalloc.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -shared -fPIC $< -o $@ -ldl

test: test-bins
	@bash tests/run_all.sh $(BUILD)

asan:
	@$(MAKE) --no-print-directory MODE=asan BUILD=build-asan test-bins
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  bash tests/run_all.sh build-asan

bench: $(DEPS_STAMP) $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b --benchmark_min_time=0.2 || exit 1; done

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp')

lint:
	cppcheck --quiet --enable=warning,performance,portability --std=c++20 --inline-suppr \
	  --suppress=missingIncludeSystem -I. core net http ws server redis apps

clean:
	rm -rf build build-asan $(FUZZ_BUILD)

# --- fuzzing (docs/fuzzing.md) -----------------------------------------------------------
# Every tests/fuzz/fuzz_NAME.cpp becomes build-fuzz/fuzz_NAME: libFuzzer + ASan + UBSan, built
# with Debian's clang++-14 (libFuzzer itself, libclang_rt.fuzzer, is in libclang-rt-14-dev).
# The library is compiled again with the same sanitizers and the fuzzer's coverage hooks
# (fuzzer-no-link: instrumented, but without libFuzzer's main), so the fuzzer sees its branches.
FUZZ_CXX   ?= clang++-14
FUZZ_BUILD ?= build-fuzz
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_FLAGS := -std=c++20 $(WARN) -g -O1 -fno-omit-frame-pointer -MMD -MP -I. -pthread \
              $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.cpp)
FUZZ_OBJ   := $(FUZZ_SRC:%.cpp=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIB_OBJ := $(LIB_SRC:%.cpp=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIB   := $(FUZZ_BUILD)/libwsedge.a
FUZZERS    := $(FUZZ_SRC:tests/fuzz/%.cpp=$(FUZZ_BUILD)/%)

.PHONY: fuzz
fuzz: $(DEPS_STAMP) $(FUZZERS)

$(FUZZ_BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

# The targets' objects are intermediates of a pattern chain: keep them, or every make relinks.
.SECONDARY: $(FUZZ_OBJ)
-include $(FUZZ_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d)

-include $(LIB_OBJ:.o=.d) $(APP_OBJ:.o=.d) $(CLIENT_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) $(TOOL_OBJ:.o=.d)
include bench/peers/peers.mk
