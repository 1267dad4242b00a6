# xdp-egress build. BPF objects -> bpftool skeletons -> one static CLI.
# Everything is built under build/; the source tree stays clean.

CLANG   ?= clang
CC      ?= gcc
BPFTOOL ?= bpftool
OUT     := build

ARCH    := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
CFLAGS  ?= -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation
# src/ is grouped by layer (cli, core, sys, report, daemon, engines); each
# folder is on the include path, so a header is named without its folder.
SRC_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard src/*/*.c))))
SRC_HDRS := $(wildcard src/*/*.h)
CFLAGS  += -Iinclude -I$(OUT) $(addprefix -I,$(SRC_DIRS))
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Wall \
              -Iinclude -I$(OUT) -I/usr/include/$(shell uname -m)-linux-gnu
# make XE_BUILD_SALT=N: programs whose bytes differ (bpf/build_salt.h).
ifneq ($(XE_BUILD_SALT),)
BPF_CFLAGS += -DXE_BUILD_SALT=$(XE_BUILD_SALT)
endif
LDLIBS  := -lcurl -lbpf -lmnl -lcjson -lmicrohttpd -lnetfilter_conntrack -lnftables -lelf -lz -lm

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS    := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
LIB_SRCS := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
LIB_OBJS := $(patsubst src/%.c,$(OUT)/src/%.o,$(LIB_SRCS))
ifneq ($(NEXT_OF),)
# make next: only the objects that embed a BPF skeleton differ; the others
# are the main build's.
SKEL_USERS := $(shell grep -l '\.skel\.h"' $(LIB_SRCS))
LIB_OBJS := $(patsubst src/%.c,$(OUT)/src/%.o,$(SKEL_USERS)) \
            $(patsubst src/%.c,$(NEXT_OF)/src/%.o,$(filter-out $(SKEL_USERS),$(LIB_SRCS)))
endif
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

DEPS_APT := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libmnl-dev \
            libcjson-dev libcurl4-openssl-dev libnetfilter-conntrack-dev libnftables-dev iproute2 ethtool iperf3 iputils-ping tcpdump jq \
            python3 procps kmod containernetworking-plugins iptables \
            python3-yaml patchelf qemu-system-x86 busybox-static cpio \
            docker.io podman runc nftables sockperf gnuplot-nox \
            conntrack python3-scapy nginx-light wrk strace libclang-rt-14-dev \
            prometheus libmicrohttpd-dev curl tmux

.SECONDARY:
.PHONY: all clean deps test unit e2e demo bench bench-quick test-kernels fuzz fuzz-run next
all: $(OUT)/xdp-egress $(OUT)/xdp-egress-cni $(UNIT_BINS) $(OUT)/kernels/xk-tool

# Installs what is missing, from Debian's repository only.
deps:
	@missing=""; for p in $(DEPS_APT); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\n# make deps: start no service (dockerd would change this namespace)\nexit 101\n' \
	      > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && prc=1; \
	  fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  rc=$$?; [ -n "$$prc" ] && rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	else echo "deps: all present"; fi

$(OUT) $(OUT)/tests $(OUT)/kernels:
	mkdir -p $@

$(OUT)/vmlinux.h: | $(OUT)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/xdp_egress.h $(OUT)/vmlinux.h | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

$(OUT)/src/%.o: src/%.c $(SRC_HDRS) include/xdp_egress.h $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/xdp-egress: src/cli/main.c $(LIB_OBJS) | $(OUT)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# The CNI plugin: the same modules as the CLI, its own main and config.
$(OUT)/cni:
	mkdir -p $@

$(OUT)/cni/%.o: cni/%.c $(wildcard cni/*.h) $(SRC_HDRS) include/xdp_egress.h $(SKELS) | $(OUT)/cni
	$(CC) $(CFLAGS) -Icni -c $< -o $@

CNI_OBJS := $(patsubst cni/%.c,$(OUT)/cni/%.o,$(wildcard cni/*.c))

$(OUT)/xdp-egress-cni: $(CNI_OBJS) $(LIB_OBJS) | $(OUT)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(OUT)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB_OBJS) $(SKELS) | $(OUT)/tests
	$(CC) $(CFLAGS) -Itests/unit $< $(LIB_OBJS) -o $@ $(LDLIBS)

# The request/answer tool of tests/kernels/core.sh (libc only: it runs in
# the test VM too).
$(OUT)/kernels/xk-tool: tests/kernels/xk-tool.c | $(OUT)/kernels
	$(CC) -O2 -Wall -Wextra $< -o $@

# A second build of the same sources with salted programs, under build/next:
# the "new binary" tests/e2e/test_upgrade.sh upgrades to.
next: $(LIB_OBJS)
	@$(MAKE) --no-print-directory OUT=$(OUT)/next NEXT_OF=$(OUT) \
		XE_BUILD_SALT=$${XE_BUILD_SALT:-1} $(OUT)/next/xdp-egress

# libFuzzer harnesses of the parsers of outside input (tests/fuzz/): the
# product's own sources built again with the sanitizers, under build/fuzz/.
# libFuzzer and the sanitizer runtimes come with Debian's clang
# (libclang-rt-14-dev).
FUZZ_CC     ?= clang
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer -Iinclude -I$(OUT) $(addprefix -I,$(SRC_DIRS)) -Icni \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -Wall -Wno-unused-parameter -Wno-gnu-variable-sized-type-not-at-end
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(OUT)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS   := $(patsubst src/%.c,$(OUT)/fuzz/src/%.o,$(LIB_SRCS)) $(OUT)/fuzz/cni/conf.o \
               $(OUT)/fuzz/cni/prev_result.o

fuzz: $(FUZZ_BINS)

# The short run of make test alone (FUZZ_SECONDS each, default 10).
fuzz-run: fuzz
	tests/run.sh fuzz

$(OUT)/fuzz/cni:
	mkdir -p $@

$(OUT)/fuzz/src/%.o: src/%.c $(SRC_HDRS) include/xdp_egress.h $(SKELS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUT)/fuzz/cni/%.o: cni/%.c $(wildcard cni/*.h) $(SRC_HDRS) | $(OUT)/fuzz/cni
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUT)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJS) -o $@ $(LDLIBS)

# ---- make install / uninstall (DESTDIR, PREFIX and the dirs below) ----
# The man pages and the bash completion are written at build time by
# doc/gen-doc.c from the option tables --help prints (src/cli/cli_table.c,
# cni/conf.c); the unit from deploy/xdp-egress.service.in with these paths.
VERSION     ?= 0.1
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR  ?= /etc
CNI_BIN_DIR ?= /opt/cni/bin
DOC_OUTS    := $(OUT)/doc/xdp-egress.8 $(OUT)/doc/xdp-egress-cni.8 \
               $(OUT)/doc/xdp-egress.bash $(OUT)/doc/xdp-egress.service
# What make install puts where (uninstall removes exactly these; the
# daemon's own config only while it is still the example, see below).
INSTALLED   := $(SBINDIR)/xdp-egress $(CNI_BIN_DIR)/xdp-egress-cni \
               $(MANDIR)/man8/xdp-egress.8 $(MANDIR)/man8/xdp-egress-cni.8 \
               $(BASHCOMPDIR)/xdp-egress $(UNITDIR)/xdp-egress.service \
               $(SYSCONFDIR)/xdp-egress/daemon.json.example
CONF        := $(SYSCONFDIR)/xdp-egress/daemon.json
# tests/e2e/test_install.sh: systemd-analyze verify, man -l.
DEPS_APT    += systemd man-db

all: $(DOC_OUTS)

$(OUT)/src/cli/cli.o: CFLAGS += -DXDP_EGRESS_VERSION='"$(VERSION)"'

$(OUT)/doc:
	mkdir -p $@

$(OUT)/gen-doc: doc/gen-doc.c $(OUT)/cni/conf.o $(LIB_OBJS) | $(OUT)
	$(CC) $(CFLAGS) -Icni $^ -o $@ $(LDLIBS)

# Rewritten every build (it names SYSCONFDIR), as is the unit (its paths).
$(OUT)/doc/xdp-egress.8: $(OUT)/gen-doc deploy/daemon.json FORCE | $(OUT)/doc
	$(OUT)/gen-doc man $(SYSCONFDIR) deploy/daemon.json > $@.tmp && mv $@.tmp $@

$(OUT)/doc/xdp-egress-cni.8: $(OUT)/gen-doc deploy/10-xdp-egress.conflist | $(OUT)/doc
	$(OUT)/gen-doc cni-man deploy/10-xdp-egress.conflist > $@.tmp && mv $@.tmp $@

$(OUT)/doc/xdp-egress.bash: $(OUT)/gen-doc | $(OUT)/doc
	$(OUT)/gen-doc completion > $@.tmp && mv $@.tmp $@

$(OUT)/doc/xdp-egress.service: deploy/xdp-egress.service.in FORCE | $(OUT)/doc
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@.tmp && mv $@.tmp $@

FORCE:

.PHONY: install uninstall FORCE
install: $(OUT)/xdp-egress $(OUT)/xdp-egress-cni $(DOC_OUTS)
	install -D -m 0755 $(OUT)/xdp-egress $(DESTDIR)$(SBINDIR)/xdp-egress
	install -D -m 0755 $(OUT)/xdp-egress-cni $(DESTDIR)$(CNI_BIN_DIR)/xdp-egress-cni
	install -D -m 0644 $(OUT)/doc/xdp-egress.8 $(DESTDIR)$(MANDIR)/man8/xdp-egress.8
	install -D -m 0644 $(OUT)/doc/xdp-egress-cni.8 $(DESTDIR)$(MANDIR)/man8/xdp-egress-cni.8
	install -D -m 0644 $(OUT)/doc/xdp-egress.bash $(DESTDIR)$(BASHCOMPDIR)/xdp-egress
	install -D -m 0644 $(OUT)/doc/xdp-egress.service $(DESTDIR)$(UNITDIR)/xdp-egress.service
	install -D -m 0644 deploy/daemon.json $(DESTDIR)$(SYSCONFDIR)/xdp-egress/daemon.json.example
	@# An operator's config is never overwritten.
	@if [ -e $(DESTDIR)$(CONF) ]; then \
	  echo "install: kept $(DESTDIR)$(CONF) (the example is $(DESTDIR)$(CONF).example)"; \
	else install -m 0644 deploy/daemon.json $(DESTDIR)$(CONF) && \
	  echo "install: $(DESTDIR)$(CONF) from the example"; fi
	@echo "install: done; the daemon: systemctl daemon-reload && systemctl enable --now xdp-egress"

# Removes what install put; the config only while it is the example
# unchanged (an operator's edits stay), and its folder when empty.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@if [ -e $(DESTDIR)$(CONF) ]; then \
	  if cmp -s deploy/daemon.json $(DESTDIR)$(CONF); then rm -f $(DESTDIR)$(CONF); \
	  else echo "uninstall: kept $(DESTDIR)$(CONF): changed since install (remove it yourself)"; fi; \
	fi
	@rmdir $(DESTDIR)$(SYSCONFDIR)/xdp-egress 2>/dev/null || true

test: deps
	$(MAKE) all fuzz
	tests/run.sh

# The e2e core on the host's kernel and, in qemu, on Debian 12's own 6.1
# (tests/kernels/run.sh; XK_KERNELS picks other Debian kernel packages).
test-kernels: deps
	$(MAKE) all
	tests/kernels/run.sh

unit: all
	tests/run.sh unit

e2e: all
	tests/run.sh e2e

demo: deps
	$(MAKE) all
	demo/demo.sh

bench: deps
	$(MAKE) all
	bench/run.sh

bench-quick: deps
	$(MAKE) all
	bench/run.sh --quick

clean:
	rm -rf $(OUT)
