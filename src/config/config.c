/* Loader for /etc/p2pvpn.conf. The reader hands over one key at a time;
 * on_key checks the value on its own (syntax, range) and stores it in a
 * cfg_daemon under construction. Checks that need the whole file (a key is
 * missing, two peers claim the same key or overlapping addresses, the MTU is
 * too small for IPv6) run once at the end, in check_*(). The finished
 * struct is copied out only when no error at all was found, so a caller never
 * sees half a config; on SIGHUP the daemon keeps the old one. */
#include "config/config.h"

#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/keys.h"
#include "config/reader.h"

/* A DNS name can be 253 bytes; the rest of the line is never longer. */
enum { ITEM_MAX = 300, IPV6_MIN_MTU = 1280 };

enum section { SEC_INTERFACE, SEC_PEER };

enum iface_key {
	K_NAME,
	K_ADDRESS,
	K_PRIVATE_KEY,
	K_PRIVATE_KEY_FILE,
	K_LISTEN_PORT,
	K_MTU,
	K_KEEPALIVE,
	K_RENDEZVOUS,
	K_RENDEZVOUS_KEY,
	K_RELAY,
	K_PORTMAP,
	K_OFFLOAD,
	K_CONTROL_SOCKET,
	K_LOG_LEVEL,
	N_IFACE_KEYS
};

enum peer_key { P_PUBLIC_KEY, P_ALLOWED_IPS, P_ENDPOINT, P_PRESHARED_KEY, N_PEER_KEYS };

static const struct cfg_reader_key iface_keys[N_IFACE_KEYS] = {
    [K_NAME] = {"name", false},
    [K_ADDRESS] = {"address", false},
    [K_PRIVATE_KEY] = {"private_key", true},
    [K_PRIVATE_KEY_FILE] = {"private_key_file", false},
    [K_LISTEN_PORT] = {"listen_port", false},
    [K_MTU] = {"mtu", false},
    [K_KEEPALIVE] = {"keepalive", false},
    [K_RENDEZVOUS] = {"rendezvous", false},
    [K_RENDEZVOUS_KEY] = {"rendezvous_key", false},
    [K_RELAY] = {"relay", false},
    [K_PORTMAP] = {"portmap", false},
    [K_OFFLOAD] = {"offload", false},
    [K_CONTROL_SOCKET] = {"control_socket", false},
    [K_LOG_LEVEL] = {"log_level", false},
};

static const struct cfg_reader_key peer_keys[N_PEER_KEYS] = {
    [P_PUBLIC_KEY] = {"public_key", false},
    [P_ALLOWED_IPS] = {"allowed_ips", false},
    [P_ENDPOINT] = {"endpoint", false},
    [P_PRESHARED_KEY] = {"preshared_key", true},
};

static const struct cfg_reader_section sections[] = {
    [SEC_INTERFACE] = {"interface", false, iface_keys, N_IFACE_KEYS},
    [SEC_PEER] = {"peer", true, peer_keys, N_PEER_KEYS},
};

/* Where each peer key was set, for messages about the whole file. */
struct peer_lines {
	int key[N_PEER_KEYS];
};

struct load {
	struct cfg_reader r;
	unsigned flags;
	struct cfg_daemon d;
	struct cfg_keys_private pk;
	int interface_line;	   /* first [interface] header, 0 if none */
	int line[N_IFACE_KEYS];	   /* where each interface key was set */
	struct peer_lines *plines; /* parallel to d.peers */
	size_t cap_peers;
	struct cfg_peer *peer; /* section being read, NULL after a failed allocation */
	struct peer_lines *pl;
	bool too_many_peers; /* CFG_MAX_PEERS reached (reported once) */
};

/* Calls fn on each comma-separated item of value, trimmed. Empty items and
 * empty lists are errors: "a,,b" is a typo, not two items. */
static void for_each_item(struct load *l, const char *value, const char *what,
			  void (*fn)(struct load *l, const char *item))
{
	const char *p = value;

	if (!*value) {
		cfg_reader_reject(&l->r, value, "empty list (expected %s)", what);
		return;
	}
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[ITEM_MAX];

		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0)
			cfg_reader_reject(&l->r, value, "empty item in list (expected %s)", what);
		else if (len >= sizeof(item))
			cfg_reader_reject(&l->r, value, "item too long (expected %s)", what);
		else {
			memcpy(item, p, len);
			item[len] = '\0';
			fn(l, item);
		}
		if (!comma)
			break;
		p = comma + 1;
	}
}

/* Appends one element to a growing array; false when out of memory. */
static bool push(void **arr, size_t *n, size_t size, const void *elem)
{
	void *grown = realloc(*arr, (*n + 1) * size);

	if (!grown)
		return false;
	memcpy((char *)grown + *n * size, elem, size);
	*arr = grown;
	(*n)++;
	return true;
}

static void oom(struct load *l)
{
	cfg_reader_error(&l->r, l->r.line, NULL, "out of memory");
}

static void add_address(struct load *l, const char *item)
{
	struct cfg_prefix p;

	if (!cfg_parse_prefix(item, true, &p)) {
		cfg_reader_reject(&l->r, item,
				  "bad address (expected ADDRESS/LENGTH, e.g. "
				  "10.77.0.1/24 or fd77::1/64)");
		return;
	}
	for (size_t i = 0; i < l->d.n_addresses; i++) {
		if (l->d.addresses[i].family == p.family &&
		    !memcmp(l->d.addresses[i].addr, p.addr, sizeof(p.addr))) {
			cfg_reader_reject(&l->r, item, "duplicate address (expected each once)");
			return;
		}
	}
	if (!push((void **)&l->d.addresses, &l->d.n_addresses, sizeof(p), &p))
		oom(l);
}

static void add_allowed_ip(struct load *l, const char *item)
{
	struct cfg_prefix p;
	char net[CFG_PREFIX_STRLEN];

	if (!cfg_parse_prefix(item, false, &p)) {
		if (cfg_parse_prefix(item, true, &p)) {
			/* Suggest the network the user most likely meant. */
			for (unsigned bit = p.plen; bit < (p.family == AF_INET ? 32u : 128u); bit++)
				p.addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
			cfg_prefix_to_string(&p, net, sizeof(net));
			cfg_reader_reject(&l->r, item, "host bits set (expected %s)", net);
		} else {
			cfg_reader_reject(&l->r, item,
					  "bad prefix (expected ADDRESS/LENGTH, e.g. "
					  "10.77.0.2/32 or fd77::/64)");
		}
		return;
	}
	if (l->peer &&
	    !push((void **)&l->peer->allowed_ips, &l->peer->n_allowed_ips, sizeof(p), &p))
		oom(l);
}

/* Parses a peer's or a meeting point's address; resolves names unless the
 * caller asked for numeric-only loading. */
static bool parse_endpoint(struct load *l, const char *item, struct sockaddr_storage *out)
{
	int rc;

	if (cfg_parse_endpoint(item, out)) {
		if (cfg_endpoint_is_unicast(out))
			return true;
		cfg_reader_reject(
		    &l->r, item,
		    "not a unicast address (expected an address packets can be sent to)");
		return false;
	}
	if (!cfg_parse_hostport(item)) {
		cfg_reader_reject(&l->r, item,
				  "bad endpoint (expected ADDRESS:PORT, HOST:PORT or "
				  "[IPv6]:PORT, port 1 to 65535)");
		return false;
	}
	if (l->flags & CFG_LOAD_NUMERIC) {
		cfg_reader_reject(&l->r, item,
				  "host names are not resolved here (expected a "
				  "numeric ADDRESS:PORT)");
		return false;
	}
	rc = cfg_resolve_endpoint(item, out);
	if (rc) {
		cfg_reader_reject(&l->r, item, "cannot resolve host: %s (expected HOST:PORT)",
				  rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return false;
	}
	if (!cfg_endpoint_is_unicast(out)) {
		cfg_reader_reject(&l->r, item, "host resolves to a non-unicast address");
		return false;
	}
	return true;
}

static void add_rendezvous(struct load *l, const char *item)
{
	struct sockaddr_storage ss;

	if (parse_endpoint(l, item, &ss) &&
	    !push((void **)&l->d.rendezvous, &l->d.n_rendezvous, sizeof(ss), &ss))
		oom(l);
}

static void set_uint(struct load *l, const char *value, unsigned min, unsigned max,
		     const char *what, const char *unit, unsigned *out)
{
	if (!cfg_parse_uint(value, min, max, out))
		cfg_reader_reject(&l->r, value, "bad %s (expected %u to %u%s)", what, min, max,
				  unit);
}

static void on_interface_key(struct load *l, enum iface_key k, const char *value)
{
	struct cfg_daemon *d = &l->d;
	unsigned port;

	/* The reader catches a repeat within one section; this catches a key
	 * repeated in a second [interface] section. */
	if (l->line[k]) {
		cfg_reader_reject(&l->r, value, "duplicate key (first set on line %d)", l->line[k]);
		return;
	}
	l->line[k] = l->r.line;
	switch (k) {
	case K_NAME:
		if (cfg_parse_ifname(value))
			snprintf(d->ifname, sizeof(d->ifname), "%s", value);
		else
			cfg_reader_reject(&l->r, value,
					  "bad interface name (expected 1 to 15 characters, no "
					  "'/', ':' or white space)");
		break;
	case K_ADDRESS:
		for_each_item(l, value, "tunnel addresses, e.g. 10.77.0.1/24, fd77::1/64",
			      add_address);
		break;
	case K_PRIVATE_KEY:
	case K_PRIVATE_KEY_FILE:
		cfg_keys_private_set(&l->r, &l->pk, k == K_PRIVATE_KEY_FILE, value);
		break;
	case K_LISTEN_PORT:
		if (cfg_parse_uint(value, 1, 65535, &port))
			d->listen_port = (uint16_t)port;
		else
			cfg_reader_reject(&l->r, value, "bad port (expected 1 to 65535)");
		break;
	case K_MTU:
		set_uint(l, value, 576, 65535, "MTU", "", &d->mtu);
		break;
	case K_KEEPALIVE:
		set_uint(l, value, 0, 3600, "keepalive", " seconds, 0 = off", &d->keepalive_s);
		break;
	case K_RENDEZVOUS:
		for_each_item(l, value, "meeting points as HOST:PORT, comma-separated",
			      add_rendezvous);
		break;
	case K_RENDEZVOUS_KEY:
		d->has_rendezvous_key = cfg_keys_public(&l->r, value, d->rendezvous_key);
		break;
	case K_RELAY:
		if (!cfg_parse_bool(value, &d->relay))
			cfg_reader_reject(&l->r, value, "bad yes/no (expected yes or no)");
		break;
	case K_PORTMAP:
		if (!cfg_parse_bool(value, &d->portmap))
			cfg_reader_reject(&l->r, value, "bad yes/no (expected yes or no)");
		break;
	case K_OFFLOAD:
		if (!strcasecmp(value, "auto"))
			d->offload = true;
		else if (!strcasecmp(value, "no"))
			d->offload = false;
		else
			cfg_reader_reject(&l->r, value, "bad offload (expected auto or no)");
		break;
	case K_CONTROL_SOCKET:
		if (value[0] == '/' && strlen(value) < sizeof(d->control_socket))
			snprintf(d->control_socket, sizeof(d->control_socket), "%s", value);
		else
			cfg_reader_reject(&l->r, value,
					  "bad socket path (expected an absolute path "
					  "shorter than %zu bytes)",
					  sizeof(d->control_socket));
		break;
	case K_LOG_LEVEL:
		if (!log_parse_level(value, &d->log_level))
			cfg_reader_reject(&l->r, value,
					  "bad log level (expected error, warn, info or debug)");
		break;
	case N_IFACE_KEYS:
		break;
	}
}

static void on_peer_key(struct load *l, enum peer_key k, const char *value)
{
	struct cfg_peer scratch, *p = l->peer ? l->peer : &scratch;

	/* After a failed allocation values are still checked, into scratch. */
	memset(&scratch, 0, sizeof(scratch));
	if (l->pl)
		l->pl->key[k] = l->r.line;
	switch (k) {
	case P_PUBLIC_KEY:
		(void)cfg_keys_public(&l->r, value, p->public_key);
		break;
	case P_ALLOWED_IPS:
		for_each_item(l, value, "prefixes, e.g. 10.77.0.2/32, fd77::2/128", add_allowed_ip);
		break;
	case P_ENDPOINT:
		p->has_endpoint = parse_endpoint(l, value, &p->endpoint);
		break;
	case P_PRESHARED_KEY:
		p->has_psk = cfg_keys_preshared(&l->r, value, p->psk);
		break;
	case N_PEER_KEYS:
		break;
	}
	sodium_memzero(&scratch, sizeof(scratch));
}

static void on_key(void *ctx, size_t section, size_t key, const char *value)
{
	if (section == SEC_INTERFACE)
		on_interface_key(ctx, (enum iface_key)key, value);
	else
		on_peer_key(ctx, (enum peer_key)key, value);
}

static void start_peer(struct load *l, const char *name)
{
	struct cfg_daemon *d = &l->d;

	for (size_t i = 0; i < d->n_peers; i++) {
		if (!strcmp(d->peers[i].name, name)) {
			cfg_reader_error(&l->r, l->r.line, NULL,
					 "duplicate peer name (first defined on line %d; expected "
					 "each name once): '[peer \"%s\"]'",
					 d->peers[i].line, name);
			break;
		}
	}
	l->peer = NULL;
	l->pl = NULL;
	if (d->n_peers == CFG_MAX_PEERS) {
		/* Once, at the first section over the limit; its keys and
		 * those of later sections are checked but kept nowhere. */
		if (!l->too_many_peers)
			cfg_reader_error(&l->r, l->r.line, NULL,
					 "too many peers (expected at most %d [peer] sections)",
					 CFG_MAX_PEERS);
		l->too_many_peers = true;
		return;
	}
	if (d->n_peers == l->cap_peers) {
		size_t cap = l->cap_peers ? 2 * l->cap_peers : 8;
		struct cfg_peer *peers = realloc(d->peers, cap * sizeof(*peers));
		struct peer_lines *lines;

		if (!peers) {
			oom(l);
			return;
		}
		d->peers = peers;
		lines = realloc(l->plines, cap * sizeof(*lines));
		if (!lines) {
			oom(l);
			return;
		}
		l->plines = lines;
		l->cap_peers = cap;
	}
	l->peer = &d->peers[d->n_peers];
	l->pl = &l->plines[d->n_peers];
	d->n_peers++;
	memset(l->peer, 0, sizeof(*l->peer));
	memset(l->pl, 0, sizeof(*l->pl));
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
	l->pl = NULL;
	if (l->interface_line)
		cfg_reader_error(&l->r, l->r.line, NULL,
				 "duplicate section (first on line %d; expected one [interface])",
				 l->interface_line);
	else
		l->interface_line = l->r.line;
}

static const struct cfg_reader_ops ops = {
    .sections = sections,
    .n_sections = sizeof(sections) / sizeof(sections[0]),
    .on_section = on_section,
    .on_key = on_key,
};

static bool has_ipv6_address(const struct cfg_daemon *d)
{
	for (size_t i = 0; i < d->n_addresses; i++)
		if (d->addresses[i].family == AF_INET6)
			return true;
	return false;
}

/* [interface] as a whole: required keys, keys that need each other, defaults. */
static void check_interface(struct load *l)
{
	struct cfg_daemon *d = &l->d;
	struct cfg_reader *r = &l->r;

	if (!l->interface_line) {
		cfg_reader_error(r, 0, NULL,
				 "missing [interface] section (expected one, with at "
				 "least address and private_key)");
		return;
	}
	(void)cfg_keys_private_finish(r, &l->pk, l->interface_line, "[interface]", d->public_key);
	memcpy(d->private_key, l->pk.key, sizeof(d->private_key));
	if (!l->line[K_ADDRESS])
		cfg_reader_error(r, l->interface_line, "[interface]",
				 "missing address (expected a tunnel address, e.g. "
				 "address = 10.77.0.1/24)");
	/* IPv6 requires every link to carry 1280-byte packets (RFC 8200 5). */
	if (d->mtu < IPV6_MIN_MTU && has_ipv6_address(d))
		cfg_reader_error(r, l->line[K_MTU], "mtu",
				 "too small for an IPv6 address (expected %d to 65535): '%u'",
				 IPV6_MIN_MTU, d->mtu);
	/* The meeting point is authenticated with the same Noise handshake as
	 * peers, so one without the other cannot work. */
	if (l->line[K_RENDEZVOUS_KEY] && !l->line[K_RENDEZVOUS])
		cfg_reader_error(r, l->line[K_RENDEZVOUS_KEY], "rendezvous_key",
				 "set without rendezvous (expected a rendezvous = HOST:PORT line)");
	if (l->line[K_RENDEZVOUS] && !l->line[K_RENDEZVOUS_KEY])
		cfg_reader_error(r, l->line[K_RENDEZVOUS], "rendezvous",
				 "set without rendezvous_key (expected the meeting point's public "
				 "key, to authenticate it)");
	if (!l->line[K_CONTROL_SOCKET])
		snprintf(d->control_socket, sizeof(d->control_socket), "/run/p2pvpn/%s.sock",
			 d->ifname);
}

/* Reports every pair of peers whose allowed_ips share an address: a packet
 * to it could go to either, and a source check could accept either. */
static void check_overlaps(struct load *l, size_t j)
{
	const struct cfg_peer *b = &l->d.peers[j];
	char pa[CFG_PREFIX_STRLEN], pb[CFG_PREFIX_STRLEN];

	for (size_t i = 0; i < j; i++) {
		const struct cfg_peer *a = &l->d.peers[i];

		for (size_t x = 0; x < a->n_allowed_ips; x++) {
			for (size_t y = 0; y < b->n_allowed_ips; y++) {
				if (!cfg_prefix_overlaps(&a->allowed_ips[x], &b->allowed_ips[y]))
					continue;
				cfg_prefix_to_string(&a->allowed_ips[x], pa, sizeof(pa));
				cfg_prefix_to_string(&b->allowed_ips[y], pb, sizeof(pb));
				cfg_reader_error(&l->r, l->plines[j].key[P_ALLOWED_IPS],
						 "allowed_ips",
						 "%s overlaps %s of peer \"%s\" (line %d; expected "
						 "each address routed to one peer)",
						 pb, pa, a->name, l->plines[i].key[P_ALLOWED_IPS]);
			}
		}
	}
}

static void check_peer(struct load *l, size_t j)
{
	const struct cfg_peer *p = &l->d.peers[j];
	const struct peer_lines *pl = &l->plines[j];
	char where[CFG_NAME_MAX + 10];

	snprintf(where, sizeof(where), "[peer \"%s\"]", p->name);
	if (!pl->key[P_PUBLIC_KEY])
		cfg_reader_error(&l->r, p->line, where,
				 "missing public_key (expected the peer's "
				 "public key)");
	if (!pl->key[P_ALLOWED_IPS])
		cfg_reader_error(&l->r, p->line, where,
				 "missing allowed_ips (expected the tunnel addresses routed to "
				 "this peer, e.g. 10.77.0.2/32)");
	if (!pl->key[P_PUBLIC_KEY] || sodium_is_zero(p->public_key, sizeof(p->public_key)))
		return; /* missing or already reported as bad */
	if (l->pk.ok && !sodium_memcmp(p->public_key, l->d.public_key, sizeof(p->public_key)))
		cfg_reader_error(&l->r, pl->key[P_PUBLIC_KEY], "public_key",
				 "this is the interface's own public key (expected the peer's)");
	for (size_t i = 0; i < j; i++) {
		if (!sodium_memcmp(p->public_key, l->d.peers[i].public_key, sizeof(p->public_key)))
			cfg_reader_error(&l->r, pl->key[P_PUBLIC_KEY], "public_key",
					 "same key as peer \"%s\" (line %d; expected one peer a "
					 "key)",
					 l->d.peers[i].name, l->plines[i].key[P_PUBLIC_KEY]);
	}
}

/* A config with a key inline is a key file (keys.c): refuse it when others
 * could read it, naming the first line that holds a secret. */
static void check_secret_lines(struct load *l, FILE *in)
{
	if (l->pk.line && !strcmp(l->pk.from, "private_key")) {
		cfg_keys_check_config(&l->r, in, l->pk.line, "private_key");
		return;
	}
	for (size_t j = 0; j < l->d.n_peers; j++)
		if (l->plines[j].key[P_PRESHARED_KEY]) {
			cfg_keys_check_config(&l->r, in, l->plines[j].key[P_PRESHARED_KEY],
					      "preshared_key");
			return;
		}
}

static void defaults(struct cfg_daemon *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "%s", name);
	snprintf(d->ifname, sizeof(d->ifname), "p2p0");
	d->listen_port = 51820;
	d->mtu = 1420;
	d->keepalive_s = 20;
	d->relay = true;
	d->portmap = true;
	d->offload = true;
	d->log_level = LOG_LEVEL_INFO;
}

bool cfg_load_daemon_stream(FILE *in, const char *name, unsigned flags, struct cfg_daemon *out,
			    struct cfg_errors *errs)
{
	struct load *l = calloc(1, sizeof(*l));
	bool ok;

	if (!l) {
		(void)cfg_errors_add(errs, "%s: out of memory", name);
		return false;
	}
	l->flags = flags;
	defaults(&l->d, name);
	cfg_reader_init(&l->r, name, errs);
	cfg_reader_parse(&l->r, in, &ops, l);
	check_secret_lines(l, in);
	check_interface(l);
	for (size_t j = 0; j < l->d.n_peers; j++) {
		check_peer(l, j);
		check_overlaps(l, j);
	}
	cfg_reader_finish(&l->r);
	ok = l->r.n_errors == 0;
	if (ok)
		*out = l->d;
	else
		cfg_daemon_free(&l->d);
	free(l->plines);
	sodium_memzero(l, sizeof(*l));
	free(l);
	return ok;
}

bool cfg_load_daemon_string(const char *name, const char *text, unsigned flags,
			    struct cfg_daemon *out, struct cfg_errors *errs)
{
	/* fmemopen refuses a zero size; an empty file is one blank line. */
	size_t len = strlen(text);
	FILE *in = fmemopen((void *)(len ? text : "\n"), len ? len : 1, "r");
	bool ok;

	if (!in) {
		(void)cfg_errors_add(errs, "%s: cannot read: %s", name, strerror(errno));
		return false;
	}
	ok = cfg_load_daemon_stream(in, name, flags, out, errs);
	fclose(in);
	return ok;
}

bool cfg_load_daemon(const char *path, struct cfg_daemon *out, struct cfg_errors *errs)
{
	FILE *in = fopen(path, "re");
	bool ok;

	if (!in) {
		(void)cfg_errors_add(errs, "%s: cannot open config file: %s", path,
				     strerror(errno));
		return false;
	}
	ok = cfg_load_daemon_stream(in, path, 0, out, errs);
	fclose(in);
	return ok;
}

void cfg_daemon_free(struct cfg_daemon *cfg)
{
	for (size_t i = 0; i < cfg->n_peers; i++) {
		sodium_memzero(cfg->peers[i].psk, sizeof(cfg->peers[i].psk));
		free(cfg->peers[i].allowed_ips);
	}
	free(cfg->peers);
	free(cfg->addresses);
	free(cfg->rendezvous);
	sodium_memzero(cfg, sizeof(*cfg));
}

const struct cfg_peer *cfg_daemon_find_peer(const struct cfg_daemon *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (!strcmp(cfg->peers[i].name, name))
			return &cfg->peers[i];
	return NULL;
}

bool cfg_peer_equal(const struct cfg_peer *a, const struct cfg_peer *b)
{
	if (strcmp(a->name, b->name) || memcmp(a->public_key, b->public_key, CFG_KEY_LEN) ||
	    a->has_psk != b->has_psk || sodium_memcmp(a->psk, b->psk, CFG_KEY_LEN) ||
	    a->has_endpoint != b->has_endpoint || a->n_allowed_ips != b->n_allowed_ips)
		return false;
	if (a->has_endpoint && !cfg_endpoint_equal(&a->endpoint, &b->endpoint))
		return false;
	for (size_t i = 0; i < a->n_allowed_ips; i++) {
		const struct cfg_prefix *x = &a->allowed_ips[i], *y = &b->allowed_ips[i];

		if (x->family != y->family || x->plen != y->plen ||
		    memcmp(x->addr, y->addr, sizeof(x->addr)))
			return false;
	}
	return true;
}
