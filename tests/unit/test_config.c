/* Tests for src/config: the value parsers, both loaders, private key files
 * and the shipped example configs. Bad configs are a numbered table: each
 * row changes one line of a known-good file and names the exact message it
 * must produce, file and line included. Every test also checks a failure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>

#include "config/config.h"
#include "config/keys.h"
#include "crypto/keys.h"

/* Throw-away keys made for these tests (p2pvpnctl genkey). */
#define OUR_PRIV "gNZa//nUov3vcwQUjuwF2fd86dohmRhe0bGjTelRrWA="
#define OUR_PUB "eN6veY9KRmKKEWTGMXpwVM4so/aRPQG/WuShz54Y3ls="
#define BOB_PUB "T0pSmDWroAW/emnPND/TTf8hwmyDqIehI+BeCkgL5BI="
#define CAROL_PUB "gSr5oqgfvYwJCoKeLhj5LP3pjG4LWEfYfXoWJQaQxnY="
#define RDV_PRIV "QOY9zgABKMaSkODX1vaxN9DjJxJtjBJVewTFflRadUI="
#define RDV_PUB "P1sefMxy1J0OtSxSZspfZOLd3xTrL5U8FaWwLgIoU1w="
#define PSK "kNcc9jsGZ/y6JRyvQbN+YCuWbs5RQYBBgqnCv65sRUk="
#define ZERO_KEY "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
/* The low-order point e0eb7a7c...b800 (SECURITY-NOTES item 5). */
#define LOW_ORDER_KEY "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA="

enum { MAX_LINES = 64 };

/* A complete, valid daemon config; line numbers are those of the array. */
static const char *const daemon_lines[] = {
    NULL,
    /*  1 */ "[interface]",
    /*  2 */ "name = p2p0",
    /*  3 */ "address = 10.77.0.1/24, fd77::1/64",
    /*  4 */ "private_key = " OUR_PRIV,
    /*  5 */ "listen_port = 51821",
    /*  6 */ "mtu = 1400",
    /*  7 */ "keepalive = 25",
    /*  8 */ "rendezvous = 203.0.113.10:3478, [2001:db8::10]:3478",
    /*  9 */ "rendezvous_key = " RDV_PUB,
    /* 10 */ "relay = no",
    /* 11 */ "control_socket = /run/p2pvpn/test.sock",
    /* 12 */ "log_level = debug",
    /* 13 */ "portmap = no",
    /* 14 */ "[peer \"bob\"]",
    /* 15 */ "public_key = " BOB_PUB,
    /* 16 */ "allowed_ips = 10.77.0.2/32, fd77::2/128",
    /* 17 */ "endpoint = 198.51.100.7:51820",
    /* 18 */ "preshared_key = " PSK,
    /* 19 */ "",
    /* 20 */ "[peer \"carol\"]",
    /* 21 */ "public_key = " CAROL_PUB,
    /* 22 */ "allowed_ips = 10.77.0.3/32, 10.78.0.0/16",
    /* 23 */ "endpoint = [2001:db8::7]:51820",
};
enum { DAEMON_LINES = sizeof(daemon_lines) / sizeof(daemon_lines[0]) - 1 };

static const char *const rdv_lines[] = {
    NULL,
    /*  1 */ "[rendezvous]",
    /*  2 */ "listen = 203.0.113.10:3478",
    /*  3 */ "alternate_address = 203.0.113.11",
    /*  4 */ "private_key = " RDV_PRIV,
    /*  5 */ "relay = yes",
    /*  6 */ "open = no",
    /*  7 */ "",
    /*  8 */ "[peer \"alice\"]",
    /*  9 */ "public_key = " OUR_PUB,
    /* 10 */ "",
    /* 11 */ "[peer \"bob\"]",
    /* 12 */ "public_key = " BOB_PUB,
};
enum { RDV_LINES = sizeof(rdv_lines) / sizeof(rdv_lines[0]) - 1 };

/* Joins lines 1..n with '\n', replacing line `line` with repl (NULL: keep). */
static char *join(const char *const *lines, int n, int line, const char *repl)
{
	size_t len = 1;
	char *text, *p;

	for (int i = 1; i <= n; i++)
		len += strlen(i == line && repl ? repl : lines[i]) + 1;
	text = malloc(len);
	assert_non_null(text);
	p = text;
	for (int i = 1; i <= n; i++)
		p += sprintf(p, "%s\n", i == line && repl ? repl : lines[i]);
	return text;
}

static bool has_message(const struct cfg_errors *errs, const char *fragment)
{
	for (size_t i = 0; i < errs->n; i++)
		if (strstr(errs->msgs[i], fragment))
			return true;
	return false;
}

/* Fails the test, showing every message, unless one contains fragment. */
static void assert_message(const struct cfg_errors *errs, const char *fragment)
{
	if (!has_message(errs, fragment)) {
		fprintf(stderr, "expected a message containing: %s\ngot:\n", fragment);
		cfg_errors_print(errs, stderr);
		fail();
	}
}

static void assert_no_secret(const struct cfg_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		assert_null(strstr(errs->msgs[i], OUR_PRIV));
		assert_null(strstr(errs->msgs[i], RDV_PRIV));
		assert_null(strstr(errs->msgs[i], PSK));
	}
}

static bool load_daemon_text(const char *text, struct cfg_daemon *d, struct cfg_errors *errs)
{
	return cfg_load_daemon_string("test.conf", text, CFG_LOAD_NUMERIC, d, errs);
}

static void assert_daemon_loads(const char *text, struct cfg_daemon *d)
{
	struct cfg_errors errs = {0};

	if (!load_daemon_text(text, d, &errs)) {
		fprintf(stderr, "config refused:\n%s---\n", text);
		cfg_errors_print(&errs, stderr);
		fail();
	}
	assert_int_equal(errs.n, 0);
	cfg_errors_free(&errs);
}

/* ---- value parsers ---------------------------------------------------- */

static void test_cfg_parse_prefix_table(void **state)
{
	static const struct {
		const char *s;
		bool host_bits;
		bool ok;
		const char *canon;
	} t[] = {
	    /*  1 */ {"10.0.0.0/8", false, true, "10.0.0.0/8"},
	    /*  2 */ {"10.0.0.1/8", false, false, NULL},
	    /*  3 */ {"10.0.0.1/8", true, true, "10.0.0.1/8"},
	    /*  4 */ {"10.0.0.1", false, true, "10.0.0.1/32"},
	    /*  5 */ {"0.0.0.0/0", false, true, "0.0.0.0/0"},
	    /*  6 */ {"10.0.0.0/33", true, false, NULL},
	    /*  7 */ {"10.0.0.0/08", true, false, NULL},
	    /*  8 */ {"10.0.0.0/", true, false, NULL},
	    /*  9 */ {"10.0.0.256/32", true, false, NULL},
	    /* 10 */ {"fd77::/64", false, true, "fd77::/64"},
	    /* 11 */ {"fd77::1/64", false, false, NULL},
	    /* 12 */ {"fd77::1", false, true, "fd77::1/128"},
	    /* 13 */ {"fd77::/129", true, false, NULL},
	    /* 14 */ {"fe80::1%eth0/64", true, false, NULL},
	    /* 15 */ {"", true, false, NULL},
	    /* 16 */ {"10.0.0.0/-1", true, false, NULL},
	    /* 17 */ {"10.0.0.128/25", false, true, "10.0.0.128/25"},
	    /* 18 */ {"10.0.0.129/25", false, false, NULL},
	    /* 19 */ {" 10.0.0.0/8", true, false, NULL},
	};
	char buf[CFG_PREFIX_STRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cfg_prefix p = {.plen = 99};
		bool ok = cfg_parse_prefix(t[i].s, t[i].host_bits, &p);

		if (ok != t[i].ok)
			fail_msg("row %zu: '%s' gave %d", i + 1, t[i].s, ok);
		if (!ok) {
			assert_int_equal(p.plen, 99); /* untouched on failure */
			continue;
		}
		cfg_prefix_to_string(&p, buf, sizeof(buf));
		assert_string_equal(buf, t[i].canon);
	}
}

static void test_cfg_prefix_contains_edges(void **state)
{
	struct cfg_prefix all4, net, host, other, all6, v6net, v6host;

	(void)state;
	assert_true(cfg_parse_prefix("0.0.0.0/0", false, &all4));
	assert_true(cfg_parse_prefix("10.77.0.0/23", false, &net));
	assert_true(cfg_parse_prefix("10.77.1.255/32", false, &host));
	assert_true(cfg_parse_prefix("10.77.2.0/32", false, &other));
	assert_true(cfg_parse_prefix("::/0", false, &all6));
	assert_true(cfg_parse_prefix("fd77::/63", false, &v6net));
	assert_true(cfg_parse_prefix("fd77:0:0:1::5/128", false, &v6host));
	assert_true(cfg_prefix_contains(&all4, &net));
	assert_true(cfg_prefix_contains(&net, &host));
	assert_true(cfg_prefix_contains(&net, &net));
	assert_false(cfg_prefix_contains(&host, &net));
	assert_false(cfg_prefix_contains(&net, &other)); /* just past the /23 */
	assert_true(cfg_prefix_overlaps(&host, &net));
	assert_false(cfg_prefix_overlaps(&other, &net));
	assert_true(cfg_prefix_contains(&v6net, &v6host));
	assert_true(cfg_prefix_contains(&all6, &v6host));
	/* Families never mix, not even ::/0 and 0.0.0.0/0. */
	assert_false(cfg_prefix_overlaps(&all6, &all4));
	assert_false(cfg_prefix_contains(&all6, &host));
}

static void test_cfg_parse_endpoint_table(void **state)
{
	static const struct {
		const char *s;
		const char *canon; /* NULL: refused */
	} t[] = {
	    /*  1 */ {"198.51.100.7:51820", "198.51.100.7:51820"},
	    /*  2 */ {"[2001:db8::7]:1", "[2001:db8::7]:1"},
	    /*  3 */ {"198.51.100.7:65535", "198.51.100.7:65535"},
	    /*  4 */ {"198.51.100.7:65536", NULL},
	    /*  5 */ {"198.51.100.7:0", NULL},
	    /*  6 */ {"198.51.100.7", NULL},
	    /*  7 */ {"198.51.100.7:", NULL},
	    /*  8 */ {"2001:db8::7:51820", NULL}, /* IPv6 needs brackets */
	    /*  9 */ {"[2001:db8::7]51820", NULL},
	    /* 10 */ {"[198.51.100.7]:1", NULL},
	    /* 11 */ {"host.example:80", NULL}, /* names are never resolved here */
	    /* 12 */ {"[fe80::1%eth0]:51820", NULL},
	    /* 13 */ {"198.51.100.07:1", NULL},
	    /* 14 */ {"198.51.100.7:+80", NULL},
	    /* 15 */ {"", NULL},
	};
	char buf[CFG_ENDPOINT_STRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sockaddr_storage ss = {.ss_family = AF_UNIX};
		bool ok = cfg_parse_endpoint(t[i].s, &ss);

		if (ok != (t[i].canon != NULL))
			fail_msg("row %zu: '%s' gave %d", i + 1, t[i].s, ok);
		if (!ok) {
			assert_int_equal(ss.ss_family, AF_UNIX);
			continue;
		}
		cfg_endpoint_to_string(&ss, buf, sizeof(buf));
		assert_string_equal(buf, t[i].canon);
	}
}

static void test_cfg_parse_scalars(void **state)
{
	unsigned u = 7;
	bool b = false;

	(void)state;
	assert_true(cfg_parse_bool("yes", &b) && b);
	assert_true(cfg_parse_bool("No", &b) && !b);
	assert_true(cfg_parse_bool("true", &b) && b);
	assert_false(cfg_parse_bool("y", &b));
	assert_false(cfg_parse_bool("yes please", &b));
	assert_false(cfg_parse_bool("", &b));

	assert_true(cfg_parse_uint("0", 0, 10, &u) && u == 0);
	assert_true(cfg_parse_uint("3600", 0, 3600, &u) && u == 3600);
	assert_false(cfg_parse_uint("3601", 0, 3600, &u));
	assert_false(cfg_parse_uint("010", 0, 3600, &u));
	assert_false(cfg_parse_uint("-1", 0, 3600, &u));
	assert_false(cfg_parse_uint("4294967296", 0, 4294967295u, &u));
	assert_false(cfg_parse_uint("99999999999", 0, 4294967295u, &u));
	assert_false(cfg_parse_uint("", 0, 10, &u));
	assert_int_equal(u, 3600); /* untouched by the failures */

	assert_true(cfg_parse_ifname("p2p0"));
	assert_true(cfg_parse_ifname("abcdefghijklmno")); /* 15 = IFNAMSIZ - 1 */
	assert_false(cfg_parse_ifname("abcdefghijklmnop"));
	assert_false(cfg_parse_ifname(""));
	assert_false(cfg_parse_ifname(".."));
	assert_false(cfg_parse_ifname("a/b"));
	assert_false(cfg_parse_ifname("a b"));
	assert_false(cfg_parse_ifname("a:1"));

	assert_true(cfg_parse_hostport("rdv.example.net:3478"));
	assert_false(cfg_parse_hostport("rdv.example.net"));
	assert_false(cfg_parse_hostport("10.0.0.300:1")); /* looks numeric: never sent to DNS */
	assert_false(cfg_parse_hostport("-bad.example:1"));
}

/* ---- daemon config: good --------------------------------------------- */

static void test_cfg_load_daemon_round_trip(void **state)
{
	char *text = join(daemon_lines, DAEMON_LINES, 0, NULL);
	struct cfg_daemon d;
	char buf[CFG_ENDPOINT_STRLEN];
	uint8_t key[32];
	const struct cfg_peer *bob, *carol;

	(void)state;
	assert_daemon_loads(text, &d);
	assert_string_equal(d.path, "test.conf");
	assert_string_equal(d.ifname, "p2p0");
	assert_int_equal(d.n_addresses, 2);
	cfg_prefix_to_string(&d.addresses[0], buf, sizeof(buf));
	assert_string_equal(buf, "10.77.0.1/24");
	cfg_prefix_to_string(&d.addresses[1], buf, sizeof(buf));
	assert_string_equal(buf, "fd77::1/64");
	assert_true(key_from_base64(OUR_PRIV, key));
	assert_memory_equal(d.private_key, key, 32);
	assert_true(key_from_base64(OUR_PUB, key));
	assert_memory_equal(d.public_key, key, 32);
	assert_int_equal(d.listen_port, 51821);
	assert_int_equal(d.mtu, 1400);
	assert_int_equal(d.keepalive_s, 25);
	assert_int_equal(d.n_rendezvous, 2);
	cfg_endpoint_to_string(&d.rendezvous[0], buf, sizeof(buf));
	assert_string_equal(buf, "203.0.113.10:3478");
	cfg_endpoint_to_string(&d.rendezvous[1], buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::10]:3478");
	assert_true(d.has_rendezvous_key);
	assert_true(key_from_base64(RDV_PUB, key));
	assert_memory_equal(d.rendezvous_key, key, 32);
	assert_false(d.relay);
	assert_false(d.portmap);
	assert_string_equal(d.control_socket, "/run/p2pvpn/test.sock");
	assert_int_equal(d.log_level, LOG_LEVEL_DEBUG);

	assert_int_equal(d.n_peers, 2);
	bob = cfg_daemon_find_peer(&d, "bob");
	carol = cfg_daemon_find_peer(&d, "carol");
	assert_non_null(bob);
	assert_non_null(carol);
	assert_null(cfg_daemon_find_peer(&d, "dave"));
	assert_int_equal(bob->line, 14);
	assert_true(key_from_base64(BOB_PUB, key));
	assert_memory_equal(bob->public_key, key, 32);
	assert_true(bob->has_psk);
	assert_true(key_from_base64(PSK, key));
	assert_memory_equal(bob->psk, key, 32);
	assert_int_equal(bob->n_allowed_ips, 2);
	cfg_prefix_to_string(&bob->allowed_ips[1], buf, sizeof(buf));
	assert_string_equal(buf, "fd77::2/128");
	assert_true(bob->has_endpoint);
	cfg_endpoint_to_string(&bob->endpoint, buf, sizeof(buf));
	assert_string_equal(buf, "198.51.100.7:51820");
	assert_false(carol->has_psk);
	assert_true(sodium_is_zero(carol->psk, 32));
	cfg_endpoint_to_string(&carol->endpoint, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::7]:51820");
	assert_int_equal(carol->line, 20);

	cfg_daemon_free(&d);
	assert_null(d.peers);
	assert_int_equal(d.n_peers, 0);
	assert_true(sodium_is_zero(d.private_key, 32));
	free(text);
}

static void test_cfg_load_daemon_defaults(void **state)
{
	static const char minimal[] = "[interface]\n"
				      "address = 10.77.0.1/24\n"
				      "private_key = " OUR_PRIV "\n";
	static const char named[] = "[interface]\n"
				    "name = wg7\n"
				    "address = 10.77.0.1\n"
				    "private_key = " OUR_PRIV "\n";
	static const char no_address[] = "[interface]\n"
					 "private_key = " OUR_PRIV "\n";
	struct cfg_daemon d;
	struct cfg_errors errs = {0};

	(void)state;
	assert_daemon_loads(minimal, &d);
	assert_string_equal(d.ifname, "p2p0");
	assert_int_equal(d.listen_port, 51820);
	assert_int_equal(d.mtu, 1420);
	assert_int_equal(d.keepalive_s, 20);
	assert_true(d.relay);
	assert_true(d.portmap);
	assert_true(d.offload);
	assert_string_equal(d.control_socket, "/run/p2pvpn/p2p0.sock");
	assert_int_equal(d.log_level, LOG_LEVEL_INFO);
	assert_int_equal(d.n_rendezvous, 0);
	assert_false(d.has_rendezvous_key);
	assert_int_equal(d.n_peers, 0);
	cfg_daemon_free(&d);

	/* The socket follows the interface name. */
	assert_daemon_loads(named, &d);
	assert_string_equal(d.control_socket, "/run/p2pvpn/wg7.sock");
	assert_int_equal(d.addresses[0].plen, 32);
	cfg_daemon_free(&d);

	memset(&d, 0xa5, sizeof(d));
	assert_false(load_daemon_text(no_address, &d, &errs));
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0], "test.conf:1: [interface]: missing address (expected a "
					  "tunnel address, e.g. address = 10.77.0.1/24)");
	assert_int_equal(((unsigned char *)&d)[0], 0xa5); /* untouched on failure */
	cfg_errors_free(&errs);
}

/* Accepted spellings: each row changes one line and must still load. */
static void test_cfg_load_daemon_good_variants(void **state)
{
	static const struct {
		int line;
		const char *repl;
	} t[] = {
	    /*  1 */ {2, "name = p2p0 ; inline comment"},
	    /*  2 */ {2, "   name = p2p0"},
	    /*  3 */ {2, "name=p2p0"},
	    /*  4 */ {2, "name: p2p0"},
	    /*  5 */ {13, "# a comment"},
	    /*  6 */ {13, "; a comment"},
	    /*  7 */ {10, "relay = YES"},
	    /*  8 */ {14, "[ peer  \"bob\" ]"},
	    /*  9 */ {14, "[peer \"bob\"]   ; the laptop"},
	    /* 10 */ {6, "mtu = 1280"},
	    /* 11 */ {7, "keepalive = 0"},
	    /* 12 */ {17, "endpoint = [::ffff:198.51.100.7]:51820"},
	    /* 13 */ {16, "allowed_ips = 10.77.0.2/32,fd77::2/128"},
	    /* 14 */ {1, "\xef\xbb\xbf[interface]"}, /* UTF-8 byte order mark */
	    /* 15 */ {11, "control_socket = /tmp/p2p.sock"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *text = join(daemon_lines, DAEMON_LINES, t[i].line, t[i].repl);
		struct cfg_daemon d;

		assert_daemon_loads(text, &d);
		cfg_daemon_free(&d);
		free(text);
	}
}

/* offload = auto | no, any case; the default (auto) is checked with the
 * other defaults. */
static void test_cfg_load_daemon_offload(void **state)
{
	static const struct {
		const char *line;
		bool want;
	} t[] = {
	    {"offload = no", false},
	    {"offload = NO", false},
	    {"offload = auto", true},
	    {"offload = Auto", true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *text = join(daemon_lines, DAEMON_LINES, 13, t[i].line);
		struct cfg_daemon d;

		assert_daemon_loads(text, &d);
		assert_int_equal(d.offload, t[i].want);
		cfg_daemon_free(&d);
		free(text);
	}
}

/* ---- daemon config: bad, one line changed a row ----------------------- */

static const struct {
	int line;
	const char *repl; /* "" deletes the line's content */
	const char *msg;  /* a fragment of one message, file and line included */
} daemon_bad[] = {
    /*  1 */ {2, "name = this-name-is-too-long",
	      "test.conf:2: name: bad interface name (expected 1 to 15 characters, no '/', "
	      "':' or white space): 'this-name-is-too-long'"},
    /*  2 */ {2, "name = a/b", "test.conf:2: name: bad interface name"},
    /*  3 */
    {2, "name = a b",
     "test.conf:2: name: bad interface name (expected 1 to 15 "
     "characters, no '/', ':' or white space): 'a b'"},
    /*  4 */
    {3, "address = 10.77.0.300/24",
     "test.conf:3: address: bad address (expected ADDRESS/LENGTH, e.g. 10.77.0.1/24 "
     "or fd77::1/64): '10.77.0.300/24'"},
    /*  5 */ {3, "address = 10.77.0.1/33", "test.conf:3: address: bad address"},
    /*  6 */
    {3, "address = 10.77.0.1/24,, fd77::1/64",
     "test.conf:3: address: empty item in list (expected tunnel addresses"},
    /*  7 */ {3, "", "test.conf:1: [interface]: missing address"},
    /*  8 */
    {4, "private_key = abc",
     "test.conf:4: private_key: bad key (expected 44 characters of base64, as from "
     "p2pvpnctl genkey): '<hidden>'"},
    /*  9 */
    {4, "private_key = gNZa//nUov3vcwQUjuwF2fd86dohmRhe0bGjTelRrWA",
     "test.conf:4: private_key: bad key (expected 44 characters of base64, as from "
     "p2pvpnctl genkey): '<hidden>'"},
    /* 10 */ {4, "", "test.conf:1: [interface]: missing private_key or private_key_file"},
    /* 11 */
    {5, "listen_port = 0", "test.conf:5: listen_port: bad port (expected 1 to 65535): '0'"},
    /* 12 */ {5, "listen_port = 65536", "test.conf:5: listen_port: bad port"},
    /* 13 */ {5, "listen_port = 51820x", "test.conf:5: listen_port: bad port"},
    /* 14 */ {6, "mtu = 575", "test.conf:6: mtu: bad MTU (expected 576 to 65535): '575'"},
    /* 15 */
    {6, "mtu = 1279",
     "test.conf:6: mtu: too small for an IPv6 address (expected 1280 to 65535): "
     "'1279'"},
    /* 16 */
    {7, "keepalive = 3601",
     "test.conf:7: keepalive: bad keepalive (expected 0 to 3600 seconds, 0 = off): "
     "'3601'"},
    /* 17 */ {7, "keepalive = -1", "test.conf:7: keepalive: bad keepalive"},
    /* 18 */
    {8, "rendezvous = 203.0.113.10",
     "test.conf:8: rendezvous: bad endpoint (expected ADDRESS:PORT, HOST:PORT or "
     "[IPv6]:PORT, port 1 to 65535): '203.0.113.10'"},
    /* 19 */ {8, "rendezvous = 2001:db8::10:3478", "test.conf:8: rendezvous: bad endpoint"},
    /* 20 */
    {8, "rendezvous = rdv.example.net:3478",
     "test.conf:8: rendezvous: host names are not resolved here (expected a numeric "
     "ADDRESS:PORT): 'rdv.example.net:3478'"},
    /* 21 */ {8, "rendezvous = 203.0.113.10:0", "test.conf:8: rendezvous: bad endpoint"},
    /* 22 */ {8, "", "test.conf:9: rendezvous_key: set without rendezvous"},
    /* 23 */ {9, "", "test.conf:8: rendezvous: set without rendezvous_key"},
    /* 24 */
    {9, "rendezvous_key = " LOW_ORDER_KEY,
     "test.conf:9: rendezvous_key: low-order public key (expected a real X25519 "
     "key): '" LOW_ORDER_KEY "'"},
    /* 25 */ {10, "relay = maybe", "test.conf:10: relay: bad yes/no (expected yes or no): 'maybe'"},
    /* 25a */
    {13, "portmap = auto", "test.conf:13: portmap: bad yes/no (expected yes or no): 'auto'"},
    /* 25b */
    {13, "offload = yes", "test.conf:13: offload: bad offload (expected auto or no): 'yes'"},
    /* 26 */
    {11, "control_socket = run/p2p.sock",
     "test.conf:11: control_socket: bad socket path (expected an absolute path "
     "shorter than 108 bytes): 'run/p2p.sock'"},
    /* 27 */
    {12, "log_level = verbose",
     "test.conf:12: log_level: bad log level (expected error, warn, info or debug): "
     "'verbose'"},
    /* 28 */ {12, "name = p2p1", "test.conf:12: name: duplicate key (first set on line 2): 'p2p1'"},
    /* 29 */
    {12, "colour = blue",
     "test.conf:12: colour: unknown key in [interface] (expected one of: name, "
     "address, private_key, private_key_file, listen_port"},
    /* 30 */
    {12, "private_key = " RDV_PRIV,
     "test.conf:12: private_key: duplicate key (first set on line 4): '<hidden>'"},
    /* 31 */
    {12, "private_key_file = /nonexistent/key",
     "test.conf:12: private_key_file: private_key is already set on line 4 "
     "(expected only one of private_key and private_key_file): '/nonexistent/key'"},
    /* 32 */ {14, "[peer \"bob\"", "test.conf:14: section header without ']'"},
    /* 33 */
    {14, "[peer bob]",
     "test.conf:14: bad section name (expected [peer \"NAME\"] with NAME 1 to 63 "
     "letters, digits, '.', '_' or '-')"},
    /* 34 */
    {14, "[peers \"bob\"]",
     "test.conf:14: unknown section (expected [interface] or [peer \"NAME\"]): "
     "'[peers \"bob\"]'"},
    /* 35 */
    {14, "[peer \"carol\"]",
     "test.conf:20: duplicate peer name (first defined on line 14; expected each "
     "name once): '[peer \"carol\"]'"},
    /* 36 */
    {15, "public_key = " OUR_PUB,
     "test.conf:15: public_key: this is the interface's own public key (expected the "
     "peer's)"},
    /* 37 */
    {15, "public_key = " CAROL_PUB,
     "test.conf:21: public_key: same key as peer \"bob\" (line 15; expected one peer "
     "a key)"},
    /* 38 */ {15, "public_key = " ZERO_KEY, "test.conf:15: public_key: low-order public key"},
    /* 39 */
    {15, "public_key = T0pSmDWroAW/emnPND/TTf8hwmyDqIehI+BeCkgL5BI",
     "test.conf:15: public_key: bad key (expected 44 characters of base64): "
     "'T0pSmDWroAW/emnPND/TTf8hwmyDqIehI+BeCkgL5BI'"},
    /* 40 */ {15, "", "test.conf:14: [peer \"bob\"]: missing public_key"},
    /* 41 */ {16, "", "test.conf:14: [peer \"bob\"]: missing allowed_ips"},
    /* 42 */
    {16, "allowed_ips = 10.77.0.2/24",
     "test.conf:16: allowed_ips: host bits set (expected 10.77.0.0/24): "
     "'10.77.0.2/24'"},
    /* 43 */
    {16, "allowed_ips = fd77::1/64",
     "test.conf:16: allowed_ips: host bits set (expected fd77::/64): 'fd77::1/64'"},
    /* 44 */
    {16, "allowed_ips = 10.77.0.0/24",
     "test.conf:22: allowed_ips: 10.77.0.3/32 overlaps 10.77.0.0/24 of peer \"bob\" "
     "(line 16; expected each address routed to one peer)"},
    /* 45 */
    {16, "allowed_ips = 10.78.1.0/24",
     "test.conf:22: allowed_ips: 10.78.0.0/16 overlaps 10.78.1.0/24 of peer \"bob\""},
    /* 46 */
    {22, "allowed_ips = fd77::/64",
     "test.conf:22: allowed_ips: fd77::/64 overlaps fd77::2/128 of peer \"bob\" (line "
     "16;"},
    /* 47 */ {22, "allowed_ips =", "test.conf:22: allowed_ips: empty list (expected"},
    /* 48 */ {17, "endpoint = 198.51.100.7", "test.conf:17: endpoint: bad endpoint"},
    /* 49 */
    {17, "endpoint = 0.0.0.0:51820",
     "test.conf:17: endpoint: not a unicast address (expected an address packets can "
     "be sent to): '0.0.0.0:51820'"},
    /* 50 */ {17, "endpoint = [ff02::1]:51820", "test.conf:17: endpoint: not a unicast"},
    /* 51 */ {17, "endpoint = [fe80::1%eth0]:51820", "test.conf:17: endpoint: bad endpoint"},
    /* 52 */
    {18, "preshared_key = short",
     "test.conf:18: preshared_key: bad key (expected 44 characters of base64): "
     "'<hidden>'"},
    /* 53 */
    {19, "garbage line",
     "test.conf:19: syntax error (expected 'key = value', a [section] or a ; "
     "comment)"},
    /* 54 */ {19, "    continued", "test.conf:19: syntax error"},
    /* 55 */ {19, "= value", "test.conf:19: syntax error"},
    /* 56 */
    {13, "[interfaces]",
     "test.conf:13: unknown section (expected [interface] or "
     "[peer \"NAME\"]): '[interfaces]'"},
    /* 57 */
    {1, "[interface] extra",
     "test.conf:1: text after the section header (expected only a ; comment)"},
    /* 58 */
    {1, "; no header",
     "test.conf:2: name: key outside any section (expected it under [interface])"},
    /* 59 */
    {20, "[interface]",
     "test.conf:20: duplicate section (first on line 1; expected one [interface])"},
    /* 60 */ {20, "[interface]", "test.conf:21: public_key: unknown key in [interface]"},
    /* 61 */
    {21, "endpoint = 192.0.2.1:1",
     "test.conf:23: endpoint: duplicate key (first set on line 21): "
     "'[2001:db8::7]:51820'"},
    /* 62 */ {12, "priv_key = " RDV_PRIV, "test.conf:12: priv_key: unknown key"},
    /* 63 */
    {10, "relay = \x1b[31mred",
     "test.conf:10: relay: bad yes/no (expected yes or "
     "no): '?[31mred'"},
    /* 64 */ {14, "[peer \"b\x01ob\"]", "test.conf:14: bad section name"},
    /* 65 */
    {14,
     "[peer \""
     "a123456789a123456789a123456789a123456789a123456789a123456789a123"
     "\"]",
     "test.conf:14: bad section name"},
    /* 66 */ {2, "name = ..", "test.conf:2: name: bad interface name"},
    /* 67 */
    {1, "\xef\xbb\xbf\xef\xbb\xbf[interface]",
     "test.conf:1: second byte order mark (expected text)"},
};

static void test_cfg_load_daemon_bad_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(daemon_bad) / sizeof(daemon_bad[0]); i++) {
		char *text =
		    join(daemon_lines, DAEMON_LINES, daemon_bad[i].line, daemon_bad[i].repl);
		struct cfg_daemon d;
		struct cfg_errors errs = {0};

		memset(&d, 0x5a, sizeof(d));
		if (load_daemon_text(text, &d, &errs))
			fail_msg("row %zu: accepted", i + 1);
		if (!has_message(&errs, daemon_bad[i].msg)) {
			fprintf(stderr, "row %zu\n", i + 1);
			assert_message(&errs, daemon_bad[i].msg);
		}
		assert_no_secret(&errs);
		assert_int_equal(((unsigned char *)&d)[sizeof(d) - 1], 0x5a);
		cfg_errors_free(&errs);
		free(text);
	}
}

/* A name at the 63-character limit is fine; one more (row 65) is not. */
static void test_cfg_load_daemon_peer_name_limit(void **state)
{
	char header[80], *text;
	struct cfg_daemon d;

	(void)state;
	memset(header, 'n', sizeof(header));
	memcpy(header, "[peer \"", 7);
	memcpy(header + 7 + 63, "\"]", 3);
	text = join(daemon_lines, DAEMON_LINES, 14, header);
	assert_daemon_loads(text, &d);
	assert_int_equal(strlen(d.peers[0].name), 63);
	cfg_daemon_free(&d);
	free(text);
}

/* Text of an interface and n peers with distinct keys and allowed IPs. */
static char *many_peers_text(size_t n)
{
	size_t cap = 256 + n * 160, len;
	char *text = malloc(cap), key[KEY_B64_LEN + 1];
	uint8_t pub[32];

	assert_non_null(text);
	len = (size_t)sprintf(text, "[interface]\naddress = 10.77.0.1/24\nprivate_key = %s\n",
			      OUR_PRIV);
	for (size_t i = 0; i < n; i++) {
		randombytes_buf(pub, sizeof(pub));
		key_to_base64(pub, key);
		len += (size_t)sprintf(text + len,
				       "[peer \"p%zu\"]\npublic_key = %s\nallowed_ips = "
				       "10.100.%zu.%zu/32\n",
				       i, key, i >> 8, i & 255);
	}
	return text;
}

/* CFG_MAX_PEERS sections load (SECURITY-NOTES 14: the receiver index table
 * is sized for them); one more is refused once, at its header. */
static void test_cfg_load_daemon_peer_count_limit(void **state)
{
	char *text, want[96];
	struct cfg_daemon d;
	struct cfg_errors errs = {0};

	(void)state;
	text = many_peers_text(CFG_MAX_PEERS);
	assert_daemon_loads(text, &d);
	assert_int_equal(d.n_peers, CFG_MAX_PEERS);
	cfg_daemon_free(&d);
	free(text);

	text = many_peers_text(CFG_MAX_PEERS + 2);
	assert_false(load_daemon_text(text, &d, &errs));
	assert_int_equal(errs.n, 1);
	/* 3 interface lines, 3 lines per peer: the first extra header. */
	snprintf(want, sizeof(want),
		 "test.conf:%d: too many peers (expected at most %d [peer] sections)",
		 4 + 3 * CFG_MAX_PEERS, CFG_MAX_PEERS);
	assert_string_equal(errs.msgs[0], want);
	cfg_errors_free(&errs);
	free(text);
}

static void test_cfg_load_daemon_all_errors_at_once(void **state)
{
	static const char text[] = "[interface]\n"		 /* 1 */
				   "name = bad/name\n"		 /* 2 */
				   "address = 10.77.0.1/24\n"	 /* 3 */
				   "mtu = 99\n"			 /* 4 */
				   "relay = perhaps\n"		 /* 5 */
				   "wat = 1\n"			 /* 6 */
				   "[peer \"x\"]\n"		 /* 7 */
				   "allowed_ips = 10.0.0.1/8\n"; /* 8 */
	static const char *const want[] = {
	    "test.conf:2: name: bad interface name (expected 1 to 15 characters, no '/', ':' or "
	    "white space): 'bad/name'",
	    "test.conf:4: mtu: bad MTU (expected 576 to 65535): '99'",
	    "test.conf:5: relay: bad yes/no (expected yes or no): 'perhaps'",
	    "test.conf:6: wat: unknown key in [interface] (expected one of: name, address, "
	    "private_key, private_key_file, listen_port, mtu, keepalive, rendezvous, "
	    "rendezvous_key, relay, portmap, offload, control_socket, log_level)",
	    "test.conf:8: allowed_ips: host bits set (expected 10.0.0.0/8): '10.0.0.1/8'",
	    "test.conf:1: [interface]: missing private_key or private_key_file (expected one of "
	    "them)",
	    "test.conf:7: [peer \"x\"]: missing public_key (expected the peer's public key)",
	};
	struct cfg_daemon d;
	struct cfg_errors errs = {0};

	(void)state;
	assert_false(load_daemon_text(text, &d, &errs));
	assert_int_equal(errs.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < errs.n; i++)
		assert_string_equal(errs.msgs[i], want[i]);
	cfg_errors_free(&errs);
	assert_null(errs.msgs);
	assert_int_equal(errs.n, 0);
}

static void test_cfg_load_daemon_text_limits(void **state)
{
	struct cfg_daemon d;
	struct cfg_errors errs = {0};
	char *text, *list, *p;
	size_t n;

	(void)state;
	/* A long allowed_ips list (over inih's stock 200-byte line) loads. */
	list = malloc(8192);
	assert_non_null(list);
	p = list + sprintf(list, "allowed_ips = 10.77.0.2/32");
	for (int i = 0; i < 200; i++)
		p += sprintf(p, ", 10.80.%d.0/24", i);
	assert_true(strlen(list) > 3000);
	text = join(daemon_lines, DAEMON_LINES, 16, list);
	assert_daemon_loads(text, &d);
	assert_int_equal(d.peers[0].n_allowed_ips, 201);
	cfg_daemon_free(&d);
	free(text);

	/* At the line limit the value itself is judged; one byte over, the line
	 * is refused with its number. */
	memset(list, 'x', 4097);
	list[4096] = '\0';
	memcpy(list, "name = ", 7);
	text = join(daemon_lines, DAEMON_LINES, 2, list);
	assert_false(load_daemon_text(text, &d, &errs));
	assert_int_equal(errs.n, 1);
	assert_message(&errs, "test.conf:2: name: bad interface name");
	cfg_errors_free(&errs);
	free(text);
	list[4096] = 'x';
	list[4097] = '\0';
	text = join(daemon_lines, DAEMON_LINES, 2, list);
	assert_false(load_daemon_text(text, &d, &errs));
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0],
			    "test.conf:2: line too long (expected at most 4096 characters)");
	cfg_errors_free(&errs);
	free(text);
	free(list);

	/* A NUL byte inside a line: a stream of a known length. */
	{
		static const char nul[] = "[interface]\nname = p2p\0x\naddress = 10.77.0.1/24\n";
		FILE *f = fmemopen((void *)nul, sizeof(nul) - 1, "r");

		assert_non_null(f);
		assert_false(cfg_load_daemon_stream(f, "nul.conf", CFG_LOAD_NUMERIC, &d, &errs));
		fclose(f);
		assert_message(&errs, "nul.conf:2: NUL byte in line (expected text)");
		cfg_errors_free(&errs);
	}

	/* Hundreds of errors: 100 messages, then a count of the rest. */
	n = 250;
	text = malloc(n * 16 + 64);
	assert_non_null(text);
	p = text + sprintf(text, "[interface]\n");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "junk line\n");
	assert_false(load_daemon_text(text, &d, &errs));
	assert_int_equal(errs.n, CFG_READER_MAX_ERRORS + 1);
	assert_string_equal(errs.msgs[errs.n - 1], "test.conf: 152 more errors not shown");
	cfg_errors_free(&errs);
	free(text);

	/* CRLF line endings throughout are fine. */
	text = malloc(4096);
	assert_non_null(text);
	p = text;
	for (int i = 1; i <= DAEMON_LINES; i++)
		p += sprintf(p, "%s\r\n", daemon_lines[i]);
	assert_daemon_loads(text, &d);
	assert_string_equal(d.peers[1].name, "carol");
	cfg_daemon_free(&d);
	free(text);
}

/* ---- private key files ------------------------------------------------ */

static char tmpdir[64];

static void write_file(const char *path, const char *content, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Loads the base config with line 4 replaced by private_key_file = path. */
static bool load_with_key_file(const char *path, struct cfg_daemon *d, struct cfg_errors *errs)
{
	char line[256], *text;
	bool ok;

	snprintf(line, sizeof(line), "private_key_file = %s", path);
	text = join(daemon_lines, DAEMON_LINES, 4, line);
	ok = load_daemon_text(text, d, errs);
	free(text);
	return ok;
}

static void test_cfg_keys_read_file_table(void **state)
{
	static const struct {
		const char *content; /* NULL: no file at all */
		size_t len;
		mode_t mode;
		const char *msg; /* NULL: accepted */
	} t[] = {
	    /*  1 */ {OUR_PRIV "\n", 45, 0600, NULL},
	    /*  2 */ {OUR_PRIV "\r\n", 46, 0600, NULL},
	    /*  3 */ {OUR_PRIV, 44, 0400, NULL},
	    /*  4 */
	    {OUR_PRIV "\n", 45, 0644,
	     "private_key_file: key file is accessible by group or others, mode 0644 "
	     "(expected 0600 or 0400: chmod 600 it)"},
	    /*  5 */ {OUR_PRIV "\n", 45, 0640, "mode 0640"},
	    /*  6 */ {OUR_PRIV "\n", 45, 0604, "mode 0604"},
	    /*  7 */ {OUR_PRIV "\n", 45, 0620, "mode 0620"}, /* group-writable, too */
	    /*  8 */ {"", 0, 0600, "key file is empty (expected a 44-character base64 key)"},
	    /*  9 */
	    {OUR_PRIV "\n\n", 46, 0600,
	     "key file holds 45 characters (expected one line of a 44-character "
	     "base64 key)"},
	    /* 10 */ {" " OUR_PRIV "\n", 46, 0600, "key file holds 45 characters"},
	    /* 11 */
	    {"gNZa//nUov3vcwQUjuwF2fd86dohmRhe0bGjTelRrWA\n", 44, 0600,
	     "key file holds 43 characters"},
	    /* 12 */
	    {"gNZa//nUov3vcwQUjuwF2fd86dohmRhe0bGjTelRr!A=\n", 45, 0600,
	     "key file is not valid base64 (expected a 44-character key)"},
	    /* 13 */ {OUR_PRIV "\r", 45, 0600, "key file holds 45 characters"},
	    /* 14 */ {NULL, 0, 0, "cannot open key file: No such file or directory"},
	};
	uint8_t want[32];

	(void)state;
	assert_true(key_from_base64(OUR_PRIV, want));
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char path[128];
		struct cfg_daemon d;
		struct cfg_errors errs = {0};
		bool ok;

		snprintf(path, sizeof(path), "%s/key%zu", tmpdir, i + 1);
		if (t[i].content)
			write_file(path, t[i].content, t[i].len, t[i].mode);
		ok = load_with_key_file(path, &d, &errs);
		if (ok != (t[i].msg == NULL)) {
			cfg_errors_print(&errs, stderr);
			fail_msg("row %zu: load gave %d", i + 1, ok);
		}
		if (ok) {
			assert_memory_equal(d.private_key, want, 32);
			cfg_daemon_free(&d);
			continue;
		}
		/* The message names the file and the line, never the content. */
		assert_int_equal(errs.n, 1);
		assert_non_null(strstr(errs.msgs[0], "test.conf:4: private_key_file: "));
		assert_non_null(strstr(errs.msgs[0], path));
		assert_message(&errs, t[i].msg);
		assert_no_secret(&errs);
		assert_null(strstr(errs.msgs[0], "gNZa"));
		cfg_errors_free(&errs);
	}
}

static void test_cfg_keys_read_file_not_regular(void **state)
{
	char why[160];
	uint8_t key[32];

	(void)state;
	assert_false(cfg_keys_read_file(tmpdir, key, why, sizeof(why)));
	assert_string_equal(why, "key file is not a regular file");
	assert_false(cfg_keys_read_file("relative/key", key, why, sizeof(why)));
	assert_string_equal(why, "not an absolute path (expected /path/to/private.key)");
	assert_false(cfg_keys_read_file("/dev/null", key, why, sizeof(why)));
	assert_string_equal(why, "key file is not a regular file");
}

/* ---- files on disk ---------------------------------------------------- */

static void test_cfg_load_daemon_file(void **state)
{
	char path[128], *text = join(daemon_lines, DAEMON_LINES, 6, "mtu = 100");
	struct cfg_daemon d;
	struct cfg_errors errs = {0};
	char want[256];

	(void)state;
	/* A file goes through the same reader as a string. */
	snprintf(path, sizeof(path), "%s/p2pvpn.conf", tmpdir);
	write_file(path, text, strlen(text), 0600);
	assert_false(cfg_load_daemon(path, &d, &errs));
	snprintf(want, sizeof(want), "%s:6: mtu: bad MTU (expected 576 to 65535): '100'", path);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0], want);
	cfg_errors_free(&errs);
	free(text);

	text = join(daemon_lines, DAEMON_LINES, 0, NULL);
	write_file(path, text, strlen(text), 0600);
	assert_true(cfg_load_daemon(path, &d, &errs));
	assert_string_equal(d.path, path);
	assert_int_equal(d.n_peers, 2);
	cfg_daemon_free(&d);
	free(text);

	/* Missing file: its name and the reason. */
	assert_false(cfg_load_daemon("/nonexistent/p2pvpn.conf", &d, &errs));
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0], "/nonexistent/p2pvpn.conf: cannot open config file: No "
					  "such file or directory");
	cfg_errors_free(&errs);

	/* A directory opens but cannot be read. */
	assert_false(cfg_load_daemon(tmpdir, &d, &errs));
	assert_message(&errs, ": read error: Is a directory");
	cfg_errors_free(&errs);

	assert_false(
	    cfg_load_rendezvous("/nonexistent/r.conf", &(struct cfg_rendezvous){0}, &errs));
	assert_string_equal(errs.msgs[0], "/nonexistent/r.conf: cannot open config file: No such "
					  "file or directory");
	cfg_errors_free(&errs);
}

/* ---- reload comparison ------------------------------------------------ */

static void test_cfg_peer_equal_changes(void **state)
{
	static const struct {
		int line;
		const char *repl;
		bool bob_equal;
	} t[] = {
	    /*  1 */ {0, NULL, true},
	    /*  2 */ {12, "log_level = info", true}, /* interface changes are not the peer's */
	    /*  3 */ {17, "endpoint = 198.51.100.7:51821", false},
	    /*  4 */ {17, "", false},
	    /*  5 */ {18, "", false},
	    /*  6 */ {18, "preshared_key = " OUR_PRIV, false},
	    /*  7 */ {16, "allowed_ips = 10.77.0.2/32", false},
	    /*  8 */ {16, "allowed_ips = 10.77.0.4/32, fd77::2/128", false},
	    /*  9 */ {15, "public_key = " RDV_PUB, false},
	    /* 10 */ {13, "; a comment moves nothing", true},
	};
	char *text = join(daemon_lines, DAEMON_LINES, 0, NULL);
	struct cfg_daemon old;

	(void)state;
	assert_daemon_loads(text, &old);
	free(text);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cfg_daemon d;

		text = join(daemon_lines, DAEMON_LINES, t[i].line, t[i].repl);
		assert_daemon_loads(text, &d);
		if (cfg_peer_equal(cfg_daemon_find_peer(&old, "bob"),
				   cfg_daemon_find_peer(&d, "bob")) != t[i].bob_equal)
			fail_msg("row %zu", i + 1);
		assert_true(cfg_peer_equal(cfg_daemon_find_peer(&old, "carol"),
					   cfg_daemon_find_peer(&d, "carol")));
		assert_false(cfg_peer_equal(&old.peers[0], &d.peers[1]));
		cfg_daemon_free(&d);
		free(text);
	}
	cfg_daemon_free(&old);
}

/* ---- rendezvous config ------------------------------------------------ */

static bool load_rdv_text(const char *text, struct cfg_rendezvous *c, struct cfg_errors *errs)
{
	return cfg_load_rendezvous_string("rdv.conf", text, c, errs);
}

static void test_cfg_load_rendezvous_round_trip(void **state)
{
	char *text = join(rdv_lines, RDV_LINES, 0, NULL);
	struct cfg_rendezvous c;
	struct cfg_errors errs = {0};
	char buf[CFG_ENDPOINT_STRLEN];
	uint8_t key[32];

	(void)state;
	if (!load_rdv_text(text, &c, &errs)) {
		cfg_errors_print(&errs, stderr);
		fail();
	}
	cfg_endpoint_to_string(&c.listen, buf, sizeof(buf));
	assert_string_equal(buf, "203.0.113.10:3478");
	assert_true(c.has_alternate);
	cfg_endpoint_to_string(&c.alternate, buf, sizeof(buf));
	assert_string_equal(buf, "203.0.113.11:3478");
	assert_true(key_from_base64(RDV_PRIV, key));
	assert_memory_equal(c.private_key, key, 32);
	assert_true(key_from_base64(RDV_PUB, key));
	assert_memory_equal(c.public_key, key, 32);
	assert_true(c.relay);
	assert_false(c.open);
	assert_int_equal(c.n_peers, 2);
	assert_string_equal(c.peers[1].name, "bob");
	assert_int_equal(c.peers[1].line, 11);
	assert_true(key_from_base64(BOB_PUB, key));
	assert_ptr_equal(cfg_rendezvous_find_key(&c, key), &c.peers[1]);
	assert_true(key_from_base64(CAROL_PUB, key));
	assert_null(cfg_rendezvous_find_key(&c, key));
	cfg_rendezvous_free(&c);
	assert_null(c.peers);
	free(text);

	/* Defaults, and an open server needs no peers. */
	assert_true(
	    load_rdv_text("[rendezvous]\nprivate_key = " RDV_PRIV "\nopen = yes\n", &c, &errs));
	cfg_endpoint_to_string(&c.listen, buf, sizeof(buf));
	assert_string_equal(buf, "0.0.0.0:3478");
	assert_false(c.has_alternate);
	assert_true(c.relay);
	assert_true(c.open);
	cfg_rendezvous_free(&c);

	/* A closed one does. */
	assert_false(load_rdv_text("[rendezvous]\nprivate_key = " RDV_PRIV "\n", &c, &errs));
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0], "rdv.conf:1: open: no but no peer is listed (expected "
					  "open = yes or at least one [peer \"NAME\"] with its "
					  "public_key)");
	cfg_errors_free(&errs);
}

static const struct {
	int line;
	const char *repl;
	const char *msg;
} rdv_bad[] = {
    /*  1 */ {2, "listen = 203.0.113.10",
	      "rdv.conf:2: listen: bad listen address (expected ADDRESS:PORT, e.g. "
	      "0.0.0.0:3478 or [::]:3478): '203.0.113.10'"},
    /*  2 */ {2, "listen = rdv.example.net:3478", "rdv.conf:2: listen: bad listen address"},
    /*  3 */
    {2, "listen = [2001:db8::10]:3478",
     "rdv.conf:3: alternate_address: not the same family as listen (expected an IPv6 "
     "address): '203.0.113.11:3478'"},
    /*  4 */
    {3, "alternate_address = 203.0.113.10",
     "rdv.conf:3: alternate_address: same as the listen address (expected a second IP "
     "of this host): '203.0.113.10:3478'"},
    /*  5 */
    {3, "alternate_address = 203.0.113.11:3479",
     "rdv.conf:3: alternate_address: bad address (expected a second IP address of this "
     "host, without a port): '203.0.113.11:3479'"},
    /*  6 */
    {3, "alternate_address = 0.0.0.0", "rdv.conf:3: alternate_address: not a unicast address"},
    /*  7 */
    {4, "private_key = nope",
     "rdv.conf:4: private_key: bad key (expected 44 characters of base64, as from "
     "p2pvpnctl genkey): '<hidden>'"},
    /*  8 */ {4, "", "rdv.conf:1: [rendezvous]: missing private_key or private_key_file"},
    /*  9 */
    {5, "relay = sometimes",
     "rdv.conf:5: relay: bad yes/no (expected yes or no): "
     "'sometimes'"},
    /* 10 */ {6, "open = ja", "rdv.conf:6: open: bad yes/no"},
    /* 11 */
    {6, "log_level = info",
     "rdv.conf:6: log_level: unknown key in [rendezvous] (expected one of: listen, "
     "alternate_address, private_key, private_key_file, relay, open)"},
    /* 12 */
    {1, "[interface]",
     "rdv.conf:1: unknown section (expected [rendezvous] or [peer "
     "\"NAME\"]): '[interface]'"},
    /* 13 */
    {9, "public_key = " RDV_PUB,
     "rdv.conf:9: public_key: this is the rendezvous server's own key (expected a "
     "peer's)"},
    /* 14 */
    {9, "public_key = " BOB_PUB,
     "rdv.conf:12: public_key: same key as peer \"alice\" (line 9; expected one peer a "
     "key)"},
    /* 15 */ {9, "", "rdv.conf:8: [peer \"alice\"]: missing public_key"},
    /* 16 */
    {9, "allowed_ips = 10.0.0.0/8",
     "rdv.conf:9: allowed_ips: unknown key in [peer] (expected one of: public_key)"},
    /* 17 */ {9, "public_key = " LOW_ORDER_KEY, "rdv.conf:9: public_key: low-order"},
    /* 18 */
    {11, "[peer \"alice\"]",
     "rdv.conf:11: duplicate peer name (first defined on "
     "line 8"},
    /* 19 */
    {7, "[rendezvous]",
     "rdv.conf:7: duplicate section (first on line 1; expected "
     "one [rendezvous])"},
    /* 20 */
    {7, "private_key_file = /x",
     "rdv.conf:7: private_key_file: private_key is "
     "already set on line 4"},
};

static void test_cfg_load_rendezvous_bad_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rdv_bad) / sizeof(rdv_bad[0]); i++) {
		char *text = join(rdv_lines, RDV_LINES, rdv_bad[i].line, rdv_bad[i].repl);
		struct cfg_rendezvous c;
		struct cfg_errors errs = {0};

		if (load_rdv_text(text, &c, &errs))
			fail_msg("row %zu: accepted", i + 1);
		if (!has_message(&errs, rdv_bad[i].msg)) {
			fprintf(stderr, "row %zu\n", i + 1);
			assert_message(&errs, rdv_bad[i].msg);
		}
		assert_no_secret(&errs);
		cfg_errors_free(&errs);
		free(text);
	}
}

static void test_cfg_load_rendezvous_key_file(void **state)
{
	char path[128], line[160], *text;
	struct cfg_rendezvous c;
	struct cfg_errors errs = {0};
	uint8_t key[32];

	(void)state;
	snprintf(path, sizeof(path), "%s/rdv.key", tmpdir);
	snprintf(line, sizeof(line), "private_key_file = %s", path);
	text = join(rdv_lines, RDV_LINES, 4, line);
	write_file(path, RDV_PRIV "\r\n", 46, 0600);
	assert_true(load_rdv_text(text, &c, &errs));
	assert_true(key_from_base64(RDV_PUB, key));
	assert_memory_equal(c.public_key, key, 32);
	cfg_rendezvous_free(&c);

	write_file(path, RDV_PRIV "\n", 45, 0660);
	assert_false(load_rdv_text(text, &c, &errs));
	assert_message(&errs, "rdv.conf:4: private_key_file: key file is accessible by group or "
			      "others, mode 0660");
	assert_no_secret(&errs);
	cfg_errors_free(&errs);
	free(text);
}

/* ---- config files that hold keys -------------------------------------- */

enum conf_kind { CONF_DAEMON, CONF_DAEMON_PSK_ONLY, CONF_DAEMON_NO_SECRET, CONF_RDV };

/* Writes a config of the kind at path with mode and loads it from disk. */
static bool load_conf_file(enum conf_kind kind, const char *path, mode_t mode,
			   struct cfg_errors *errs)
{
	char keypath[128], line[192], *text, *psk;
	bool ok;

	snprintf(keypath, sizeof(keypath), "%s/conf.key", tmpdir);
	write_file(keypath, OUR_PRIV "\n", 45, 0600);
	snprintf(line, sizeof(line), "private_key_file = %s", keypath);
	if (kind == CONF_RDV)
		text = join(rdv_lines, RDV_LINES, 0, NULL);
	else if (kind == CONF_DAEMON)
		text = join(daemon_lines, DAEMON_LINES, 0, NULL);
	else
		text = join(daemon_lines, DAEMON_LINES, 4, line);
	/* Without any secret: the preshared_key line becomes a comment. */
	psk = strstr(text, "preshared_key = ");
	if (kind == CONF_DAEMON_NO_SECRET && psk)
		psk[0] = '#';
	write_file(path, text, strlen(text), mode);
	free(text);
	if (kind == CONF_RDV) {
		struct cfg_rendezvous c;

		ok = cfg_load_rendezvous(path, &c, errs);
		if (ok)
			cfg_rendezvous_free(&c);
	} else {
		struct cfg_daemon d;

		ok = cfg_load_daemon(path, &d, errs);
		if (ok)
			cfg_daemon_free(&d);
	}
	return ok;
}

static void test_cfg_keys_check_config_mode_table(void **state)
{
	static const struct {
		enum conf_kind kind;
		mode_t mode;
		const char *msg; /* after "PATH:"; NULL: accepted */
	} t[] = {
	    /*  1 */
	    {CONF_DAEMON, 0644,
	     "4: private_key: config file holds a key but is accessible by group or others, "
	     "mode 0644 (expected 0600 or 0400: chmod 600 it, or move the key to "
	     "private_key_file)"},
	    /*  2 */ {CONF_DAEMON, 0600, NULL},
	    /*  3 */ {CONF_DAEMON, 0400, NULL},
	    /*  4 */ {CONF_DAEMON, 0640, "4: private_key: config file holds a key but is "
				     "accessible by group or others, mode 0640"},
	    /*  5 */ {CONF_DAEMON, 0604, "mode 0604"},
	    /*  6 */ {CONF_DAEMON, 0620, "mode 0620"}, /* group-writable: a swapped key */
	    /*  7 */
	    {CONF_DAEMON_PSK_ONLY, 0644,
	     "18: preshared_key: config file holds a key but is accessible by group or "
	     "others, mode 0644"},
	    /*  8 */ {CONF_DAEMON_PSK_ONLY, 0600, NULL},
	    /*  9 */ {CONF_DAEMON_NO_SECRET, 0644, NULL}, /* nothing to hide: may be shown */
	    /* 10 */
	    {CONF_RDV, 0644,
	     "4: private_key: config file holds a key but is accessible by group or others, "
	     "mode 0644 (expected 0600"},
	    /* 11 */ {CONF_RDV, 0600, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char path[128], want[320];
		struct cfg_errors errs = {0};
		bool ok;

		snprintf(path, sizeof(path), "%s/mode%zu.conf", tmpdir, i + 1);
		ok = load_conf_file(t[i].kind, path, t[i].mode, &errs);
		if (ok != (t[i].msg == NULL)) {
			cfg_errors_print(&errs, stderr);
			fail_msg("row %zu: load gave %d", i + 1, ok);
		}
		if (ok)
			continue;
		/* One message, naming the file and the key's line, not the key. */
		assert_int_equal(errs.n, 1);
		snprintf(want, sizeof(want), "%s:", path);
		assert_true(!strncmp(errs.msgs[0], want, strlen(want)));
		if (isdigit((unsigned char)t[i].msg[0])) {
			snprintf(want, sizeof(want), "%s:%s", path, t[i].msg);
			assert_true(!strncmp(errs.msgs[0], want, strlen(want)));
		} else {
			assert_message(&errs, t[i].msg);
		}
		assert_no_secret(&errs);
		cfg_errors_free(&errs);
	}
}

/* A file owned by another user: it can chmod it and read the key, or put its
 * own in. Needs root to hand a file to another uid. */
static void test_cfg_keys_check_owner(void **state)
{
	char path[128], keypath[128], want[320];
	struct cfg_daemon d;
	struct cfg_errors errs = {0};

	(void)state;
	if (geteuid() != 0)
		skip();
	/* Inline key in a 0600 config owned by nobody (65534). */
	snprintf(path, sizeof(path), "%s/owner.conf", tmpdir);
	assert_true(load_conf_file(CONF_DAEMON, path, 0600, &errs));
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_false(cfg_load_daemon(path, &d, &errs));
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want),
		 "%s:4: private_key: config file holds a key but is owned by uid 65534 "
		 "(expected root or the daemon's user, uid 0: chown it)",
		 path);
	assert_string_equal(errs.msgs[0], want);
	cfg_errors_free(&errs);
	/* Back to root: accepted again, so the uid alone decided. */
	assert_int_equal(chown(path, 0, 0), 0);
	assert_true(cfg_load_daemon(path, &d, &errs));
	cfg_daemon_free(&d);
	/* Same rule for the rendezvous's config... */
	assert_true(load_conf_file(CONF_RDV, path, 0600, &errs));
	assert_int_equal(chown(path, 65534, 0), 0);
	assert_false(cfg_load_rendezvous(path, &(struct cfg_rendezvous){0}, &errs));
	assert_message(&errs, "4: private_key: config file holds a key but is owned by uid 65534");
	cfg_errors_free(&errs);
	/* ...and for a key file, whatever its mode. */
	snprintf(keypath, sizeof(keypath), "%s/owner.key", tmpdir);
	write_file(keypath, OUR_PRIV "\n", 45, 0600);
	assert_int_equal(chown(keypath, 65534, 65534), 0);
	assert_false(load_with_key_file(keypath, &d, &errs));
	assert_message(&errs, "test.conf:4: private_key_file: key file is owned by uid 65534 "
			      "(expected root or the daemon's user, uid 0: chown it)");
	assert_no_secret(&errs);
	cfg_errors_free(&errs);
}

/* ---- the shipped examples --------------------------------------------- */

/* Reads an example and points its private_key_file at a real 0600 file. */
static char *example_with_key(const char *name, const char *priv)
{
	char path[512], keypath[128], *text, *line;
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/conf/%s", P2PVPN_SOURCE_DIR, name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 256);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);

	snprintf(keypath, sizeof(keypath), "%s/%s.key", tmpdir, name);
	write_file(keypath, priv, strlen(priv), 0600);
	line = strstr(text, "\nprivate_key_file = ");
	assert_non_null(line);
	line += strlen("\nprivate_key_file = ");
	memmove(line + strlen(keypath), strchr(line, '\n'), strlen(strchr(line, '\n')) + 1);
	memcpy(line, keypath, strlen(keypath));
	return text;
}

static void test_cfg_examples_load(void **state)
{
	char *text = example_with_key("p2pvpn.conf.example", OUR_PRIV "\n");
	struct cfg_daemon d;
	struct cfg_rendezvous c;
	struct cfg_errors errs = {0};

	(void)state;
	if (!cfg_load_daemon_string("p2pvpn.conf.example", text, CFG_LOAD_NUMERIC, &d, &errs)) {
		cfg_errors_print(&errs, stderr);
		fail();
	}
	assert_true(d.n_peers >= 1);
	assert_true(d.n_rendezvous >= 1);
	cfg_daemon_free(&d);
	free(text);

	text = example_with_key("p2pvpn-rendezvous.conf.example", RDV_PRIV "\n");
	if (!cfg_load_rendezvous_string("p2pvpn-rendezvous.conf.example", text, &c, &errs)) {
		cfg_errors_print(&errs, stderr);
		fail();
	}
	assert_true(c.n_peers >= 1);
	cfg_rendezvous_free(&c);
	free(text);

	/* As shipped, the key file does not exist here: a clear error. */
	assert_false(cfg_load_rendezvous(P2PVPN_SOURCE_DIR "/conf/p2pvpn-rendezvous.conf.example",
					 &c, &errs));
	assert_message(&errs, "private_key_file: cannot open key file:");
	cfg_errors_free(&errs);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cfg_parse_prefix_table),
	    cmocka_unit_test(test_cfg_prefix_contains_edges),
	    cmocka_unit_test(test_cfg_parse_endpoint_table),
	    cmocka_unit_test(test_cfg_parse_scalars),
	    cmocka_unit_test(test_cfg_load_daemon_round_trip),
	    cmocka_unit_test(test_cfg_load_daemon_defaults),
	    cmocka_unit_test(test_cfg_load_daemon_good_variants),
	    cmocka_unit_test(test_cfg_load_daemon_offload),
	    cmocka_unit_test(test_cfg_load_daemon_bad_table),
	    cmocka_unit_test(test_cfg_load_daemon_peer_name_limit),
	    cmocka_unit_test(test_cfg_load_daemon_peer_count_limit),
	    cmocka_unit_test(test_cfg_load_daemon_all_errors_at_once),
	    cmocka_unit_test(test_cfg_load_daemon_text_limits),
	    cmocka_unit_test(test_cfg_keys_read_file_table),
	    cmocka_unit_test(test_cfg_keys_read_file_not_regular),
	    cmocka_unit_test(test_cfg_load_daemon_file),
	    cmocka_unit_test(test_cfg_peer_equal_changes),
	    cmocka_unit_test(test_cfg_load_rendezvous_round_trip),
	    cmocka_unit_test(test_cfg_load_rendezvous_bad_table),
	    cmocka_unit_test(test_cfg_load_rendezvous_key_file),
	    cmocka_unit_test(test_cfg_keys_check_config_mode_table),
	    cmocka_unit_test(test_cfg_keys_check_owner),
	    cmocka_unit_test(test_cfg_examples_load),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
