# SPDX-License-Identifier: BSD-3-Clause
# SWTPM tools: plain GNU make.  `make`, `make check`, `make install`.
#
# Every src/common/*.c goes into build/libcommon.a, which every tool links.
# src/ca/*.c (the local CA, certificates, swtpm_cert's options, config
# files) goes into build/libca.a, which only the tools that make
# certificates link (CA_TOOLS), so the daemons carry none of it.  Every
# other src/<tool>/ directory with a main.c becomes one binary: main.c plus
# build/lib<tool>.a, the tool's other files, which unit tests link too.
# Unit tests are tests/unit/test_*.c, one binary each; a test may list
# extra linker flags (e.g. -Wl,--wrap=) in tests/unit/test_<name>.ldflags.

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
# The tools read /etc/swtpm_setup.conf and /etc/swtpm-localca.*, so the
# config files go to /etc whatever the PREFIX.
SYSCONFDIR    ?= /etc
LOCALSTATEDIR ?= /var
SYSUSERSDIR   ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR   ?= $(PREFIX)/lib/tmpfiles.d
APPARMORDIR   ?= $(SYSCONFDIR)/apparmor.d
BUILD   ?= build
SANITIZE ?=

CC      ?= cc
PKGS    := libtpms fuse3 libseccomp openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 \
           -Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes \
           -fstack-protector-strong -D_FORTIFY_SOURCE=2 -D_GNU_SOURCE -fPIE \
           -Isrc/common -Isrc/ca $(PKG_CFLAGS)
LDFLAGS += -pie -Wl,-z,relro,-z,now
LDLIBS  += $(PKG_LIBS) -lpthread

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all -U_FORTIFY_SOURCE -O1
LDFLAGS += -fsanitize=address,undefined
endif

VERSION := $(shell cat VERSION)
CFLAGS  += -DSWTPM_VERSION='"$(VERSION)"'

COMMON_SRC := $(wildcard src/common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIBCOMMON  := $(BUILD)/libcommon.a
CA_OBJ     := $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/ca/*.c))
LIBCA      := $(BUILD)/libca.a
CA_TOOLS   := setup localca cert

TOOLS      := $(notdir $(patsubst %/,%,$(dir $(wildcard src/*/main.c))))
# binary name per tool directory
bin_name    = $(if $(filter swtpm,$(1)),swtpm,swtpm_$(1))
BINS       := $(foreach t,$(TOOLS),$(BUILD)/bin/$(call bin_name,$(t)))

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check unit-check host-check vm-check vm-cuse-check \
        vm-apparmor-check vm-nfs-check install uninstall clean deps demo bench \
        asan-check powercut
all: $(BINS)

# Header dependencies come from the compiler (-MMD: $(BUILD)/**/*.d,
# included below), so editing a header rebuilds only what includes it.
$(BUILD)/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(LIBCOMMON): $(COMMON_OBJ)
$(LIBCA): $(CA_OBJ)

# The binary is main.o, the tool's own archive, then the shared ones (in
# link order: an archive before the ones it uses).
define tool_rule
$(BUILD)/lib$(1).a: $(patsubst %.c,$(BUILD)/%.o,$(filter-out src/$(1)/main.c,$(wildcard src/$(1)/*.c)))
$(BUILD)/bin/$(call bin_name,$(1)): $(BUILD)/src/$(1)/main.o $(BUILD)/lib$(1).a $(if $(filter $(1),$(CA_TOOLS)),$(LIBCA)) $(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

# The unit tests' objects are kept (not deleted as intermediate files), so
# a second `make unit-check` compiles nothing.
.SECONDARY: $(UNIT_SRC:%.c=$(BUILD)/%.o)
# A unit test links what it needs from swtpm_setup's archive, the CA's
# and the common one.
UNIT_LIBS := $(BUILD)/libsetup.a $(LIBCA) $(LIBCOMMON)
$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(UNIT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(UNIT_LIBS) \
	    $(shell cat tests/unit/test_$*.ldflags 2>/dev/null) \
	    $(LDLIBS) -lcmocka

# Unit tests run on the host; integration tests need CUSE, so they run in
# the tests/vm guest (which shares this checkout and the host root).
# Every section runs even when an earlier one fails; the summary at the
# end names each section's result (tests/check-sections).
check: all
	tests/check-sections unit=unit-check host=host-check \
	    vm-cuse=vm-cuse-check vm-apparmor=vm-apparmor-check \
	    vm-nfs=vm-nfs-check

unit-check: store-private-check $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# struct state_store is the store's own: its fields are in the private
# header state_dir.h, which only the store (src/common/state*.c) and its
# own unit tests and fuzzers include; front ends see a declaration.
STORE_PRIV_OK := src/common/state%.c src/common/state_dir.h \
                 tests/unit/test_state%.c tests/unit/test_journal.c \
                 fuzz/fuzz_state_file.c fuzz/fuzz_store_dir.c
STORE_PRIV_SCAN := $(filter-out $(STORE_PRIV_OK),$(wildcard src/*/*.c \
                   src/*/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c \
                   fuzz/*.h bench/*.c bench/*.h))
.PHONY: store-private-check
store-private-check:
	@bad=$$(grep -l '^[[:space:]]*#[[:space:]]*include[[:space:]]*"state_dir\.h"' \
	    $(STORE_PRIV_SCAN)); \
	if [ -n "$$bad" ]; then \
	    echo "the store's private header state_dir.h is included by:" \
	        $$bad "; use the functions of state.h instead" >&2; \
	    exit 1; \
	fi

# Socket-only integration tests need no CUSE and run on the host.
host-check: all
	tests/integration/run -m "not cuse and not apparmor and not libvirt_full and not nfs"

# The AppArmor profiles (data/apparmor-swtpm.in) are loaded in enforce
# mode only in a guest booted for them, never on the host.
vm-check: vm-cuse-check vm-apparmor-check vm-nfs-check
vm-cuse-check: all
	tests/vm/run-in-vm -- tests/integration/run -m cuse
# TPM state on NFS shared by two hosts (tests/vm/nfs-hosts): the guest
# runs the NFS server; about 2 minutes.
vm-nfs-check: all
	tests/vm/run-in-vm -- tests/integration/run -m nfs
vm-apparmor-check: all
	SWTPM_VM_APPARMOR=1 tests/vm/run-in-vm --apparmor -- \
	    tests/integration/run -m apparmor

# Every libvirt case (tests/integration/test_libvirt.py) on both libvirts,
# Debian 12's 9.0 and bookworm-backports' 11.x in the root that
# tests/libvirt/mkroot makes once into tests/vm/cache; `make check` runs
# the core subset.
.PHONY: libvirt-check
libvirt-check: all
	tests/integration/run -m libvirt

# The whole suite once more with ASan/UBSan (unit tests; CI runs this).
asan-check:
	$(MAKE) BUILD=build-asan SANITIZE=1 unit-check

# Benchmarks (bench/README.md): side-by-side ratios, never a failure on a
# number.  BENCH_ITERATIONS and friends scale them.
BENCH_BINS := $(BUILD)/bench/tpmbench $(BUILD)/bench/startbench $(BUILD)/bench/nowork \
              $(BUILD)/bench/nowork_cuse

$(BUILD)/bench/tpmbench: $(BUILD)/bench/tpmbench.o $(BUILD)/bench/target.o \
                         $(BUILD)/bench/tpmcmd.o $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/startbench: $(BUILD)/bench/startbench.o $(BUILD)/bench/tpmcmd.o
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/bench/nowork: $(BUILD)/bench/nowork.o
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/bench/nowork_cuse: $(BUILD)/bench/nowork_cuse.o
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs fuse3)

bench: all $(BENCH_BINS)
	BUILD=$(BUILD) bench/run

# Many tenants on one host (bench/README.md): N concurrent swtpm_setup runs
# on one CA, then swtpm socket and a command each, ours and Debian's 0.7.1;
# BENCH_SCALE_N=16,64,256 by default.
.PHONY: bench-scale
bench-scale: all
	BUILD=$(BUILD) bench/scale

# Real power cuts (SIGKILL of QEMU) during NV writes, state on ext4 on a
# virtio disk: ours, then Debian's swtpm 0.7.1 (docs/robustness.md).
POWERCUT_ROUNDS ?= 50
powercut: all
	tests/vm/powercut --rounds $(POWERCUT_ROUNDS) --impl ours \
	    --json bench/results/powercut-ours.json
	tests/vm/powercut --rounds $(POWERCUT_ROUNDS) --impl upstream \
	    --json bench/results/powercut-upstream.json

# The README's main job: a vTPM on a CUSE device, end to end: on this
# kernel when it has CUSE, else in the tests/vm guest (DEMO_IN_VM=1 forces
# the guest).
DEMO_IN_VM ?=
demo: all
	@if [ -z "$(DEMO_IN_VM)" ] && modprobe cuse 2>/dev/null && \
	    [ -c /dev/cuse ]; then \
	    echo "demo: this kernel has CUSE; running on the host"; \
	    tests/vm/demo.sh; \
	else \
	    echo "demo: running in the tests/vm guest" \
	        "($(if $(DEMO_IN_VM),DEMO_IN_VM is set,this kernel has no CUSE))"; \
	    tests/vm/run-in-vm -- tests/vm/demo.sh; \
	fi

deps:
	ci/install-deps

# Installed files (README.md "Installation").  Templates in data/ get the
# install paths substituted; config files in SYSCONFDIR are never
# overwritten, and uninstall removes them only while they are unchanged.
SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
            -e 's|@LOCALSTATEDIR@|$(LOCALSTATEDIR)|g' \
            -e 's|@DATADIR@|$(DATADIR)|g'
CONF_FILES := swtpm_setup.conf swtpm-localca.conf swtpm-localca.options
GEN        := $(BUILD)/data
MAN8       := $(notdir $(wildcard man/*.8))
MAN5       := $(notdir $(wildcard man/*.5))
USER_SCRIPT := $(DATADIR)/swtpm/swtpm-create-user-config-files

DATA_GEN := $(CONF_FILES) tmpfiles-swtpm.conf \
            swtpm-create-user-config-files apparmor-swtpm

# data/NAME.in (paths substituted) or data/NAME, into $(GEN).
.PHONY: install-data
install-data:
	@mkdir -p $(GEN)
	@set -e; for f in $(DATA_GEN); do \
	    if [ -f data/$$f.in ]; then $(SUBST) data/$$f.in > $(GEN)/$$f; \
	    else cp data/$$f $(GEN)/$$f; fi; \
	done

install: all install-data
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR) \
	    $(DESTDIR)$(DATADIR)/swtpm $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(APPARMORDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(addprefix man/,$(MAN8)) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(addprefix man/,$(MAN5)) $(DESTDIR)$(MANDIR)/man5/
	set -e; for f in $(CONF_FILES); do \
	    if [ -e $(DESTDIR)$(SYSCONFDIR)/$$f ]; then \
	        echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/$$f"; \
	    else install -m 0644 $(GEN)/$$f $(DESTDIR)$(SYSCONFDIR)/; fi; \
	done
	install -m 0755 $(GEN)/swtpm-create-user-config-files \
	    $(DESTDIR)$(USER_SCRIPT)
	install -m 0644 data/sysusers-swtpm.conf \
	    $(DESTDIR)$(SYSUSERSDIR)/swtpm.conf
	install -m 0644 $(GEN)/tmpfiles-swtpm.conf \
	    $(DESTDIR)$(TMPFILESDIR)/swtpm.conf
	install -m 0644 $(GEN)/apparmor-swtpm $(DESTDIR)$(APPARMORDIR)/swtpm

uninstall: install-data
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(BINS))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(MAN8)) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(MAN5)) \
	    $(DESTDIR)$(USER_SCRIPT) $(DESTDIR)$(SYSUSERSDIR)/swtpm.conf \
	    $(DESTDIR)$(TMPFILESDIR)/swtpm.conf $(DESTDIR)$(APPARMORDIR)/swtpm
	-rmdir $(DESTDIR)$(DATADIR)/swtpm
	set -e; for f in $(CONF_FILES); do \
	    if cmp -s $(GEN)/$$f $(DESTDIR)$(SYSCONFDIR)/$$f; then \
	        rm -f $(DESTDIR)$(SYSCONFDIR)/$$f; \
	    elif [ -e $(DESTDIR)$(SYSCONFDIR)/$$f ]; then \
	        echo "keeping changed $(DESTDIR)$(SYSCONFDIR)/$$f"; fi; \
	done

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- Fuzzing (fuzz/README.md) --------------------------------------------
# One libFuzzer harness per untrusted parser, linked against src/common
# built with clang, ASan and UBSan in $(FUZZ_BUILD).  `make fuzz` runs each
# for FUZZ_SECONDS; `make fuzz-check` replays fuzz/regress/ and runs each
# for FUZZ_CHECK_SECONDS, failing on any crash (CI runs this one).
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 300
FUZZ_CHECK_SECONDS ?= 15
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=all
# No -Werror: gcc's -Werror build is the gate; a clang-only warning in
# src/common must not stop the fuzzers.
FUZZ_CFLAGS  := -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
                -Wno-missing-field-initializers \
                -D_GNU_SOURCE -DSWTPM_VERSION='"$(VERSION)"' -Isrc/common \
                $(PKG_CFLAGS) $(FUZZ_FLAGS)
FUZZ_NAMES   := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/%)
FUZZ_LIB     := $(FUZZ_BUILD)/libcommon.a

.PHONY: fuzz fuzz-build fuzz-check
$(FUZZ_BUILD)/obj/%.o: src/common/%.c $(wildcard src/common/*.h) VERSION
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_LIB): $(COMMON_SRC:src/common/%.c=$(FUZZ_BUILD)/obj/%.o)
	rm -f $@
	ar rcs $@ $^

# A harness may list extra linker flags in fuzz/fuzz_<name>.ldflags.
$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(wildcard fuzz/*.h) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) \
	    $(shell cat fuzz/fuzz_$*.ldflags 2>/dev/null) $(PKG_LIBS) -lpthread

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-check: fuzz-build
	fuzz/run $(FUZZ_BUILD) $(FUZZ_CHECK_SECONDS)

# ---- Sanitized daemons in the VM (docs/robustness.md) --------------------
# The CUSE integration tests (ASAN_VM_TESTS: pytest arguments; quote with
# double quotes, they land in a single-quoted sh -c) with every tool and
# daemon built with ASan and UBSan in build-asan.  Nothing recovers: a finding aborts the
# process, which fails its test.  The daemons' stderr is /dev/null, so
# log_path asks for report files in the guest's /tmp/asan, and any file
# there fails the run (gcc's combined runtimes often print to stderr
# regardless).  Leak checking is off: LeakSanitizer's stop-the-world
# thread uses ptrace, which the seccomp allowlist refuses.  CI runs a
# subset (.ci/run); the whole CUSE suite takes about 6 minutes.
ASAN_VM_TESTS ?= -m cuse
ASAN_VM_OPTIONS := detect_leaks=0:log_path=/tmp/asan/report
.PHONY: asan-vm-check
asan-vm-check:
	$(MAKE) BUILD=build-asan SANITIZE=1 all
	BUILD=build-asan tests/vm/run-in-vm --mem 2048 -- sh -c '\
	    mkdir -m 1777 /tmp/asan && \
	    export ASAN_OPTIONS=$(ASAN_VM_OPTIONS) \
	        UBSAN_OPTIONS=print_stacktrace=1:log_path=/tmp/asan/report && \
	    { tests/integration/run $(ASAN_VM_TESTS); rc=$$?; } ; \
	    if ls /tmp/asan/report* >/dev/null 2>&1; then \
	        cat /tmp/asan/report*; echo "sanitizer reports above" >&2; \
	        exit 1; fi; exit $$rc'
