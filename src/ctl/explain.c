/* Layout of explain replies. The daemon decides what to say about candidates,
 * pairs and the path in use; p2pvpnctl stays a dumb printer so that what it
 * shows is exactly what the daemon reported, in the daemon's order. */
#include "ctl/explain.h"

const char *const ctl_explain_block_keys[] = {"peer", NULL};

static void put_key(FILE *f, const char *key, bool colour)
{
	if (colour)
		fputs("\x1b[1m", f);
	for (; *key; key++)
		fputc(*key == '_' ? ' ' : *key, f);
	if (colour)
		fputs("\x1b[0m", f);
	fputs(": ", f);
}

static void put_clean(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

void ctl_explain_text(FILE *f, const struct ctl_reply *r, bool colour)
{
	for (size_t i = 0; i < r->n_blocks; i++) {
		const struct ctl_block *b = &r->blocks[i];

		if (i)
			fputc('\n', f);
		for (size_t k = 0; k < b->n; k++) {
			if (k)
				fputs("  ", f);
			put_key(f, b->kv[k].key, colour);
			put_clean(f, b->kv[k].value);
			fputc('\n', f);
		}
	}
}
