// SPDX-License-Identifier: GPL-2.0
/*
 * The user-space side of the kernel-exact fast path (see kct.h and
 * bpf/kct.h): conntrack sysctls, conntrack hooks, liberal tracking, flush.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <nftables/libnftables.h>

#include "kct.h"
#include "log.h"
#include "netns.h"
#include "pins.h"

/* include/uapi/linux/netfilter/nf_conntrack_tcp.h */
#define IP_CT_TCP_FLAG_BE_LIBERAL_ 0x08

static int read_sysctl(const char *name, unsigned long *out)
{
	char path[256];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/sys/net/netfilter/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%lu", out) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

int kct_config_read(struct kct_config *c)
{
	unsigned long est, udp, stream, liberal = 0;

	if (read_sysctl("nf_conntrack_tcp_timeout_established", &est) ||
	    read_sysctl("nf_conntrack_udp_timeout", &udp) ||
	    read_sysctl("nf_conntrack_udp_timeout_stream", &stream)) {
		pr_err("this kernel has no connection tracking (no "
		       "/proc/sys/net/netfilter/nf_conntrack_*): the fast path "
		       "carries only what the kernel's conntrack has accepted; "
		       "load nf_conntrack (modprobe nf_conntrack) or use a kernel "
		       "with CONFIG_NF_CONNTRACK");
		return -1;
	}
	read_sysctl("nf_conntrack_tcp_be_liberal", &liberal);
	/* Seconds to ms, capped where the kfunc's u32 ms would overflow. */
	c->tcp_established_ms = est > 4000000 ? 4000000000u : est * 1000;
	c->udp_ms = udp * 1000;
	c->udp_stream_ms = stream * 1000;
	c->tcp_be_liberal = !!liberal;
	if (!c->promote_after)
		c->promote_after = KCT_DEFAULT_PROMOTE_AFTER;
	return 0;
}

int kct_config_refresh(const char *ns_dir)
{
	struct kct_config c = {};
	__u32 zero = 0;
	int fd = pins_open(ns_dir, "kct_config"), ret = -1;

	if (fd < 0)
		return -1;
	if (!bpf_map_lookup_elem(fd, &zero, &c) && !kct_config_read(&c))
		ret = bpf_map_update_elem(fd, &zero, &c, 0);
	close(fd);
	return ret;
}

/* ---- conntrack hooks: one nftables rule that uses conntrack ---- */

static int nft_run(const char *cmd, int quiet)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc;

	if (!nft)
		return -1;
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	rc = nft_run_cmd_from_buffer(nft, cmd);
	if (rc && !quiet)
		pr_err("nftables refused '%s': %s", cmd,
		       nft_ctx_get_error_buffer(nft));
	nft_ctx_free(nft);
	return rc;
}

int kct_conntrack_needed(void)
{
	if (!nft_run("list chain inet " KCT_NFT_TABLE " conntrack", 1))
		return 0;
	return nft_run("list table inet " KCT_NFT_TABLE, 1) ? KCT_NFT_MADE_TABLE
							      : KCT_NFT_MADE_CHAIN;
}

int kct_conntrack_ensure(int *created)
{
	int need = kct_conntrack_needed();

	*created = 0;
	if (!need)
		return 0;
	if (nft_run("add table inet " KCT_NFT_TABLE "\n"
		    "add chain inet " KCT_NFT_TABLE " conntrack\n"
		    "add rule inet " KCT_NFT_TABLE " conntrack ct state established "
		    "comment \"xdp-egress: keeps connection tracking on in this "
		    "namespace; removed at the last detach\"", 0)) {
		pr_err("cannot make connection tracking run in this namespace "
		       "(the fast path carries only flows the kernel's conntrack "
		       "accepted): nftables must be available (CONFIG_NF_TABLES, "
		       "nf_conntrack)");
		return -1;
	}
	*created = need;
	return 0;
}

void kct_conntrack_release(int created)
{
	if (created == KCT_NFT_MADE_TABLE)
		nft_run("delete table inet " KCT_NFT_TABLE, 1);
	else if (created == KCT_NFT_MADE_CHAIN)
		nft_run("delete chain inet " KCT_NFT_TABLE " conntrack", 1);
}

/* ---- ctnetlink ---- */

struct nfct_handle *kct_open(void)
{
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);

	if (!h)
		pr_err("cannot open ctnetlink: %s", strerror(errno));
	return h;
}

void kct_close(struct nfct_handle *h)
{
	if (h)
		nfct_close(h);
}

static struct nf_conntrack *ct_of_key(const struct kct_key *k)
{
	struct nf_conntrack *ct = nfct_new();

	if (!ct)
		return NULL;
	nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, k->family);
	if (k->family == AF_INET) {
		nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_SRC, k->saddr[0]);
		nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_DST, k->daddr[0]);
	} else {
		nfct_set_attr(ct, ATTR_ORIG_IPV6_SRC, k->saddr);
		nfct_set_attr(ct, ATTR_ORIG_IPV6_DST, k->daddr);
	}
	nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, k->proto);
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, k->sport);
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, k->dport);
	return ct;
}

int kct_set_liberal(struct nfct_handle *h, const struct kct_key *k)
{
	struct nf_conntrack *ct = ct_of_key(k);
	int ret;

	if (!ct)
		return -1;
	nfct_set_attr_u8(ct, ATTR_TCP_FLAGS_ORIG, IP_CT_TCP_FLAG_BE_LIBERAL_);
	nfct_set_attr_u8(ct, ATTR_TCP_MASK_ORIG, IP_CT_TCP_FLAG_BE_LIBERAL_);
	nfct_set_attr_u8(ct, ATTR_TCP_FLAGS_REPL, IP_CT_TCP_FLAG_BE_LIBERAL_);
	nfct_set_attr_u8(ct, ATTR_TCP_MASK_REPL, IP_CT_TCP_FLAG_BE_LIBERAL_);
	ret = nfct_query(h, NFCT_Q_UPDATE, ct);
	nfct_destroy(ct);
	return ret;
}

int kct_exists(struct nfct_handle *h, const struct kct_key *k)
{
	struct nf_conntrack *ct = ct_of_key(k);
	int ret;

	if (!ct)
		return 1; /* keep it: we could not tell */
	ret = nfct_query(h, NFCT_Q_GET, ct);
	nfct_destroy(ct);
	return ret == 0 || errno != ENOENT;
}

/* ---- flush ---- */

struct flush_ctx {
	int containers_fd;
	int kernel_only_fd;
	int flows;
	int full;
};

static int is_container_addr(int fd, int family, const void *addr)
{
	struct container_key ck = { .family = family };
	struct container_val v;

	memcpy(ck.addr, addr, family == AF_INET ? 4 : 16);
	return !bpf_map_lookup_elem(fd, &ck, &v);
}

static int flush_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct,
		    void *arg)
{
	struct flush_ctx *f = arg;
	struct kct_key k = {};
	__u8 one = 1;
	int fam = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
	int v4 = fam == AF_INET;
	const void *a[4];
	int i, ours = 0;

	k.proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	if (k.proto != IPPROTO_TCP && k.proto != IPPROTO_UDP)
		return NFCT_CB_CONTINUE;
	k.family = fam;
	a[0] = nfct_get_attr(ct, v4 ? ATTR_ORIG_IPV4_SRC : ATTR_ORIG_IPV6_SRC);
	a[1] = nfct_get_attr(ct, v4 ? ATTR_ORIG_IPV4_DST : ATTR_ORIG_IPV6_DST);
	a[2] = nfct_get_attr(ct, v4 ? ATTR_REPL_IPV4_SRC : ATTR_REPL_IPV6_SRC);
	a[3] = nfct_get_attr(ct, v4 ? ATTR_REPL_IPV4_DST : ATTR_REPL_IPV6_DST);
	for (i = 0; i < 4; i++)
		if (a[i] && is_container_addr(f->containers_fd, fam, a[i]))
			ours = 1;
	if (!ours || !a[0] || !a[1])
		return NFCT_CB_CONTINUE;
	memcpy(k.saddr, a[0], v4 ? 4 : 16);
	memcpy(k.daddr, a[1], v4 ? 4 : 16);
	k.sport = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC);
	k.dport = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST);
	if (bpf_map_update_elem(f->kernel_only_fd, &k, &one, 0))
		f->full++;
	else
		f->flows++;
	return NFCT_CB_CONTINUE;
}

static int set_kernel_only_active(const char *ns_dir, int on)
{
	struct kct_config c;
	__u32 zero = 0;
	int fd = pins_open(ns_dir, "kct_config"), ret = -1;

	if (fd < 0)
		return -1;
	if (!bpf_map_lookup_elem(fd, &zero, &c)) {
		c.kernel_only_active = on;
		ret = bpf_map_update_elem(fd, &zero, &c, 0);
	}
	close(fd);
	return ret;
}

int kct_flush(const char *ns_dir)
{
	struct flush_ctx f = { .containers_fd = pins_open(ns_dir, "containers"),
			       .kernel_only_fd = pins_open(ns_dir, "kernel_only") };
	struct nfct_handle *h = NULL;
	int fams[2] = { AF_INET, AF_INET6 }, i, ret = -1;

	if (f.containers_fd < 0 || f.kernel_only_fd < 0) {
		pr_err("nothing is attached in this network namespace (no pins "
		       "under %s): there is nothing to flush", ns_dir);
		goto out;
	}
	h = kct_open();
	if (!h)
		goto out;
	/* Active before the entries go in: a flow whose entry is in place is
	 * left to the kernel from then on, within one jiffy (the flow cache). */
	if (set_kernel_only_active(ns_dir, 1))
		goto out;
	nfct_callback_register(h, NFCT_T_ALL, flush_cb, &f);
	for (i = 0; i < 2; i++) {
		int fam = fams[i];

		if (nfct_query(h, NFCT_Q_DUMP, &fam)) {
			pr_err("cannot read the kernel's conntrack table: %s",
			       strerror(errno));
			goto out;
		}
	}
	if (f.full)
		pr_warn("%d flows did not fit the kernel-only map (65536): they "
			"stay on the fast path", f.full);
	ret = f.flows;
out:
	if (f.containers_fd >= 0)
		close(f.containers_fd);
	if (f.kernel_only_fd >= 0)
		close(f.kernel_only_fd);
	kct_close(h);
	return ret;
}

long kct_kernel_only_gc(struct nfct_handle *h, const char *ns_dir)
{
	int fd = pins_open(ns_dir, "kernel_only");
	struct kct_key key, next, *prev = NULL;
	struct kct_key *gone = NULL;
	size_t n_gone = 0, cap = 0, i;
	long left = 0;

	if (fd < 0)
		return 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (kct_exists(h, &key)) {
			left++;
			continue;
		}
		if (n_gone == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct kct_key *g = realloc(gone, ncap * sizeof(*g));

			if (!g) {
				left++; /* kept for the next round */
				continue;
			}
			gone = g;
			cap = ncap;
		}
		gone[n_gone++] = key;
	}
	/* Deleted after the walk: deleting while walking restarts it. */
	for (i = 0; i < n_gone; i++)
		bpf_map_delete_elem(fd, &gone[i]);
	free(gone);
	close(fd);
	if (!left)
		set_kernel_only_active(ns_dir, 0);
	return left;
}

int cmd_flush(void)
{
	char root[PATH_MAX], ns_dir[PATH_MAX];
	int n;

	if (pins_root(root, sizeof(root)) ||
	    pins_ns_dir_self(ns_dir, sizeof(ns_dir), root))
		return 1;
	n = kct_flush(ns_dir);
	if (n < 0)
		return 1;
	pr_info("flush: %d flows of attached containers stay on the kernel path "
		"until they end, so the rules as they are now apply to them; new "
		"flows take the fast path once the kernel accepts them", n);
	return 0;
}
