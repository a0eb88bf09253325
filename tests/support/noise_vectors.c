/* Noise test-vector runner. A vector file is JSON: {"vectors": [ {...} ]},
 * each vector naming a protocol, both sides' prologue, keys and psks, and a
 * list of messages whose direction alternates starting with the initiator
 * (one-way patterns: always initiator to responder). Handshake messages are
 * written by one side and read by the other; once both sides complete, the
 * rest are transport messages under the Split() ciphers, nonces from zero.
 * Every ciphertext is compared byte for byte and every decryption must give
 * the payload back; a handshake_hash, when present, must match both sides.
 *
 * The JSON reader is a small recursive-descent parser into a node array, so
 * the runner needs no dependency beyond libc. It keeps strings raw (escapes
 * not decoded): the fields used here are hex and protocol names, which have
 * none. Nesting is bounded so a hostile file cannot exhaust the stack. */
#include "support/noise_vectors.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/noise.h"

/* ---- JSON ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
enum { JSON_MAX_DEPTH = 32 };

struct jnode {
	enum jtype type;
	const char *s, *key; /* raw string / number text; member name */
	size_t len, key_len;
	int child, next; /* first child, next sibling; -1 = none */
};

struct jdoc {
	struct jnode *nodes;
	size_t n, cap;
	const char *p, *end;
	int depth;
};

static void skip_ws(struct jdoc *d)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
		d->p++;
}

static int new_node(struct jdoc *d, enum jtype type)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 256;
		struct jnode *nn = realloc(d->nodes, cap * sizeof(*nn));

		if (!nn)
			return -1;
		d->nodes = nn;
		d->cap = cap;
	}
	d->nodes[d->n] = (struct jnode){.type = type, .child = -1, .next = -1};
	return (int)d->n++;
}

/* Scans a string at d->p (on the opening quote); sets s and len to its raw body. */
static bool scan_string(struct jdoc *d, const char **s, size_t *len)
{
	const char *q = ++d->p;

	while (q < d->end && *q != '"') {
		if ((unsigned char)*q < 0x20)
			return false;
		q += (*q == '\\') ? 2 : 1;
	}
	if (q >= d->end)
		return false;
	*s = d->p;
	*len = (size_t)(q - d->p);
	d->p = q + 1;
	return true;
}

static int parse_value(struct jdoc *d);

/* Parses the members of an array or object up to the closing bracket. */
static bool parse_members(struct jdoc *d, int parent, bool object)
{
	char close = object ? '}' : ']';
	int last = -1;

	skip_ws(d);
	if (d->p < d->end && *d->p == close) {
		d->p++;
		return true;
	}
	for (;;) {
		const char *key = NULL;
		size_t key_len = 0;
		int v;

		skip_ws(d);
		if (object) {
			if (d->p >= d->end || *d->p != '"' || !scan_string(d, &key, &key_len))
				return false;
			skip_ws(d);
			if (d->p >= d->end || *d->p != ':')
				return false;
			d->p++;
		}
		v = parse_value(d);
		if (v < 0)
			return false;
		d->nodes[v].key = key;
		d->nodes[v].key_len = key_len;
		if (last < 0)
			d->nodes[parent].child = v;
		else
			d->nodes[last].next = v;
		last = v;
		skip_ws(d);
		if (d->p >= d->end)
			return false;
		if (*d->p == close) {
			d->p++;
			return true;
		}
		if (*d->p != ',')
			return false;
		d->p++;
	}
}

static bool match_word(struct jdoc *d, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(d->end - d->p) < n || memcmp(d->p, w, n) != 0)
		return false;
	d->p += n;
	return true;
}

static int parse_value(struct jdoc *d)
{
	int idx = -1;

	skip_ws(d);
	if (d->p >= d->end || d->depth >= JSON_MAX_DEPTH)
		return -1;
	switch (*d->p) {
	case '{':
	case '[': {
		bool obj = *d->p == '{';

		idx = new_node(d, obj ? J_OBJ : J_ARR);
		if (idx < 0)
			return -1;
		d->p++;
		d->depth++;
		if (!parse_members(d, idx, obj))
			return -1;
		d->depth--;
		return idx;
	}
	case '"':
		idx = new_node(d, J_STR);
		if (idx < 0 || !scan_string(d, &d->nodes[idx].s, &d->nodes[idx].len))
			return -1;
		return idx;
	case 't':
	case 'f':
	case 'n':
		idx = new_node(d, *d->p == 'n' ? J_NULL : J_BOOL);
		if (idx < 0)
			return -1;
		d->nodes[idx].s = d->p;
		if (!match_word(d, "true") && !match_word(d, "false") && !match_word(d, "null"))
			return -1;
		d->nodes[idx].len = (size_t)(d->p - d->nodes[idx].s);
		return idx;
	default:
		if (*d->p != '-' && (*d->p < '0' || *d->p > '9'))
			return -1;
		idx = new_node(d, J_NUM);
		if (idx < 0)
			return -1;
		d->nodes[idx].s = d->p;
		while (d->p < d->end && strchr("+-.eE0123456789", *d->p))
			d->p++;
		d->nodes[idx].len = (size_t)(d->p - d->nodes[idx].s);
		return idx;
	}
}

/* The member named key of object obj, or -1. */
static int jget(const struct jdoc *d, int obj, const char *key)
{
	size_t kl = strlen(key);

	if (obj < 0 || d->nodes[obj].type != J_OBJ)
		return -1;
	for (int c = d->nodes[obj].child; c >= 0; c = d->nodes[c].next)
		if (d->nodes[c].key_len == kl && !memcmp(d->nodes[c].key, key, kl))
			return c;
	return -1;
}

/* ---- one vector ---- */

enum { MAX_BUF = NOISE_MAX_MSG_LEN + 1 };

/* Heap buffers: a transport message may be 64 KiB. */
struct bufs {
	uint8_t *payload, *expect, *out, *dec;
};

struct side {
	struct noise_handshake hs;
	struct noise_cipher send, recv;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes string node idx as hex into out; false on bad hex or overflow. */
static bool jhex(const struct jdoc *d, int idx, uint8_t *out, size_t cap, size_t *len)
{
	const struct jnode *n;

	if (idx < 0 || d->nodes[idx].type != J_STR)
		return false;
	n = &d->nodes[idx];
	if (n->len % 2 || n->len / 2 > cap)
		return false;
	for (size_t i = 0; i < n->len / 2; i++) {
		int hi = hexval(n->s[2 * i]), lo = hexval(n->s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n->len / 2;
	return true;
}

/* An optional 32-byte key field: *present false when absent. */
static bool jkey(const struct jdoc *d, int v, const char *name, uint8_t out[32], bool *present)
{
	int idx = jget(d, v, name);
	size_t len;

	*present = idx >= 0;
	if (idx < 0)
		return true;
	return jhex(d, idx, out, 32, &len) && len == 32;
}

/* Sets up one side from its "<prefix>_*" fields; *reason set on failure. */
static int side_init(const struct jdoc *d, int v, const char *prefix, bool initiator,
		     const char *name, struct side *sd, const char **reason)
{
	uint8_t prologue[1024], s[32], rs[32], e[32], psks[NOISE_MAX_PSKS][NOISE_PSK_LEN];
	bool has_s, has_rs, has_e;
	size_t prologue_len = 0, n_psks = 0, len;
	char field[64];
	int idx, ret = -EINVAL;

	*reason = "bad key field";
	snprintf(field, sizeof(field), "%s_static", prefix);
	if (!jkey(d, v, field, s, &has_s))
		goto out;
	snprintf(field, sizeof(field), "%s_remote_static", prefix);
	if (!jkey(d, v, field, rs, &has_rs))
		goto out;
	snprintf(field, sizeof(field), "%s_ephemeral", prefix);
	if (!jkey(d, v, field, e, &has_e))
		goto out;
	snprintf(field, sizeof(field), "%s_remote_ephemeral", prefix);
	if (jget(d, v, field) >= 0) {
		*reason = "pre-message ephemeral not supported";
		ret = -EPROTONOSUPPORT;
		goto out;
	}
	*reason = "bad prologue";
	snprintf(field, sizeof(field), "%s_prologue", prefix);
	idx = jget(d, v, field);
	if (idx >= 0 && !jhex(d, idx, prologue, sizeof(prologue), &prologue_len))
		goto out;
	*reason = "bad psks";
	snprintf(field, sizeof(field), "%s_psks", prefix);
	idx = jget(d, v, field);
	if (idx >= 0) {
		if (d->nodes[idx].type != J_ARR)
			goto out;
		for (int c = d->nodes[idx].child; c >= 0; c = d->nodes[c].next) {
			if (n_psks == NOISE_MAX_PSKS || !jhex(d, c, psks[n_psks], 32, &len) ||
			    len != 32)
				goto out;
			n_psks++;
		}
	}
	ret = noise_handshake_init(
	    &sd->hs, name, initiator, prologue, prologue_len, has_s ? s : NULL, has_rs ? rs : NULL,
	    n_psks ? (const uint8_t(*)[NOISE_PSK_LEN])psks : NULL, n_psks, has_e ? e : NULL);
	*reason = ret == -EPROTONOSUPPORT ? "protocol not implemented" : "handshake init failed";
out:
	sodium_memzero(s, sizeof(s));
	sodium_memzero(e, sizeof(e));
	sodium_memzero(psks, sizeof(psks));
	return ret;
}

static int split_sides(struct side *si, struct side *sr)
{
	/* Split() gives (initiator to responder, responder to initiator). */
	if (noise_handshake_split(&si->hs, &si->send, &si->recv) < 0 ||
	    noise_handshake_split(&sr->hs, &sr->recv, &sr->send) < 0)
		return -1;
	return 0;
}

/* One message from snd to rcv: handshake or transport depending on where the
 * handshake stands. 0, or -1 with why filled. */
static int run_message(const struct jdoc *d, int m, size_t i, struct side *snd, struct side *rcv,
		       struct bufs *b, char *why, size_t why_len)
{
	size_t plen, clen, olen = 0, dlen = 0;
	bool handshake = !noise_handshake_is_complete(&snd->hs);
	int ret;

	if (!jhex(d, jget(d, m, "payload"), b->payload, MAX_BUF, &plen) ||
	    !jhex(d, jget(d, m, "ciphertext"), b->expect, MAX_BUF, &clen)) {
		snprintf(why, why_len, "message %zu: bad payload or ciphertext field", i);
		return -1;
	}
	if (handshake) {
		if (!noise_handshake_is_my_turn(&snd->hs)) {
			snprintf(why, why_len, "message %zu: sender out of turn", i);
			return -1;
		}
		ret = noise_write_message(&snd->hs, b->payload, plen, b->out, MAX_BUF, &olen);
	} else {
		olen = plen + NOISE_TAG_LEN;
		ret = olen > MAX_BUF
			  ? -EMSGSIZE
			  : noise_cipher_encrypt(&snd->send, NULL, 0, b->payload, plen, b->out);
	}
	if (ret < 0) {
		snprintf(why, why_len, "message %zu: write failed: %s", i, strerror(-ret));
		return -1;
	}
	if (olen != clen || memcmp(b->out, b->expect, clen) != 0) {
		snprintf(why, why_len, "message %zu: ciphertext differs", i);
		return -1;
	}
	if (handshake)
		ret = noise_read_message(&rcv->hs, b->expect, clen, b->dec, MAX_BUF, &dlen);
	else if (clen < NOISE_TAG_LEN)
		ret = -EBADMSG;
	else {
		dlen = clen - NOISE_TAG_LEN;
		ret = noise_cipher_decrypt(&rcv->recv, NULL, 0, b->expect, clen, b->dec);
	}
	if (ret < 0 || dlen != plen || memcmp(b->dec, b->payload, plen) != 0) {
		snprintf(why, why_len, "message %zu: decryption by the receiver failed", i);
		return -1;
	}
	return 0;
}

/* Runs one vector on two fresh sides; returns 1 pass, 0 skip, -1 fail. */
static int run_vector(const struct jdoc *d, int v, struct side *si, struct side *sr, struct bufs *b,
		      const char **name_out, int *name_len, char *why, size_t why_len)
{
	char name[256];
	const char *reason;
	int pn = jget(d, v, "protocol_name"), msgs, ret;
	uint8_t hh[NOISE_HASH_LEN], h[NOISE_HASH_LEN];
	size_t i = 0, hh_len;
	bool one_way;

	*name_out = "?";
	*name_len = 1;
	if (pn < 0 || d->nodes[pn].type != J_STR || d->nodes[pn].len >= sizeof(name)) {
		snprintf(why, why_len, "no protocol_name");
		return -1;
	}
	*name_out = d->nodes[pn].s;
	*name_len = (int)d->nodes[pn].len;
	memcpy(name, d->nodes[pn].s, d->nodes[pn].len);
	name[d->nodes[pn].len] = '\0';
	ret = side_init(d, v, "init", true, name, si, &reason);
	if (ret == 0)
		ret = side_init(d, v, "resp", false, name, sr, &reason);
	if (ret < 0) {
		snprintf(why, why_len, "%s", reason);
		return ret == -EPROTONOSUPPORT ? 0 : -1;
	}
	one_way = si->hs.n_messages == 1;
	msgs = jget(d, v, "messages");
	if (msgs < 0 || d->nodes[msgs].type != J_ARR) {
		snprintf(why, why_len, "no messages");
		return -1;
	}
	for (int m = d->nodes[msgs].child; m >= 0; m = d->nodes[m].next, i++) {
		bool to_resp = one_way || i % 2 == 0;
		bool was_complete = noise_handshake_is_complete(&si->hs);

		if (run_message(d, m, i, to_resp ? si : sr, to_resp ? sr : si, b, why, why_len))
			return -1;
		if (!was_complete && noise_handshake_is_complete(&si->hs)) {
			if (!noise_handshake_is_complete(&sr->hs)) {
				snprintf(why, why_len, "responder did not complete");
				return -1;
			}
			if (split_sides(si, sr) < 0) {
				snprintf(why, why_len, "split failed");
				return -1;
			}
		}
	}
	if (!noise_handshake_is_complete(&si->hs)) {
		snprintf(why, why_len, "handshake incomplete after %zu messages", i);
		return -1;
	}
	if (jget(d, v, "handshake_hash") >= 0) {
		if (!jhex(d, jget(d, v, "handshake_hash"), hh, sizeof(hh), &hh_len) ||
		    hh_len != NOISE_HASH_LEN) {
			snprintf(why, why_len, "bad handshake_hash field");
			return -1;
		}
		noise_handshake_hash(&si->hs, h);
		if (memcmp(h, hh, sizeof(h)) != 0) {
			snprintf(why, why_len, "initiator handshake hash differs");
			return -1;
		}
		noise_handshake_hash(&sr->hs, h);
		if (memcmp(h, hh, sizeof(h)) != 0) {
			snprintf(why, why_len, "responder handshake hash differs");
			return -1;
		}
	}
	return 1;
}

static void report_line(FILE *report, int r, const char *name, int name_len, const char *why)
{
	if (!report)
		return;
	if (r > 0)
		fprintf(report, "PASS %.*s\n", name_len, name);
	else
		fprintf(report, "%s %.*s: %s\n", r == 0 ? "SKIP" : "FAIL", name_len, name, why);
}

int noise_vectors_run_json(const char *text, size_t len, FILE *report,
			   struct noise_vectors_result *res)
{
	struct jdoc d = {.p = text, .end = text + len};
	struct bufs b = {malloc(MAX_BUF), malloc(MAX_BUF), malloc(MAX_BUF), malloc(MAX_BUF)};
	struct side *sides = calloc(2, sizeof(*sides));
	int root, vecs, ret = -EINVAL;

	memset(res, 0, sizeof(*res));
	if (!b.payload || !b.expect || !b.out || !b.dec || !sides) {
		ret = -ENOMEM;
		goto out;
	}
	root = parse_value(&d);
	skip_ws(&d);
	if (root < 0 || d.p != d.end)
		goto out;
	vecs = jget(&d, root, "vectors");
	if (vecs < 0 || d.nodes[vecs].type != J_ARR)
		goto out;
	for (int v = d.nodes[vecs].child; v >= 0; v = d.nodes[v].next) {
		char why[160] = "";
		const char *name;
		int name_len;
		int r =
		    run_vector(&d, v, &sides[0], &sides[1], &b, &name, &name_len, why, sizeof(why));

		report_line(report, r, name, name_len, why);
		if (r > 0)
			res->passed++;
		else if (r == 0)
			res->skipped++;
		else
			res->failed++;
		sodium_memzero(sides, 2 * sizeof(*sides));
	}
	ret = 0;
out:
	free(d.nodes);
	free(b.payload);
	free(b.expect);
	free(b.out);
	free(b.dec);
	free(sides);
	return ret;
}

int noise_vectors_run_file(const char *path, FILE *report, struct noise_vectors_result *res)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	int ret;

	memset(res, 0, sizeof(*res));
	if (!f)
		return -errno;
	do {
		if (len == cap) {
			char *t = realloc(text, cap ? cap * 2 : 65536);

			if (!t) {
				ret = -ENOMEM;
				goto out;
			}
			text = t;
			cap = cap ? cap * 2 : 65536;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	ret = ferror(f) ? -EIO : noise_vectors_run_json(text, len, report, res);
out:
	fclose(f);
	free(text);
	return ret;
}
