// SPDX-License-Identifier: GPL-2.0
/*
 * The attachment record's fixes (src/core/record.c), without a kernel: every
 * fix written with fix_json() is read back by fixes_from_json() with its
 * role and uplink (detach decides who owns a fix from those, never from
 * its "why" text), however many there are: records once kept at most 8
 * and dropped the rest without a word. An entry that is not a fix is
 * skipped, the others kept. journal() into a real meta map (a folder of
 * its own under /sys/fs/bpf, with no dot in its name: bpffs refuses those;
 * removed at the end): a record too large for the map fails, and the one
 * before it stays whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "attach_int.h"
#include "pins.h"
#include "unit.h"

#define N_FIXES 20

static void make_fix(struct fix *f, int i)
{
	memset(f, 0, sizeof(*f));
	f->netns_ino = 4026531000UL + i;
	f->netns_cookie = 1000ULL + i;
	snprintf(f->ifname, sizeof(f->ifname), "veth%d", i);
	f->offload = (enum offload)(i % OFFLOAD_MAX);
	f->was = i & 1;
	f->now = !f->was;
	f->role = (enum fix_role)(i % FIX_ROLE_MAX);
	if (f->role == FIX_UPLINK_PEER)
		snprintf(f->uplink, sizeof(f->uplink), "up%d", i);
	/* A "why" that names another uplink: only the role and uplink count.
	 * As long as attach's own (about 100 characters). */
	snprintf(f->why, sizeof(f->why), "peer of veth uplink decoy%d: native "
		 "XDP there loses the partial checksums of what the peer sends", i);
}

static int same_fix(const struct fix *a, const struct fix *b)
{
	return a->netns_ino == b->netns_ino && a->netns_cookie == b->netns_cookie &&
	       !strcmp(a->ifname, b->ifname) && a->offload == b->offload &&
	       a->was == b->was && a->now == b->now && a->role == b->role &&
	       !strcmp(a->uplink, b->uplink) && !strcmp(a->why, b->why);
}

static void test_many_fixes_round_trip(void)
{
	struct fix want[N_FIXES], *got = NULL;
	cJSON *m = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(m, "fixes");
	int i, n, same = 0;

	for (i = 0; i < N_FIXES; i++) {
		make_fix(&want[i], i);
		cJSON_AddItemToArray(arr, fix_json(&want[i]));
	}
	n = fixes_from_json(m, &got);
	ASSERT_EQ(n, N_FIXES, "record/fixes_from_json_reads_all_20");
	for (i = 0; i < n && i < N_FIXES; i++)
		same += same_fix(&got[i], &want[i]);
	ASSERT_EQ(same, N_FIXES, "record/fixes_round_trip_exact");
	CHECK(n > 1 && got[1].role == FIX_UPLINK_PEER && !strcmp(got[1].uplink, "up1"),
	      "record/fix_role_and_uplink_structured", "role %d, uplink '%s'",
	      n > 1 ? (int)got[1].role : -1, n > 1 ? got[1].uplink : "");
	free(got);
	cJSON_Delete(m);
}

static void test_not_a_fix_skipped(void)
{
	const char *js = "{\"fixes\":["
		"{\"ifname\":\"a\",\"offload\":\"tx-checksumming\",\"role\":\"container\"},"
		"{\"ifname\":\"b\",\"offload\":\"tx-checksumming\",\"role\":\"somebody\"},"
		"{\"ifname\":\"c\",\"offload\":\"no-such-offload\",\"role\":\"auto\"},"
		"{\"offload\":\"generic-receive-offload\",\"role\":\"auto\"},"
		"{\"ifname\":\"e\",\"offload\":\"generic-receive-offload\","
		"\"role\":\"uplink_peer\",\"uplink\":\"up0\",\"now\":true}]}";
	cJSON *m = cJSON_Parse(js);
	struct fix *got = NULL;
	int n = m ? fixes_from_json(m, &got) : -1;

	CHECK(n == 2 && !strcmp(got[0].ifname, "a") && got[0].role == FIX_CONTAINER &&
	      !strcmp(got[1].ifname, "e") && got[1].role == FIX_UPLINK_PEER &&
	      got[1].offload == OFFLOAD_GRO && got[1].now &&
	      !strcmp(got[1].uplink, "up0"),
	      "record/entries_not_fixes_skipped_rest_kept", "n %d", n);
	free(got);
	cJSON_Delete(m);
}

static void test_no_fixes(void)
{
	cJSON *m = cJSON_Parse("{\"ifname\":\"h1\"}");
	struct fix *got = NULL;
	int n = fixes_from_json(m, &got);

	CHECK(n == 0 && got, "record/no_fixes_array_zero", "n %d, array %p", n,
	      (void *)got);
	free(got);
	cJSON_Delete(m);
}

static void test_journal_full_record_fails(void)
{
	char tmpl[] = "/sys/fs/bpf/xe-unit-record-XXXXXX", buf[META_SIZE];
	struct attach_state *s = calloc(1, sizeof(*s));
	struct fix *f = calloc(N_FIXES, sizeof(*f));
	cJSON *m = NULL;
	int i, rc, err, n = -1;

	if (!s || !f || !mkdtemp(tmpl)) {
		CHECK(0, "record/journal_setup", "%s: %s", tmpl, strerror(errno));
		free(s);
		free(f);
		return;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", tmpl);
	s->phase = "attaching";
	s->fixes = f;
	s->max_fixes = N_FIXES;
	for (i = 0; i < N_FIXES; i++)
		make_fix(&f[i], i);
	s->n_fixes = 6;
	rc = journal(s);
	ASSERT_EQ(rc, 0, "record/journal_6_fixes_fits");
	s->n_fixes = N_FIXES;
	fprintf(stderr, "# record/journal_20_fixes_fails: an error is expected:\n");
	errno = 0;
	rc = journal(s);
	err = errno;
	CHECK(rc == -1 && err == E2BIG, "record/journal_20_fixes_fails",
	      "rc %d, errno %s", rc, strerror(err));
	if (!meta_read(tmpl, buf, sizeof(buf)))
		m = cJSON_Parse(buf);
	if (m) {
		struct fix *got = NULL;

		n = fixes_from_json(m, &got);
		free(got);
	}
	ASSERT_EQ(n, 6, "record/journal_previous_record_whole");
	cJSON_Delete(m);
	pins_remove_dir(tmpl);
	rmdir(tmpl);
	free(s->fixes);
	free(s);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_many_fixes_round_trip();
	test_not_a_fix_skipped();
	test_no_fixes();
	test_journal_full_record_fails();
	UNIT_EXIT();
}
