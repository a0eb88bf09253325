/* Fuzz harness for the control protocol parsers: each input is tried as a
 * request (control/control.h) and as a reply (control/client.h), and a reply
 * that parses is printed by every p2pvpnctl formatter. Checked beyond "no
 * crash": parsed requests respect the grammar's bounds, reply blocks cover
 * exactly the parsed pairs, and the JSON output carries no raw control byte. */
#include "control/client.h"
#include "control/control.h"
#include "ctl/explain.h"
#include "ctl/show.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const char *buf, size_t size)
{
	static struct ctl_request req;

	if (!ctl_request_parse(buf, size, &req))
		return;
	if (req.command[0] == '\0' || req.n_pairs > CTL_PAIRS_MAX)
		abort();
	for (size_t i = 0; i < req.n_pairs; i++)
		if (req.pairs[i].key[0] == '\0' || strchr(req.pairs[i].value, '\n'))
			abort();
	if (req.n_pairs && ctl_request_get(&req, req.pairs[0].key) != req.pairs[0].value)
		abort();
}

static void format_all(const struct ctl_reply *r)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return;
	ctl_show_json(f, r, 0);
	fclose(f);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)out[i] < 0x20 && out[i] != '\n')
			abort();
	free(out);
	f = open_memstream(&out, &len);
	if (!f)
		return;
	ctl_show_text(f, r, true);
	ctl_show_text(f, r, false);
	ctl_explain_text(f, r, false);
	fclose(f);
	free(out);
}

static void check_reply(const char *buf, size_t size, const char *const *keys)
{
	struct ctl_reply r;
	size_t total = 0;

	if (ctl_reply_parse(buf, size, keys, &r) != 0)
		return;
	for (size_t i = 0; i < r.n_blocks; i++) {
		if (r.blocks[i].n == 0 || r.blocks[i].kv != r.kvs + total)
			abort();
		total += r.blocks[i].n;
	}
	if (r.err < 0)
		abort();
	format_all(&r);
	ctl_reply_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	check_request(buf, size);
	check_reply(buf, size, ctl_show_block_keys);
	check_reply(buf, size, ctl_explain_block_keys);
	check_reply(buf, size, NULL);
	return 0;
}
