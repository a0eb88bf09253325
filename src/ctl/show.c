/* Formatting of show replies. The daemon's values are checked again here:
 * numbers go out only after they parse, so a bad reply yields null (JSON)
 * or a missing line (text), never broken JSON or a misleading figure. */
#include "ctl/show.h"

#include "ctl/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BOLD "\x1b[1m"
#define GREEN "\x1b[32m"
#define YELLOW "\x1b[33m"
#define RED "\x1b[31m"
#define CYAN "\x1b[36m"
#define RESET "\x1b[0m"

const char *const ctl_show_block_keys[] = {"interface", "peer", NULL};

/* A non-empty value of b, or NULL: empty means unknown in the protocol. */
static const char *get(const struct ctl_block *b, const char *key)
{
	const char *v = ctl_block_get(b, key);

	return v && *v ? v : NULL;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* Plain decimals only ("0.42", "12"): no sign, exponent, inf or nan. */
static bool parse_ms(const char *s, double *out)
{
	size_t n;

	if (!s)
		return false;
	n = strspn(s, "0123456789");
	if (n == 0)
		return false;
	if (s[n] == '.') {
		size_t frac = strspn(s + n + 1, "0123456789");

		if (frac == 0)
			return false;
		n += 1 + frac;
	}
	if (s[n] != '\0')
		return false;
	*out = strtod(s, NULL);
	return isfinite(*out);
}

static void put_clean(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static void unit(FILE *f, const char *u, bool colour)
{
	fprintf(f, colour ? " " CYAN "%s" RESET : " %s", u);
}

void ctl_show_bytes(FILE *f, uint64_t bytes, bool colour)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	unsigned i = 0;

	if (bytes < 1024) {
		fprintf(f, "%" PRIu64, bytes);
		unit(f, "B", colour);
		return;
	}
	v /= 1024;
	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	fprintf(f, "%.2f", v);
	unit(f, units[i], colour);
}

void ctl_show_age(FILE *f, uint64_t age_s, bool colour)
{
	static const struct {
		const char *name;
		uint64_t s;
	} parts[] = {{"year", 365 * 24 * 3600ull},
		     {"day", 24 * 3600},
		     {"hour", 3600},
		     {"minute", 60},
		     {"second", 1}};
	bool first = true;

	if (age_s == 0) {
		fputs("Now", f);
		return;
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		uint64_t n = age_s / parts[i].s;
		char name[16];

		if (!n)
			continue;
		age_s %= parts[i].s;
		snprintf(name, sizeof(name), "%s%s", parts[i].name, n == 1 ? "" : "s");
		fprintf(f, "%s%" PRIu64, first ? "" : ", ", n);
		unit(f, name, colour);
		first = false;
	}
	fputs(" ago", f);
}

static void attr(FILE *f, const char *name, const char *value, bool colour)
{
	fprintf(f, colour ? "  " BOLD "%s" RESET ": " : "  %s: ", name);
	put_clean(f, value);
	fputc('\n', f);
}

static const char *state_colour(const char *state)
{
	if (strcmp(state, "up") == 0)
		return GREEN;
	if (strcmp(state, "down") == 0)
		return RED;
	return YELLOW;
}

static void text_interface(FILE *f, const struct ctl_block *b, bool colour)
{
	const char *v;
	uint64_t port;

	fputs(colour ? GREEN BOLD "interface" RESET ": " GREEN : "interface: ", f);
	put_clean(f, b->kv[0].value);
	fputs(colour ? RESET "\n" : "\n", f);
	if ((v = get(b, "public_key")))
		attr(f, "public key", v, colour);
	if (parse_u64(get(b, "listen_port"), &port) && port <= 65535) {
		fprintf(f, colour ? "  " BOLD "listening port" RESET ": " : "  listening port: ");
		fprintf(f, "%" PRIu64 "\n", port);
	}
	if ((v = get(b, "offloads")))
		attr(f, "offloads", v, colour);
	if ((v = get(b, "reflexive_address")))
		attr(f, "reflexive address", v, colour);
	if ((v = get(b, "port_mapping")))
		attr(f, "port mapping", v, colour);
}

static void text_peer(FILE *f, const struct ctl_block *b, bool colour)
{
	const char *v;
	uint64_t rx, tx, age_ms;
	double rtt;

	fputs(colour ? YELLOW BOLD "peer" RESET ": " YELLOW : "peer: ", f);
	put_clean(f, b->kv[0].value);
	fputs(colour ? RESET "\n" : "\n", f);
	if ((v = get(b, "public_key")))
		attr(f, "public key", v, colour);
	if ((v = get(b, "state"))) {
		fputs(colour ? "  " BOLD "state" RESET ": " : "  state: ", f);
		fputs(colour ? state_colour(v) : "", f);
		put_clean(f, v);
		fputs(colour ? RESET "\n" : "\n", f);
	}
	if ((v = get(b, "path")))
		attr(f, "path", v, colour);
	if ((v = get(b, "endpoint")))
		attr(f, "endpoint", v, colour);
	if ((v = get(b, "cipher")))
		attr(f, "cipher", v, colour);
	if (parse_ms(get(b, "rtt_ms"), &rtt)) {
		fprintf(f, colour ? "  " BOLD "rtt" RESET ": %g" : "  rtt: %g", rtt);
		unit(f, "ms", colour);
		fputc('\n', f);
	}
	if (parse_u64(get(b, "last_handshake_ms"), &age_ms)) {
		fputs(colour ? "  " BOLD "latest handshake" RESET ": " : "  latest handshake: ", f);
		ctl_show_age(f, age_ms / 1000, colour);
		fputc('\n', f);
	}
	if (parse_u64(get(b, "rx_bytes"), &rx) && parse_u64(get(b, "tx_bytes"), &tx)) {
		fputs(colour ? "  " BOLD "transfer" RESET ": " : "  transfer: ", f);
		ctl_show_bytes(f, rx, colour);
		fputs(" received, ", f);
		ctl_show_bytes(f, tx, colour);
		fputs(" sent\n", f);
	}
}

static bool is_block(const struct ctl_block *b, const char *kind)
{
	return strcmp(b->kv[0].key, kind) == 0;
}

void ctl_show_text(FILE *f, const struct ctl_reply *r, bool colour)
{
	bool first = true;

	for (size_t i = 0; i < r->n_blocks; i++) {
		const struct ctl_block *b = &r->blocks[i];

		if (!is_block(b, "interface") && !is_block(b, "peer"))
			continue; /* a block kind from a newer daemon */
		if (!first)
			fputc('\n', f);
		first = false;
		if (is_block(b, "interface"))
			text_interface(f, b, colour);
		else
			text_peer(f, b, colour);
	}
}

/* JSON members: each on its own line at depth, comma before all but the
 * first of an object. */
struct json_obj {
	FILE *f;
	int depth;
	bool first;
};

static void member(struct json_obj *o, const char *name)
{
	fprintf(o->f, "%s\n%*s\"%s\": ", o->first ? "" : ",", o->depth, "", name);
	o->first = false;
}

static void json_str(struct json_obj *o, const char *name, const char *value)
{
	member(o, name);
	ctl_json_string(o->f, value);
}

static void json_u64(struct json_obj *o, const char *name, const char *value, uint64_t max)
{
	uint64_t v;

	member(o, name);
	if (parse_u64(value, &v) && v <= max)
		fprintf(o->f, "%" PRIu64, v);
	else
		fputs("null", o->f);
}

/* "yes"/"no" as true/false; anything else (or nothing) is null. */
static void json_bool(struct json_obj *o, const char *name, const char *value)
{
	member(o, name);
	if (value && strcmp(value, "yes") == 0)
		fputs("true", o->f);
	else if (value && strcmp(value, "no") == 0)
		fputs("false", o->f);
	else
		fputs("null", o->f);
}

static void json_interface(FILE *f, const struct ctl_block *b, int depth)
{
	struct json_obj o = {f, depth + 2, true};

	fputc('{', f);
	json_str(&o, "name", get(b, "interface"));
	json_str(&o, "public_key", get(b, "public_key"));
	json_u64(&o, "listen_port", get(b, "listen_port"), 65535);
	json_str(&o, "offloads", get(b, "offloads"));
	json_str(&o, "reflexive_address", get(b, "reflexive_address"));
	json_str(&o, "port_mapping", get(b, "port_mapping"));
	json_str(&o, "port_mapping_address", get(b, "port_mapping_address"));
	/* The handshake flood defence (daemon/hsgate.c). */
	json_bool(&o, "under_load", get(b, "under_load"));
	json_u64(&o, "under_load_entered", get(b, "under_load_entered"), UINT64_MAX);
	json_u64(&o, "cookie_replies_sent", get(b, "cookie_replies_sent"), UINT64_MAX);
	json_u64(&o, "staged_dropped", get(b, "staged_dropped"), UINT64_MAX);
	json_u64(&o, "receiver_indexes", get(b, "receiver_indexes"), UINT64_MAX);
	fprintf(f, "\n%*s}", depth, "");
}

static void json_peer(FILE *f, const struct ctl_block *b, int depth)
{
	struct json_obj o = {f, depth + 2, true};
	uint64_t age_ms;
	double rtt;

	fputc('{', f);
	json_str(&o, "name", get(b, "peer"));
	json_str(&o, "public_key", get(b, "public_key"));
	json_str(&o, "state", get(b, "state"));
	json_str(&o, "path", get(b, "path"));
	json_str(&o, "endpoint", get(b, "endpoint"));
	json_str(&o, "cipher", get(b, "cipher"));
	member(&o, "rtt_ms");
	if (parse_ms(get(b, "rtt_ms"), &rtt))
		fprintf(f, "%g", rtt);
	else
		fputs("null", f);
	member(&o, "last_handshake_age_s");
	if (parse_u64(get(b, "last_handshake_ms"), &age_ms))
		fprintf(f, "%" PRIu64, age_ms / 1000);
	else
		fputs("null", f);
	json_u64(&o, "rx_bytes", get(b, "rx_bytes"), UINT64_MAX);
	json_u64(&o, "tx_bytes", get(b, "tx_bytes"), UINT64_MAX);
	fprintf(f, "\n%*s}", depth, "");
}

void ctl_show_json(FILE *f, const struct ctl_reply *r, int indent)
{
	struct json_obj o = {f, indent + 2, true};
	const struct ctl_block *iface = NULL;
	size_t n_peers = 0;

	for (size_t i = 0; i < r->n_blocks; i++)
		if (!iface && is_block(&r->blocks[i], "interface"))
			iface = &r->blocks[i];
	fputc('{', f);
	member(&o, "interface");
	if (iface)
		json_interface(f, iface, o.depth);
	else
		fputs("null", f);
	member(&o, "peers");
	fputc('[', f);
	for (size_t i = 0; i < r->n_blocks; i++) {
		if (!is_block(&r->blocks[i], "peer"))
			continue;
		fprintf(f, "%s\n%*s", n_peers++ ? "," : "", o.depth + 2, "");
		json_peer(f, &r->blocks[i], o.depth + 2);
	}
	if (n_peers)
		fprintf(f, "\n%*s", o.depth, "");
	fprintf(f, "]\n%*s}", indent, "");
}
