# bench/peers/peers.mk — included by the top Makefile.
#
#   make bench-peers     install what is missing and build the peer echo servers into
#                        $(BUILD)/peers/ (a peer that cannot be built is skipped, never fatal)
#   make bench-compare   run wsedge and every built peer under the same wsload scenarios and
#                        write docs/BENCHMARKS.md + docs/bench/*.svg.
#                        BENCH_ARGS passes options to bench/compare, e.g.
#                        make bench-compare BENCH_ARGS="--quick -s a,c --servers wsedge,raw"
#                        WSLOAD=/path/to/wsload picks another load generator.

.PHONY: bench-peers bench-compare

# raw_echo alone needs nothing but cc, so `make test` can build it without the other peers'
# toolchains: tests/interop/test_compare.py runs bench/compare against wsedge and it.
# Same flags as build.sh, which then finds it up to date. Both raw echoes include
# bench/peers/echo_loop.h (header-only: $< is the one file compiled).
$(BUILD)/peers/raw_echo: bench/peers/raw_echo.c bench/peers/echo_loop.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -o $@ $<

# The floor of the wss:// scenarios, likewise: cc and libssl-dev (a build dependency already).
$(BUILD)/peers/raw_tls_echo: bench/peers/raw_tls_echo.c bench/peers/echo_loop.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -o $@ $< -lssl -lcrypto

bench-peers:
	@bash bench/peers/build.sh $(BUILD)/peers

bench-compare: bench-peers $(SERVER) $(TOOLS)
	@/usr/bin/python3 bench/compare --build $(BUILD) $(BENCH_ARGS)
