/* Loader for /etc/p2pvpn-rendezvous.conf, built like the daemon's loader
 * (config.c): per-key checks as the reader hands keys over, whole-file
 * checks at the end, and the result copied out only when nothing was wrong.
 * Every address here is this host's own, so only numeric forms are taken
 * and nothing is ever resolved. */
#include "config/rendezvous.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "config/keys.h"
#include "config/parse.h"
#include "config/reader.h"
#include "util/addr.h"

enum section { SEC_RENDEZVOUS, SEC_PEER };

enum rdv_key {
	K_LISTEN,
	K_ALTERNATE_ADDRESS,
	K_PRIVATE_KEY,
	K_PRIVATE_KEY_FILE,
	K_RELAY,
	K_OPEN,
	N_RDV_KEYS
};

static const struct cfg_reader_key rdv_keys[N_RDV_KEYS] = {
    [K_LISTEN] = {"listen", false},
    [K_ALTERNATE_ADDRESS] = {"alternate_address", false},
    [K_PRIVATE_KEY] = {"private_key", true},
    [K_PRIVATE_KEY_FILE] = {"private_key_file", false},
    [K_RELAY] = {"relay", false},
    [K_OPEN] = {"open", false},
};

static const struct cfg_reader_key peer_keys[] = {{"public_key", false}};

static const struct cfg_reader_section sections[] = {
    [SEC_RENDEZVOUS] = {"rendezvous", false, rdv_keys, N_RDV_KEYS},
    [SEC_PEER] = {"peer", true, peer_keys, 1},
};

struct load {
	struct cfg_reader r;
	struct cfg_rendezvous c;
	struct cfg_keys_private pk;
	int section_line;     /* first [rendezvous] header, 0 if none */
	int line[N_RDV_KEYS]; /* where each [rendezvous] key was set */
	int *key_lines;	      /* where each peer's public_key was set, parallel to c.peers */
	size_t cap_peers;
	struct cfg_rendezvous_peer *peer; /* section being read, or NULL */
};

static void on_rendezvous_key(struct load *l, enum rdv_key k, const char *value)
{
	struct cfg_rendezvous *c = &l->c;

	if (l->line[k]) {
		cfg_reader_reject(&l->r, value, "duplicate key (first set on line %d)", l->line[k]);
		return;
	}
	l->line[k] = l->r.line;
	switch (k) {
	case K_LISTEN:
		if (!cfg_parse_endpoint(value, &c->listen))
			cfg_reader_reject(&l->r, value,
					  "bad listen address (expected ADDRESS:PORT, "
					  "e.g. 0.0.0.0:3478 or [::]:3478)");
		break;
	case K_ALTERNATE_ADDRESS:
		c->has_alternate = cfg_parse_address(value, &c->alternate);
		if (!c->has_alternate)
			cfg_reader_reject(&l->r, value,
					  "bad address (expected a second IP address "
					  "of this host, without a port)");
		break;
	case K_PRIVATE_KEY:
	case K_PRIVATE_KEY_FILE:
		cfg_keys_private_set(&l->r, &l->pk, k == K_PRIVATE_KEY_FILE, value);
		break;
	case K_RELAY:
	case K_OPEN:
		if (!cfg_parse_bool(value, k == K_RELAY ? &c->relay : &c->open))
			cfg_reader_reject(&l->r, value, "bad yes/no (expected yes or no)");
		break;
	case N_RDV_KEYS:
		break;
	}
}

static void on_key(void *ctx, size_t section, size_t key, const char *value)
{
	struct load *l = ctx;
	uint8_t scratch[32];

	if (section == SEC_RENDEZVOUS) {
		on_rendezvous_key(l, (enum rdv_key)key, value);
		return;
	}
	/* The only peer key is public_key. Without a peer (allocation failed)
	 * the value is still checked. */
	if (!l->peer) {
		(void)cfg_keys_public(&l->r, value, scratch);
		return;
	}
	l->key_lines[l->peer - l->c.peers] = l->r.line;
	(void)cfg_keys_public(&l->r, value, l->peer->public_key);
}

static void start_peer(struct load *l, const char *name)
{
	struct cfg_rendezvous *c = &l->c;

	for (size_t i = 0; i < c->n_peers; i++) {
		if (!strcmp(c->peers[i].name, name)) {
			cfg_reader_error(&l->r, l->r.line, NULL,
					 "duplicate peer name (first defined on line %d; expected "
					 "each name once): '[peer \"%s\"]'",
					 c->peers[i].line, name);
			break;
		}
	}
	l->peer = NULL;
	if (c->n_peers == l->cap_peers) {
		size_t cap = l->cap_peers ? 2 * l->cap_peers : 8;
		struct cfg_rendezvous_peer *peers = realloc(c->peers, cap * sizeof(*peers));
		int *lines;

		if (peers)
			c->peers = peers;
		lines = peers ? realloc(l->key_lines, cap * sizeof(*lines)) : NULL;
		if (!lines) {
			cfg_reader_error(&l->r, l->r.line, NULL, "out of memory");
			return;
		}
		l->key_lines = lines;
		l->cap_peers = cap;
	}
	l->peer = &c->peers[c->n_peers];
	memset(l->peer, 0, sizeof(*l->peer));
	l->key_lines[c->n_peers] = 0;
	c->n_peers++;
	snprintf(l->peer->name, sizeof(l->peer->name), "%s", name);
	l->peer->line = l->r.line;
}

static void on_section(void *ctx, size_t section, const char *name)
{
	struct load *l = ctx;

	if (section == SEC_PEER) {
		start_peer(l, name);
		return;
	}
	l->peer = NULL;
	if (l->section_line)
		cfg_reader_error(&l->r, l->r.line, NULL,
				 "duplicate section (first on line %d; expected one [rendezvous])",
				 l->section_line);
	else
		l->section_line = l->r.line;
}

static const struct cfg_reader_ops ops = {
    .sections = sections,
    .n_sections = sizeof(sections) / sizeof(sections[0]),
    .on_section = on_section,
    .on_key = on_key,
};

/* RFC 5780 change requests answer from the other IP of the same family, on
 * the listening port; the alternate must be a real, different address. */
static void check_alternate(struct load *l)
{
	struct cfg_rendezvous *c = &l->c;
	int line = l->line[K_ALTERNATE_ADDRESS];
	char shown[CFG_ENDPOINT_STRLEN];

	if (!c->has_alternate)
		return;
	addr_set_port(&c->alternate, addr_port(&c->listen));
	cfg_endpoint_to_string(&c->alternate, shown, sizeof(shown));
	if (c->alternate.ss_family != c->listen.ss_family)
		cfg_reader_error(&l->r, line, "alternate_address",
				 "not the same family as listen (expected an IPv%c address): '%s'",
				 c->listen.ss_family == AF_INET ? '4' : '6', shown);
	else if (!cfg_endpoint_is_unicast(&c->alternate))
		cfg_reader_error(&l->r, line, "alternate_address",
				 "not a unicast address (expected a second IP of this host): '%s'",
				 shown);
	else if (cfg_endpoint_equal(&c->alternate, &c->listen))
		cfg_reader_error(&l->r, line, "alternate_address",
				 "same as the listen address (expected a second IP of this host): "
				 "'%s'",
				 shown);
}

static void check_all(struct load *l)
{
	struct cfg_rendezvous *c = &l->c;

	if (!l->section_line) {
		cfg_reader_error(&l->r, 0, NULL,
				 "missing [rendezvous] section (expected one, with "
				 "at least private_key)");
		return;
	}
	(void)cfg_keys_private_finish(&l->r, &l->pk, l->section_line, "[rendezvous]",
				      c->public_key);
	memcpy(c->private_key, l->pk.key, sizeof(c->private_key));
	check_alternate(l);
	/* A closed meeting point with no keys would refuse everyone. */
	if (!c->open && c->n_peers == 0)
		cfg_reader_error(&l->r, l->line[K_OPEN] ? l->line[K_OPEN] : l->section_line, "open",
				 "no but no peer is listed (expected open = yes or at "
				 "least one [peer \"NAME\"] with its public_key)");
	for (size_t j = 0; j < c->n_peers; j++) {
		const struct cfg_rendezvous_peer *p = &c->peers[j];
		char where[80];

		snprintf(where, sizeof(where), "[peer \"%s\"]", p->name);
		if (!l->key_lines[j]) {
			cfg_reader_error(&l->r, p->line, where,
					 "missing public_key (expected the peer's public key)");
			continue;
		}
		if (sodium_is_zero(p->public_key, sizeof(p->public_key)))
			continue; /* reported where it was set */
		if (l->pk.ok && !sodium_memcmp(p->public_key, c->public_key, 32))
			cfg_reader_error(&l->r, l->key_lines[j], "public_key",
					 "this is the rendezvous server's own key (expected a "
					 "peer's)");
		for (size_t i = 0; i < j; i++)
			if (!sodium_memcmp(p->public_key, c->peers[i].public_key, 32))
				cfg_reader_error(&l->r, l->key_lines[j], "public_key",
						 "same key as peer \"%s\" (line %d; expected one "
						 "peer a key)",
						 c->peers[i].name, l->key_lines[i]);
	}
}

bool cfg_load_rendezvous_stream(FILE *in, const char *name, struct cfg_rendezvous *out,
				struct cfg_errors *errs)
{
	struct load *l = calloc(1, sizeof(*l));
	bool ok;

	if (!l) {
		(void)cfg_errors_add(errs, "%s: out of memory", name);
		return false;
	}
	snprintf(l->c.path, sizeof(l->c.path), "%s", name);
	/* Defaults: DESIGN.md section 1. 3478 is the STUN port (RFC 8489). */
	l->c.listen.ss_family = AF_INET;
	addr_set_port(&l->c.listen, 3478);
	l->c.relay = true;
	l->c.open = false;
	cfg_reader_init(&l->r, name, errs);
	cfg_reader_parse(&l->r, in, &ops, l);
	/* An inline private_key makes this file a key file (keys.c). */
	if (l->pk.line && !strcmp(l->pk.from, "private_key"))
		cfg_keys_check_config(&l->r, in, l->pk.line, "private_key");
	check_all(l);
	cfg_reader_finish(&l->r);
	ok = l->r.n_errors == 0;
	if (ok)
		*out = l->c;
	else
		cfg_rendezvous_free(&l->c);
	free(l->key_lines);
	sodium_memzero(l, sizeof(*l));
	free(l);
	return ok;
}

bool cfg_load_rendezvous_string(const char *name, const char *text, struct cfg_rendezvous *out,
				struct cfg_errors *errs)
{
	size_t len = strlen(text);
	FILE *in = fmemopen((void *)(len ? text : "\n"), len ? len : 1, "r");
	bool ok;

	if (!in) {
		(void)cfg_errors_add(errs, "%s: cannot read: %s", name, strerror(errno));
		return false;
	}
	ok = cfg_load_rendezvous_stream(in, name, out, errs);
	fclose(in);
	return ok;
}

bool cfg_load_rendezvous(const char *path, struct cfg_rendezvous *out, struct cfg_errors *errs)
{
	FILE *in = fopen(path, "re");
	bool ok;

	if (!in) {
		(void)cfg_errors_add(errs, "%s: cannot open config file: %s", path,
				     strerror(errno));
		return false;
	}
	ok = cfg_load_rendezvous_stream(in, path, out, errs);
	fclose(in);
	return ok;
}

void cfg_rendezvous_free(struct cfg_rendezvous *cfg)
{
	free(cfg->peers);
	sodium_memzero(cfg, sizeof(*cfg));
}

const struct cfg_rendezvous_peer *cfg_rendezvous_find_key(const struct cfg_rendezvous *cfg,
							  const uint8_t key[32])
{
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (!sodium_memcmp(cfg->peers[i].public_key, key, 32))
			return &cfg->peers[i];
	return NULL;
}
