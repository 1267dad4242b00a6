// SPDX-License-Identifier: GPL-2.0
/*
 * What user space reads back from disk and pins. The first input byte
 * picks the reader; the rest is the file or the map value:
 *   0  the daemon's record RUN_DIR/containers.json (daemon_state_load)
 *   1  the daemon's --config (daemon_load_config), then the fixture
 *      containers' inspect answers judged under it (daemon_inspect_parse)
 *   2  an attachment record, the JSON in an if<IFINDEX>/meta map (cut at
 *      META_SIZE as meta_read does): status's lines (report_print_record)
 *      and its --json form
 */
#include "fuzz.h"
#include "daemon.h"
#include "pins.h"
#include "report.h"

/* Inspect answers of tests/unit/test_docker.c's kind: labels, networks. */
static const char *const containers[] = {
	"{\"Id\": \"4f2a\", \"Name\": \"/c1\", \"State\": {\"Running\": true, "
	"\"Pid\": 4242}, \"Config\": {\"Labels\": {\"xdp-egress.enable\": "
	"\"true\", \"xdp-egress.mode\": \"native\", \"xdp-egress.uplink\": "
	"\"up0, up1,,up2\", \"xdp-egress.container-if\": \"eth1\", "
	"\"xdp-egress.ct-size\": \"16\"}}, \"NetworkSettings\": {\"Networks\": "
	"{\"bridge\": {\"MacAddress\": \"02:42:ac:11:00:02\"}}}}",
	"{\"Id\": \"77aa\", \"Name\": \"/c2\", \"State\": {\"Running\": true, "
	"\"Pid\": 77}, \"Config\": {\"Labels\": {}}, \"NetworkSettings\": "
	"{\"Networks\": {\"xe-net\": {}, \"other\": {}}}}",
};
static cJSON *inspects[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;

	for (i = 0; i < 2; i++)
		if (!(inspects[i] = cJSON_Parse(containers[i])))
			abort();
	fuzz_quiet_stdout();
	return 0;
}

static void record(const uint8_t *data, size_t size)
{
	char *buf = fuzz_str(data, size < META_SIZE - 1 ? size : META_SIZE - 1);
	cJSON *m = cJSON_Parse(buf), *dup;
	char *s;

	free(buf);
	if (!m)
		return;
	report_print_record(m, "/sys/fs/bpf/xdp-egress/ns1/if2", "attached");
	dup = cJSON_Duplicate(m, 1);
	cJSON_AddStringToObject(dup, "state", "attached");
	s = cJSON_Print(dup);
	free(s);
	cJSON_Delete(dup);
	cJSON_Delete(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct daemon *d;
	size_t i;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		d = daemon_new();
		daemon_state_load(d, fuzz_file(data + 1, size - 1));
		daemon_free(d);
		break;
	case 1:
		d = daemon_new();
		if (!daemon_load_config(d, fuzz_file(data + 1, size - 1)))
			for (i = 0; i < 2; i++) {
				struct container_req r;

				daemon_inspect_parse(d, inspects[i], "x", &r);
				daemon_argv_free(&r.opts);
			}
		daemon_free(d);
		break;
	case 2:
		record(data + 1, size - 1);
		break;
	}
	return 0;
}
