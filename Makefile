# xdp-egress build. BPF objects -> bpftool skeletons -> one static CLI.
# Everything is built under build/; the source tree stays clean.

CLANG   ?= clang
CC      ?= gcc
BPFTOOL ?= bpftool
OUT     := build

ARCH    := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
CFLAGS  ?= -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation
CFLAGS  += -Iinclude -I$(OUT) -Isrc
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Wall \
              -Iinclude -I$(OUT) -I/usr/include/$(shell uname -m)-linux-gnu
LDLIBS  := -lbpf -lmnl -lcjson -lmicrohttpd -lnetfilter_conntrack -lnftables -lelf -lz -lm

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS    := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
LIB_SRCS := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJS := $(patsubst src/%.c,$(OUT)/src/%.o,$(LIB_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

DEPS_APT := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libmnl-dev \
            libcjson-dev libnetfilter-conntrack-dev libnftables-dev iproute2 ethtool iperf3 iputils-ping tcpdump jq \
            python3 procps kmod containernetworking-plugins iptables \
            python3-yaml patchelf qemu-system-x86 busybox-static cpio \
            docker.io podman runc nftables sockperf gnuplot-nox \
            conntrack python3-scapy nginx-light wrk strace libclang-rt-14-dev \
            prometheus libmicrohttpd-dev curl

.SECONDARY:
.PHONY: all clean deps test unit e2e demo bench bench-quick test-kernels fuzz fuzz-run
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

$(OUT) $(OUT)/src $(OUT)/tests $(OUT)/kernels:
	mkdir -p $@

$(OUT)/vmlinux.h: | $(OUT)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/xdp_egress.h $(OUT)/vmlinux.h | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

$(OUT)/src/%.o: src/%.c $(wildcard src/*.h) include/xdp_egress.h $(SKELS) | $(OUT)/src
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/xdp-egress: src/main.c $(LIB_OBJS) | $(OUT)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# The CNI plugin: the same modules as the CLI, its own main and config.
$(OUT)/cni:
	mkdir -p $@

$(OUT)/cni/%.o: cni/%.c $(wildcard cni/*.h) $(wildcard src/*.h) include/xdp_egress.h $(SKELS) | $(OUT)/cni
	$(CC) $(CFLAGS) -Icni -c $< -o $@

$(OUT)/xdp-egress-cni: $(OUT)/cni/xdp-egress-cni.o $(OUT)/cni/conf.o $(LIB_OBJS) | $(OUT)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(OUT)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB_OBJS) $(SKELS) | $(OUT)/tests
	$(CC) $(CFLAGS) -Itests/unit $< $(LIB_OBJS) -o $@ $(LDLIBS)

# The request/answer tool of tests/kernels/core.sh (libc only: it runs in
# the test VM too).
$(OUT)/kernels/xk-tool: tests/kernels/xk-tool.c | $(OUT)/kernels
	$(CC) -O2 -Wall -Wextra $< -o $@

# libFuzzer harnesses of the parsers of outside input (tests/fuzz/): the
# product's own sources built again with the sanitizers, under build/fuzz/.
# libFuzzer and the sanitizer runtimes come with Debian's clang
# (libclang-rt-14-dev).
FUZZ_CC     ?= clang
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer -Iinclude -I$(OUT) -Isrc -Icni \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -Wall -Wno-unused-parameter -Wno-gnu-variable-sized-type-not-at-end
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(OUT)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS   := $(patsubst src/%.c,$(OUT)/fuzz/src/%.o,$(LIB_SRCS)) $(OUT)/fuzz/cni/conf.o

fuzz: $(FUZZ_BINS)

# The short run of make test alone (FUZZ_SECONDS each, default 10).
fuzz-run: fuzz
	tests/run.sh fuzz

$(OUT)/fuzz/src $(OUT)/fuzz/cni:
	mkdir -p $@

$(OUT)/fuzz/src/%.o: src/%.c $(wildcard src/*.h) include/xdp_egress.h $(SKELS) | $(OUT)/fuzz/src
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUT)/fuzz/cni/%.o: cni/%.c $(wildcard cni/*.h) $(wildcard src/*.h) | $(OUT)/fuzz/cni
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUT)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJS) -o $@ $(LDLIBS)

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
