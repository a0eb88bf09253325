/* Fuzz harness for the config loaders: each input is read as a p2pvpn.conf
 * and as a p2pvpn-rendezvous.conf from a memory stream (no DNS: host names
 * are refused with CFG_LOAD_NUMERIC). Checked beyond "no crash": a refused
 * file has at least one message and every message names the file and holds
 * only printable text, and the reader and inih agree on every line; an
 * accepted file satisfies the invariants the daemon relies on (keys usable,
 * prefixes canonical and not shared between peers, values in range). */
#include "config/config.h"
#include "config/reader.h"
#include "crypto/keys.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_errors(const struct cfg_errors *errs)
{
	if (errs->n == 0 || errs->n > CFG_READER_MAX_ERRORS + 1)
		abort();
	for (size_t i = 0; i < errs->n; i++) {
		size_t len = strlen(errs->msgs[i]);

		if (strncmp(errs->msgs[i], "fuzz:", 5))
			abort();
		/* The reader classifies lines as inih does; inih's own bare
		 * "syntax error" would mean the two disagree on a line. */
		if (len >= 14 && !strcmp(errs->msgs[i] + len - 14, ": syntax error"))
			abort();
		for (const char *p = errs->msgs[i]; *p; p++)
			if (!isprint((unsigned char)*p))
				abort();
	}
}

static void check_prefix(const struct cfg_prefix *p, bool canonical)
{
	struct cfg_prefix again;
	char buf[CFG_PREFIX_STRLEN];

	cfg_prefix_to_string(p, buf, sizeof(buf));
	if (!cfg_parse_prefix(buf, !canonical, &again) || again.plen != p->plen ||
	    memcmp(again.addr, p->addr, sizeof(p->addr)))
		abort();
}

static void check_daemon(const struct cfg_daemon *d)
{
	if (!cfg_parse_ifname(d->ifname) || d->n_addresses == 0 || d->mtu < 576 || d->mtu > 65535 ||
	    d->keepalive_s > 3600 || d->listen_port == 0 || d->control_socket[0] != '/' ||
	    (d->n_rendezvous && !d->has_rendezvous_key))
		abort();
	for (size_t i = 0; i < d->n_addresses; i++)
		check_prefix(&d->addresses[i], false);
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct cfg_peer *p = &d->peers[i];

		if (p->n_allowed_ips == 0 || key_is_low_order(p->public_key) ||
		    !memcmp(p->public_key, d->public_key, 32) ||
		    cfg_daemon_find_peer(d, p->name) != p || !cfg_peer_equal(p, p))
			abort();
		if (p->has_endpoint && !cfg_endpoint_is_unicast(&p->endpoint))
			abort();
		for (size_t k = 0; k < p->n_allowed_ips; k++)
			check_prefix(&p->allowed_ips[k], true);
		for (size_t j = 0; j < i; j++) {
			if (!memcmp(p->public_key, d->peers[j].public_key, 32))
				abort();
			for (size_t x = 0; x < p->n_allowed_ips; x++)
				for (size_t y = 0; y < d->peers[j].n_allowed_ips; y++)
					if (cfg_prefix_overlaps(&p->allowed_ips[x],
								&d->peers[j].allowed_ips[y]))
						abort();
		}
	}
}

static void check_rendezvous(const struct cfg_rendezvous *c)
{
	if (!c->open && c->n_peers == 0)
		abort();
	if (c->has_alternate && (c->alternate.ss_family != c->listen.ss_family ||
				 cfg_endpoint_equal(&c->alternate, &c->listen)))
		abort();
	for (size_t i = 0; i < c->n_peers; i++)
		if (key_is_low_order(c->peers[i].public_key) ||
		    cfg_rendezvous_find_key(c, c->peers[i].public_key) != &c->peers[i])
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_daemon d;
	struct cfg_rendezvous c;
	struct cfg_errors errs = {0};
	FILE *f;

	/* fmemopen refuses an empty buffer; an empty file is a case anyway. */
	if (size == 0) {
		if (cfg_load_daemon_string("fuzz", "", CFG_LOAD_NUMERIC, &d, &errs))
			abort();
		check_errors(&errs);
		cfg_errors_free(&errs);
		return 0;
	}
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (cfg_load_daemon_stream(f, "fuzz", CFG_LOAD_NUMERIC, &d, &errs)) {
		if (errs.n)
			abort();
		check_daemon(&d);
		cfg_daemon_free(&d);
	} else {
		check_errors(&errs);
	}
	cfg_errors_free(&errs);

	rewind(f);
	if (cfg_load_rendezvous_stream(f, "fuzz", &c, &errs)) {
		if (errs.n)
			abort();
		check_rendezvous(&c);
		cfg_rendezvous_free(&c);
	} else {
		check_errors(&errs);
	}
	cfg_errors_free(&errs);
	fclose(f);
	return 0;
}
