# sfmesh: stream-affinity failover for service chains on Open vSwitch.
#
#   make deps     install the Debian packages sfmesh needs (idempotent)
#   make          build the controller and tools into build/bin
#   make demo     the main job: a Mininet service chain on a private OVS, an
#                 instance killed under traffic, with and without state
#                 replication
#   make check    deps, build, unit tests (plain and ASan/UBSan), fuzz
#                 regressions and integration tests, with a summary per suite
#   make fuzz     run the libFuzzer targets for FUZZ_SECONDS each
#   make bench    the benchmarks (docs/benchmarks.md); BENCH_PARTS selects
#   make clean    remove build/

BUILD ?= build
VERSION = 0.1.0
BIN = $(BUILD)/bin
FUZZ_SECONDS ?= 60

# Debian packages needed to build, test and run sfmesh.
DEB_PACKAGES = build-essential pkg-config clang libclang-rt-14-dev \
	openvswitch-switch openvswitch-source libevent-dev libssl-dev libcunit1-dev libyaml-dev \
	openssl mininet iproute2 nftables ethtool iputils-ping util-linux procps python3 \
	python3-matplotlib iperf3 autoconf automake libtool

# libopenvswitch: the system's if pkg-config knows it, else built from
# Debian's openvswitch-source into $(BUILD)/ovs.
# Goals that run before the library can exist (on a fresh machine, 'check'
# and 'demo' install the packages first, then build in a sub-make).
NO_OVS_GOALS = deps clean check demo bench
OVS_PC := $(shell pkg-config --exists libopenvswitch 2>/dev/null && echo yes)
ifeq ($(OVS_PC),yes)
OVS_CFLAGS := $(shell pkg-config --cflags libopenvswitch)
OVS_LIBS := $(shell pkg-config --libs libopenvswitch)
OVS_STAMP :=
else
OVS_STAMP := $(BUILD)/ovs/stamp
ifneq ($(filter-out $(NO_OVS_GOALS),$(or $(MAKECMDGOALS),all)),)
include $(BUILD)/ovs/ovs.mk
endif
endif

EVENT_LIBS = -levent_core -levent_extra -levent_openssl -lssl -lcrypto
YAML_LIBS = -lyaml
export SFMESH_RESULTS := $(BUILD)/results
CUNIT_LIBS = -lcunit

CC = gcc
# -Wno-sign-compare: OVS's own headers (the VLOG macros) compare an int with
# an enum, and OVS builds with the same flag.
WARN = -Wall -Wextra -Werror -Wno-sign-compare
BASE_CFLAGS = -std=gnu11 -g -D_GNU_SOURCE -DSFMESH_VERSION=\"$(VERSION)\" $(WARN) -Ilib -Iofctl-app \
	-Iagent -I$(BUILD)/gen $(OVS_CFLAGS)
CFLAGS ?= -O2
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

# Code shared by the daemon, the unit tests and the fuzz targets: lib/ and
# every module of ofctl-app/ but the two programs' main files.
LIB_SRCS = $(wildcard lib/*.c)
CONTROLLER_SRCS = ofctl-app/controller.c
CTL_SRCS = ofctl-app/sfmesh-ctl.c
CORE_SRCS = $(filter-out $(CONTROLLER_SRCS) $(CTL_SRCS), \
	$(wildcard ofctl-app/*.c))
AGENT_MAIN_SRCS = agent/agent.c agent/agent-chan.c agent/agent-path.c \
	agent/agent-repl.c
AGENT_SRCS = $(filter-out $(AGENT_MAIN_SRCS), $(wildcard agent/*.c))
# What the fuzz targets exercise: the parsers of bytes from outside.
FUZZ_SRCS = $(CORE_SRCS) $(AGENT_SRCS) $(LIB_SRCS)
UNIT_SRCS = $(wildcard tests/unit/*.c)
FUZZ_TARGETS = $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
# The C IDL of sfmesh's database (ofctl-app/sfmesh.ovsschema), generated
# with OVS's ovsdb-idlc from the OVS source tree, as ovn-controller's is.
GEN = $(BUILD)/gen
IDL_SRCS = $(GEN)/sfmesh-idl.c
IDL_HEADERS = $(GEN)/sfmesh-idl.h
CORE_SRCS += $(IDL_SRCS)
HEADERS = $(wildcard lib/*.h ofctl-app/*.h agent/*.h tests/unit/*.h tests/fuzz/*.h) \
	$(IDL_HEADERS)

obj = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

.PHONY: FORCE all deps ovs bench check unit unit-asan fuzz-regress integration demo \
	fuzz clean
all: $(BIN)/sfmesh-controller $(BIN)/sfmesh-ctl $(BIN)/sfmesh-agent \
	$(BUILD)/tests/unit-tests $(BUILD)/tests/linkflap
ASAN_BIN = $(BUILD)/asan-bin

deps:
	@scripts/install-deps.sh $(DEB_PACKAGES)

# The build script is cheap when the library is current, so it runs on every
# make that compiles (it rebuilds when openvswitch-source changes).
ovs: $(OVS_STAMP)
$(BUILD)/ovs/ovs.mk: FORCE
	@scripts/build-libopenvswitch.sh $(BUILD)/ovs
$(BUILD)/ovs/stamp: $(BUILD)/ovs/ovs.mk
FORCE:

# ovsdb-idlc is a Python program in the OVS source tree (the one that
# libopenvswitch is built from, so that the IDL matches the library).
IDLC = PYTHONPATH=$(BUILD)/ovs/src/python python3 \
	$(BUILD)/ovs/src/ovsdb/ovsdb-idlc.in
$(GEN)/sfmesh.ovsidl: ofctl-app/sfmesh.ovsschema ofctl-app/sfmesh-idl.ann \
		$(BUILD)/ovs/stamp
	@mkdir -p $(dir $@)
	$(call say,IDLC,$@) $(IDLC) annotate $< ofctl-app/sfmesh-idl.ann > $@.tmp \
		&& mv $@.tmp $@
$(GEN)/sfmesh-idl.h: $(GEN)/sfmesh.ovsidl
	$(call say,IDLC,$@) $(IDLC) c-idl-header $< > $@.tmp && mv $@.tmp $@
$(GEN)/sfmesh-idl.c: $(GEN)/sfmesh.ovsidl
	$(call say,IDLC,$@) $(IDLC) c-idl-source $< > $@.tmp && mv $@.tmp $@

# Keep intermediate objects (the fuzz replay drivers' objects among them).
.SECONDARY:

# Commands are shown in full with V=1.
Q = $(if $(V),,@)
say = $(if $(V),,@printf '  %-6s %s\n' $(1) $(2);)

# Plain objects.
$(BUILD)/obj/%.o: %.c $(HEADERS) $(OVS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$<) $(CC) $(BASE_CFLAGS) $(CFLAGS) -c $< -o $@

# Objects for AddressSanitizer and UBSan.
$(BUILD)/asan/%.o: %.c $(HEADERS) $(OVS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC-SAN,$<) $(CC) $(BASE_CFLAGS) -O1 $(SAN_FLAGS) -c $< -o $@

$(BIN)/sfmesh-controller: $(call obj,obj,$(CONTROLLER_SRCS) $(CORE_SRCS) \
		$(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(CFLAGS) $^ -o $@ $(OVS_LIBS) $(EVENT_LIBS) $(YAML_LIBS)

$(BIN)/sfmesh-agent: $(call obj,obj,$(AGENT_MAIN_SRCS) $(AGENT_SRCS) \
		$(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(CFLAGS) $^ -o $@ $(OVS_LIBS) $(EVENT_LIBS) $(YAML_LIBS)

$(BIN)/sfmesh-ctl: $(call obj,obj,$(CTL_SRCS) $(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(CFLAGS) $^ -o $@ $(OVS_LIBS) $(EVENT_LIBS) $(YAML_LIBS)

# The scenarios' link flapper (topo/scenario.py --failure flap): plain C.
$(BUILD)/tests/linkflap: tests/linkflap.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<) $(CC) -std=gnu11 -g -O2 -D_GNU_SOURCE $(WARN) $< -o $@

# The daemon built with the sanitizers, for the bad-input tests.
$(ASAN_BIN)/sfmesh-controller: $(call obj,asan,$(CONTROLLER_SRCS) \
		$(CORE_SRCS) $(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(SAN_FLAGS) $^ -o $@ $(OVS_LIBS) $(EVENT_LIBS) $(YAML_LIBS)

$(ASAN_BIN)/sfmesh-agent: $(call obj,asan,$(AGENT_MAIN_SRCS) $(AGENT_SRCS) \
		$(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(SAN_FLAGS) $^ -o $@ $(OVS_LIBS) $(EVENT_LIBS) $(YAML_LIBS)

$(ASAN_BIN)/sfmesh-ctl: $(call obj,asan,$(CTL_SRCS) $(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(SAN_FLAGS) $^ -o $@ $(OVS_LIBS) $(EVENT_LIBS) $(YAML_LIBS)

$(BUILD)/tests/unit-tests: $(call obj,obj,$(UNIT_SRCS) $(CORE_SRCS) \
		$(AGENT_SRCS) $(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(CFLAGS) $^ -o $@ $(OVS_LIBS) $(EVENT_LIBS) $(YAML_LIBS) $(CUNIT_LIBS)

$(BUILD)/tests/unit-tests-asan: $(call obj,asan,$(UNIT_SRCS) $(CORE_SRCS) \
		$(AGENT_SRCS) $(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(SAN_FLAGS) $^ -o $@ $(OVS_LIBS) $(EVENT_LIBS) $(YAML_LIBS) $(CUNIT_LIBS)

# The fuzz targets' replay driver, built with gcc and the sanitizers, runs
# the checked-in corpus and every past crash in 'make check'.
$(BUILD)/tests/%-replay: $(call obj,asan,tests/fuzz/replay.c $(FUZZ_SRCS)) \
		$(BUILD)/asan/tests/fuzz/%.o
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(SAN_FLAGS) $^ -o $@ $(OVS_LIBS) $(EVENT_LIBS) $(YAML_LIBS)

# The libFuzzer builds, with clang.
FUZZ_CFLAGS = -std=gnu11 -g -O1 -D_GNU_SOURCE -DSFMESH_VERSION=\"$(VERSION)\" \
	-Ilib -Iofctl-app -Iagent -I$(BUILD)/gen $(OVS_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_SRCS) $(HEADERS) $(OVS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@) clang $(FUZZ_CFLAGS) tests/fuzz/$*.c $(FUZZ_SRCS) -o $@ $(OVS_LIBS) \
		$(EVENT_LIBS) $(YAML_LIBS)

unit: $(BUILD)/tests/unit-tests
	@tests/run-suite.sh unit $(BUILD)/tests/unit-tests

unit-asan: $(BUILD)/tests/unit-tests-asan
	@tests/run-suite.sh unit-asan $(BUILD)/tests/unit-tests-asan

fuzz-regress: $(patsubst %,$(BUILD)/tests/%-replay,$(FUZZ_TARGETS))
	@tests/run-suite.sh fuzz-regress tests/fuzz/run-regress.sh $(BUILD)/tests

integration: all $(ASAN_BIN)/sfmesh-controller $(ASAN_BIN)/sfmesh-ctl \
		$(ASAN_BIN)/sfmesh-agent
	@tests/run-suite.sh integration tests/integration/run.sh $(BIN) \
		$(ASAN_BIN)

check: deps
	@$(MAKE) --no-print-directory all
	@rm -f $(BUILD)/results
	@$(MAKE) --no-print-directory -k unit unit-asan fuzz-regress \
		integration; status=$$?; \
	tests/summary.sh $(BUILD)/results; exit $$(( status || $$? ))

demo: deps
	@$(MAKE) --no-print-directory all
	@topo/demo.sh $(BIN)

# Benchmarks (root): every part, or BENCH_PARTS="failover ...", each against
# a baseline in the same run; writes build/bench/*.json, docs/benchmarks.md
# and docs/img/bench-*.png.
bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run.sh $(BENCH_PARTS)

fuzz: $(patsubst %,$(BUILD)/fuzz/%,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$t; \
		$(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=$(BUILD)/fuzz/ \
			$$(test -f tests/fuzz/$$t.dict \
			   && echo -dict=tests/fuzz/$$t.dict) \
			$(BUILD)/fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

clean:
	rm -rf $(BUILD)
