// SPDX-License-Identifier: GPL-2.0
/*
 * Loading: the egress program with its load-time settings, sharing the
 * namespace's maps (or creating and pinning them, with the namespace's
 * conntrack settings); the return-path program on each uplink (uplink.c);
 * the tracepoints that count redirect errors; then attaching (XDP through
 * a bpf_link, or the tc program) and pinning the link and the maps status
 * reads in the attachment's folder.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach_int.h"
#include "flows.h"
#include "kct.h"
#include "log.h"
#include "pins.h"
#include "tchook.h"
#include "uplink.h"
#include "egress.skel.h"
#include "redirect_errors.skel.h"

int pin_fd(int fd, const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_pin(fd, path);
}

/* Redirect errors: one pair of tracepoint programs per host namespace,
 * pinned in ns_dir/errors, loaded by the first attachment. */
static void start_error_counting(struct attach_state *s)
{
	struct redirect_errors_bpf *e;
	struct bpf_link *l1 = NULL, *l2 = NULL;
	char dir[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX], pm[PATH_MAX];
	struct stat st;
	int err;

	snprintf(dir, sizeof(dir), "%s/errors", s->ns_dir);
	snprintf(s->err_counting, sizeof(s->err_counting),
		 "counted by tracepoints xdp_redirect_err and xdp_devmap_xmit");
	if (!stat(dir, &st))
		return;
	e = redirect_errors_bpf__open();
	if (!e)
		goto fail;
	e->rodata->watched_netns_ino = (__u32)s->t.host_netns_ino;
	err = redirect_errors_bpf__load(e);
	if (!err) {
		l1 = bpf_program__attach(e->progs.count_redirect_err);
		l2 = bpf_program__attach(e->progs.count_devmap_drops);
	}
	snprintf(p1, sizeof(p1), "%s/link_redirect_err", dir);
	snprintf(p2, sizeof(p2), "%s/link_devmap_xmit", dir);
	snprintf(pm, sizeof(pm), "%s/redirect_errs", dir);
	if (err || !l1 || !l2 || (mkdir(dir, 0700) && errno != EEXIST) ||
	    bpf_link__pin(l1, p1) || bpf_link__pin(l2, p2) ||
	    bpf_map__pin(e->maps.redirect_errs, pm)) {
		pins_remove_dir(dir);
		bpf_link__destroy(l1);
		bpf_link__destroy(l2);
		redirect_errors_bpf__destroy(e);
		goto fail;
	}
	bpf_link__destroy(l1); /* pinned links outlive their fds */
	bpf_link__destroy(l2);
	redirect_errors_bpf__destroy(e);
	return;
fail:
	snprintf(s->err_counting, sizeof(s->err_counting),
		 "unavailable: tp_btf xdp_redirect_err/xdp_devmap_xmit could "
		 "not be attached");
	pr_warn("redirect errors will not be counted: the xdp tracepoints "
		"could not be attached");
}

void egress_rodata_set(struct egress_bpf *skel, int l3_ifindex,
		       const unsigned char *router_mac,
		       const unsigned char *source_mac, int auto_mode)
{
	int i;

	skel->rodata->l3_ifindex = l3_ifindex;
	for (i = 0; i < 6; i++) {
		skel->rodata->router_mac[i] = router_mac[i];
		skel->rodata->source_mac[i] = source_mac ? source_mac[i] : 0;
	}
	skel->rodata->check_router_mac = 1;
	skel->rodata->check_source_mac = source_mac != NULL;
	skel->rodata->xdp_marks_passed = auto_mode;
	skel->rodata->flows_off = flows_off_by_env();
}

int egress_tx_ports_fill(struct egress_bpf *skel, const int *ifindex,
			 const char *const *names, int n)
{
	int map_fd = bpf_map__fd(skel->maps.tx_ports);
	int i;

	for (i = 0; i < n; i++) {
		struct bpf_devmap_val v = { .ifindex = ifindex[i] };
		__u32 key = ifindex[i];

		if (bpf_map_update_elem(map_fd, &key, &v, 0)) {
			pr_err("uplink %s (ifindex %d) cannot be a redirect target "
			       "(%s): it is gone, or its driver does not support "
			       "XDP transmit; choose another --uplink",
			       names[i], ifindex[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Open and load the egress program for this attachment, sharing the
 * namespace's maps (or creating and pinning them). */
int load_egress(struct attach_state *s)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .kconfig = kernel_kconfig_extra());
	struct kct_config cfg = {};
	__u32 zero = 0;
	int fd, created;

	s->skel = egress_bpf__open_opts(&oopts);
	if (!s->skel)
		goto fail;
	egress_rodata_set(s->skel, s->l3_ifindex != s->t.host.ifindex ?
				   s->l3_ifindex : 0,
			  s->router_mac, s->has_mac ? s->mac : NULL, s->adaptive);
	if (pins_reuse_shared(s->skel->obj, s->ns_dir))
		return -1;
	if (egress_bpf__load(s->skel))
		goto fail;
	fd = pins_open(s->ns_dir, "kct_config");
	created = fd < 0;
	if (fd >= 0)
		close(fd);
	if (pins_pin_shared(s->skel->obj, s->ns_dir))
		return -1;
	if (created) {
		/* The namespace's first attachment: its conntrack settings. */
		cfg.nft_table_ours = s->nft_created;
		if (kct_config_read(&cfg) ||
		    bpf_map_update_elem(bpf_map__fd(s->skel->maps.kct_config),
					&zero, &cfg, 0))
			return -1;
	} else {
		kct_config_refresh(s->ns_dir);
		/* Someone removed the table since; this attach made it again. */
		if (s->nft_created) {
			fd = bpf_map__fd(s->skel->maps.kct_config);
			if (!bpf_map_lookup_elem(fd, &zero, &cfg)) {
				cfg.nft_table_ours = s->nft_created;
				bpf_map_update_elem(fd, &zero, &cfg, 0);
			}
		}
	}
	return fill_own_sources(s);
fail:
	pr_err("cannot load the egress BPF program: %s%s%s (run as root, "
	       "kernel with BPF, BTF and nf_conntrack; -v shows libbpf's log "
	       "and the verifier's)", strerror(errno),
	       *log_libbpf_last() ? "; libbpf: " : "", log_libbpf_last());
	return -1;
}

/* The return path: one uplink program per uplink, shared by containers. */
int ensure_uplinks(struct attach_state *s)
{
	enum uplink_mode runs;
	int i;

	for (i = 0; i < s->n_uplinks; i++) {
		if (uplink_ensure(s->ns_dir, &s->uplinks[i], s->uplink_mode,
				  s->caps.tcx, &s->uplink_created[i], &runs))
			return -1;
		s->uplink_run[i] = runs;
	}
	return 0;
}

/* The uplinks into the attachment's devmap (the redirect targets). */
static int fill_tx_ports(struct attach_state *s)
{
	const char *names[MAX_UPLINKS];
	int ifindex[MAX_UPLINKS], i;

	for (i = 0; i < s->n_uplinks; i++) {
		names[i] = s->uplinks[i].name;
		ifindex[i] = s->uplinks[i].ifindex;
	}
	return egress_tx_ports_fill(s->skel, ifindex, names, s->n_uplinks);
}

/* The tc program, through tcx or as a clsact filter (tchook.h). */
static int attach_tc(struct attach_state *s, struct bpf_program *prog)
{
	struct tc_hook_state st;

	if (s->clsact) {
		/* Recorded before: a qdisc made here must not outlive
		 * a kill (detach removes it only if it is empty). */
		s->clsact_created = 1;
		if (journal(s))
			return -1;
	}
	if (tc_hook_attach(s->t.host.ifindex, s->t.host.name,
			   bpf_program__fd(prog), s->clsact, &st))
		return -1;
	s->link_fd = st.link_fd;
	s->clsact_created = st.clsact_created;
	return 0;
}

/* The XDP program, native or generic, through a bpf_link. */
static int attach_xdp(struct attach_state *s, struct bpf_program *prog)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	int err;

	lopts.flags = s->native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	s->link_fd = bpf_link_create(bpf_program__fd(prog),
				     s->t.host.ifindex, BPF_XDP, &lopts);
	if (s->link_fd >= 0)
		return 0;
	err = errno;
	if (err == EBUSY || err == EEXIST)
		pr_err("%s already has an XDP program in this mode; "
		       "remove it first (ip link set dev %s xdp off)",
		       s->t.host.name, s->t.host.name);
	else
		pr_err("attaching XDP in %s mode to %s failed: %s%s",
		       mode_name(s), s->t.host.name, strerror(err),
		       s->native ? "; try --mode generic" : "");
	return -1;
}

/* The link, the program auto mode switches in, and the maps status reads. */
static int pin_attachment(struct attach_state *s, struct bpf_program *prog)
{
	if (mkdir(s->dir, 0700) && errno != EEXIST) {
		pr_err("cannot create %s: %s", s->dir, strerror(errno));
		return -1;
	}
	if ((s->adaptive && pin_fd(bpf_program__fd(s->skel->progs.xdp_egress),
				   s->dir, "xdp_prog")) ||
	    (s->link_fd >= 0 && pin_fd(s->link_fd, s->dir, "link")) ||
	    (s->clsact && pin_fd(bpf_program__fd(prog), s->dir, "tc_prog")) ||
	    pin_fd(bpf_map__fd(s->skel->maps.egress_stats), s->dir, "egress_stats") ||
	    pin_fd(bpf_map__fd(s->skel->maps.own_sources), s->dir, "own_sources") ||
	    pin_fd(bpf_map__fd(s->skel->maps.tx_ports), s->dir, "tx_ports")) {
		pr_err("cannot pin the program's link and maps under %s: %s",
		       s->dir, strerror(errno));
		return -1;
	}
	return 0;
}

int load_and_attach(struct attach_state *s)
{
	struct bpf_program *prog = s->tc ? s->skel->progs.tc_egress
					 : s->skel->progs.xdp_egress;
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);

	if (fill_tx_ports(s) ||
	    (s->tc ? attach_tc(s, prog) : attach_xdp(s, prog)))
		return -1;
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &info_len) == 0)
		s->prog_id = info.id;
	if (pin_attachment(s, prog))
		return -1;
	if (s->tc && !s->adaptive)
		snprintf(s->err_counting, sizeof(s->err_counting),
			 "not counted in tc mode: a failed bpf_redirect() drops "
			 "the skb in the stack (ip -s link show the uplink)");
	else
		start_error_counting(s);
	return 0;
}
