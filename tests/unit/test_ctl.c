/* p2pvpnctl's testable parts: the reply parser (control/client.h), the show
 * formatters in text and JSON (ctl/show.h), JSON escaping (ctl/json.h),
 * explain's layout, key text (ctl/key.h) and socket discovery
 * (ctl/socket.h). Each table walks the edges and includes inputs that must
 * be refused or printed as null. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "control/client.h"
#include "ctl/explain.h"
#include "ctl/json.h"
#include "ctl/key.h"
#include "ctl/show.h"
#include "ctl/socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PUB_A "7jOmxlX95jLlsYf10P7KzfFKZS1u107NlHi4pCaQjCs="
#define PUB_B "7e/3FU9fjciU++y1jYCWpcOLK047l6rOw3GGKb9qxhs="

static const char sample[] = "interface=p2p0\n"
			     "public_key=" PUB_A "\n"
			     "listen_port=51820\n"
			     "offloads=TUN csum tso uso, UDP gso gro\n"
			     "reflexive_address=203.0.113.2:51820\n"
			     "port_mapping=pcp 198.51.100.2:51820, renews in 3599 s\n"
			     "port_mapping_address=198.51.100.2:51820\n"
			     "under_load=yes\n"
			     "under_load_entered=3\n"
			     "cookie_replies_sent=123456\n"
			     "staged_dropped=92000\n"
			     "receiver_indexes=501\n"
			     "peer=bob\n"
			     "public_key=" PUB_B "\n"
			     "state=up\n"
			     "path=udp-direct\n"
			     "endpoint=198.51.100.7:51820\n"
			     "cipher=aes-256-gcm\n"
			     "rtt_ms=0.42\n"
			     "last_handshake_ms=12034\n"
			     "rx_bytes=1234\n"
			     "tx_bytes=5678\n"
			     "errno=0\n\n";

/* A peer that never connected: every optional value empty, plus a key from
 * a newer daemon that must be ignored. */
static const char sample_down[] = "interface=p2p1\n"
				  "public_key=\n"
				  "listen_port=\n"
				  "reflexive_address=\n"
				  "port_mapping=no IPv4 default gateway\n"
				  "port_mapping_address=\n"
				  "under_load=no\n"
				  "under_load_entered=0\n"
				  "cookie_replies_sent=\n"
				  "future_key=whatever\n"
				  "peer=carol\n"
				  "public_key=" PUB_B "\n"
				  "state=down\n"
				  "path=none\n"
				  "endpoint=\n"
				  "cipher=\n"
				  "rtt_ms=\n"
				  "last_handshake_ms=\n"
				  "rx_bytes=0\n"
				  "tx_bytes=0\n"
				  "errno=0\n\n";

/* Runs fn's output into a string; free() it. */
#define CAPTURE(out, call)                                                                         \
	do {                                                                                       \
		size_t cap_len_;                                                                   \
		FILE *f = open_memstream(&(out), &cap_len_);                                       \
		assert_non_null(f);                                                                \
		call;                                                                              \
		assert_int_equal(fclose(f), 0);                                                    \
	} while (0)

static void parse_ok(const char *text, const char *const *keys, struct ctl_reply *r)
{
	assert_int_equal(ctl_reply_parse(text, strlen(text), keys, r), 0);
}

static void test_ctl_reply_parse_blocks(void **state)
{
	struct ctl_reply r;

	parse_ok(sample, ctl_show_block_keys, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.n_blocks, 2);
	assert_int_equal(r.blocks[0].n, 12);
	assert_string_equal(r.blocks[0].kv[0].key, "interface");
	assert_string_equal(r.blocks[0].kv[0].value, "p2p0");
	assert_string_equal(ctl_block_get(&r.blocks[0], "listen_port"), "51820");
	assert_int_equal(r.blocks[1].n, 10);
	assert_string_equal(ctl_block_get(&r.blocks[1], "public_key"), PUB_B);
	assert_string_equal(ctl_block_get(&r.blocks[1], "tx_bytes"), "5678");
	assert_null(ctl_block_get(&r.blocks[1], "listen_port"));
	ctl_reply_free(&r);
	ctl_reply_free(&r); /* twice is harmless */

	/* Without block keys, one block; values may be empty or hold '='. */
	parse_ok("a=\nb=x=y\nerrno=0\n\n", NULL, &r);
	assert_int_equal(r.n_blocks, 1);
	assert_string_equal(ctl_block_get(&r.blocks[0], "a"), "");
	assert_string_equal(ctl_block_get(&r.blocks[0], "b"), "x=y");
	ctl_reply_free(&r);

	/* A failure status alone; large but valid errno values. */
	parse_ok("errno=2\n\n", ctl_show_block_keys, &r);
	assert_int_equal(r.err, ENOENT);
	assert_int_equal(r.n_blocks, 0);
	ctl_reply_free(&r);
	parse_ok("errno=2147483647\n\n", NULL, &r);
	assert_int_equal(r.err, 2147483647);
	ctl_reply_free(&r);
}

static void test_ctl_reply_parse_malformed(void **state)
{
	static const char *const bad[] = {
	    /* 1 */ "",
	    /* 2 */ "interface=p2p0\n",		 /* truncated: no status */
	    /* 3 */ "interface=p2p0\nerrno=0\n", /* no final empty line */
	    /* 4 */ "errno=0",
	    /* 5 */ "errno=\n\n",
	    /* 6 */ "errno=x\n\n",
	    /* 7 */ "errno=-1\n\n",
	    /* 8 */ "errno=2147483648\n\n", /* over INT_MAX */
	    /* 9 */ "errno=0\n\nmore=1\n",  /* bytes after the end */
	    /* 10 */ "errno=0\n\n\n",
	    /* 11 */ "noequals\nerrno=0\n\n",
	    /* 12 */ "=v\nerrno=0\n\n", /* empty key */
	    /* 13 */ "Key=v\nerrno=0\n\n",
	    /* 14 */ "a=1\n\nerrno=0\n\n", /* empty line inside */
	    /* 15 */ "a=1\r\nerrno=0\r\n\r\n",
	};
	struct ctl_reply r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = ctl_reply_parse(bad[i], strlen(bad[i]), ctl_show_block_keys, &r);

		if (ret != -EBADMSG)
			fail_msg("case %zu: '%s' gave %d", i + 1, bad[i], ret);
		assert_null(r.buf);
		assert_null(r.blocks);
	}
	/* A NUL would cut a value short unnoticed. */
	assert_int_equal(ctl_reply_parse("a=b\0c\nerrno=0\n\n", 15, NULL, &r), -EBADMSG);
	/* The same bytes without the NUL are fine. */
	assert_int_equal(ctl_reply_parse("a=bc\nerrno=0\n\n", 14, NULL, &r), 0);
	ctl_reply_free(&r);
}

static void test_ctl_show_bytes_units(void **state)
{
	static const struct {
		uint64_t in;
		const char *out;
	} cases[] = {
	    /* 1 */ {0, "0 B"},
	    /* 2 */ {1023, "1023 B"},
	    /* 3 */ {1024, "1.00 KiB"},
	    /* 4 */ {1234, "1.21 KiB"},
	    /* 5 */ {5678, "5.54 KiB"},
	    /* 6 */ {1048575, "1024.00 KiB"}, /* rounds up, unit stays */
	    /* 7 */ {1048576, "1.00 MiB"},
	    /* 8 */ {1073741824ull * 3 / 2, "1.50 GiB"},
	    /* 9 */ {1099511627776ull, "1.00 TiB"},
	    /* 10 */ {UINT64_MAX, "16777216.00 TiB"}, /* no unit past TiB */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s;

		CAPTURE(s, ctl_show_bytes(f, cases[i].in, false));
		if (strcmp(s, cases[i].out) != 0)
			fail_msg("case %zu: '%s', expected '%s'", i + 1, s, cases[i].out);
		free(s);
	}
	/* Colour touches the unit only, and only when asked. */
	{
		char *s;
		CAPTURE(s, ctl_show_bytes(f, 1234, true));
		assert_string_equal(s, "1.21 \x1b[36mKiB\x1b[0m");
		free(s);
	}
}

static void test_ctl_show_age_parts(void **state)
{
	static const struct {
		uint64_t in;
		const char *out;
	} cases[] = {
	    /* 1 */ {0, "Now"},
	    /* 2 */ {1, "1 second ago"},
	    /* 3 */ {12, "12 seconds ago"},
	    /* 4 */ {60, "1 minute ago"},
	    /* 5 */ {61, "1 minute, 1 second ago"},
	    /* 6 */ {3723, "1 hour, 2 minutes, 3 seconds ago"},
	    /* 7 */ {2 * 86400 + 1, "2 days, 1 second ago"},
	    /* 8 */ {365 * 86400ull, "1 year ago"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s;

		CAPTURE(s, ctl_show_age(f, cases[i].in, false));
		if (strcmp(s, cases[i].out) != 0)
			fail_msg("case %zu: '%s', expected '%s'", i + 1, s, cases[i].out);
		free(s);
	}
}

static void test_ctl_show_text_layout(void **state)
{
	struct ctl_reply r;
	char *s;

	parse_ok(sample, ctl_show_block_keys, &r);
	CAPTURE(s, ctl_show_text(f, &r, false));
	assert_string_equal(s, "interface: p2p0\n"
			       "  public key: " PUB_A "\n"
			       "  listening port: 51820\n"
			       "  offloads: TUN csum tso uso, UDP gso gro\n"
			       "  reflexive address: 203.0.113.2:51820\n"
			       "  port mapping: pcp 198.51.100.2:51820, renews in 3599 s\n"
			       "\n"
			       "peer: bob\n"
			       "  public key: " PUB_B "\n"
			       "  state: up\n"
			       "  path: udp-direct\n"
			       "  endpoint: 198.51.100.7:51820\n"
			       "  cipher: aes-256-gcm\n"
			       "  rtt: 0.42 ms\n"
			       "  latest handshake: 12 seconds ago\n"
			       "  transfer: 1.21 KiB received, 5.54 KiB sent\n");
	free(s);
	/* On a terminal: same words, with attributes. */
	CAPTURE(s, ctl_show_text(f, &r, true));
	assert_non_null(strstr(s, "\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mp2p0\x1b[0m\n"));
	assert_non_null(strstr(s, "  \x1b[1mstate\x1b[0m: \x1b[32mup\x1b[0m\n"));
	free(s);
	ctl_reply_free(&r);

	/* Unknown values leave their lines out; unknown keys are ignored. */
	parse_ok(sample_down, ctl_show_block_keys, &r);
	CAPTURE(s, ctl_show_text(f, &r, false));
	assert_string_equal(s, "interface: p2p1\n"
			       "  port mapping: no IPv4 default gateway\n"
			       "\n"
			       "peer: carol\n"
			       "  public key: " PUB_B "\n"
			       "  state: down\n"
			       "  path: none\n"
			       "  transfer: 0 B received, 0 B sent\n");
	assert_null(strchr(s, '\x1b'));
	free(s);
	ctl_reply_free(&r);
}

static void test_ctl_show_text_hostile_values(void **state)
{
	static const char text[] = "interface=p2p0\n"
				   "listen_port=70000\n"	 /* out of range */
				   "peer=evil\x1b]0;owned\x07\n" /* terminal escapes */
				   "rtt_ms=1e3\n"		 /* not a plain decimal */
				   "last_handshake_ms=-5\n"
				   "rx_bytes=12\n"
				   "tx_bytes=18446744073709551616\n" /* 2^64 */
				   "errno=0\n\n";
	struct ctl_reply r;
	char *s;

	parse_ok(text, ctl_show_block_keys, &r);
	CAPTURE(s, ctl_show_text(f, &r, false));
	assert_string_equal(s, "interface: p2p0\n\npeer: evil?]0;owned?\n");
	free(s);
	ctl_reply_free(&r);
}

static void test_ctl_show_json_object(void **state)
{
	struct ctl_reply r;
	char *s;

	parse_ok(sample, ctl_show_block_keys, &r);
	CAPTURE(s, ctl_show_json(f, &r, 0));
	assert_string_equal(s, "{\n"
			       "  \"interface\": {\n"
			       "    \"name\": \"p2p0\",\n"
			       "    \"public_key\": \"" PUB_A "\",\n"
			       "    \"listen_port\": 51820,\n"
			       "    \"offloads\": \"TUN csum tso uso, UDP gso gro\",\n"
			       "    \"reflexive_address\": \"203.0.113.2:51820\",\n"
			       "    \"port_mapping\": \"pcp 198.51.100.2:51820, renews in 3599 s\",\n"
			       "    \"port_mapping_address\": \"198.51.100.2:51820\",\n"
			       "    \"under_load\": true,\n"
			       "    \"under_load_entered\": 3,\n"
			       "    \"cookie_replies_sent\": 123456,\n"
			       "    \"staged_dropped\": 92000,\n"
			       "    \"receiver_indexes\": 501\n"
			       "  },\n"
			       "  \"peers\": [\n"
			       "    {\n"
			       "      \"name\": \"bob\",\n"
			       "      \"public_key\": \"" PUB_B "\",\n"
			       "      \"state\": \"up\",\n"
			       "      \"path\": \"udp-direct\",\n"
			       "      \"endpoint\": \"198.51.100.7:51820\",\n"
			       "      \"cipher\": \"aes-256-gcm\",\n"
			       "      \"rtt_ms\": 0.42,\n"
			       "      \"last_handshake_age_s\": 12,\n"
			       "      \"rx_bytes\": 1234,\n"
			       "      \"tx_bytes\": 5678\n"
			       "    }\n"
			       "  ]\n"
			       "}");
	free(s);
	ctl_reply_free(&r);
}

static void test_ctl_show_json_nulls(void **state)
{
	static const char odd[] = "interface=p2p0\n"
				  "listen_port=65536\n"
				  "under_load=maybe\n"
				  "under_load_entered=-3\n"
				  "peer=a\"b\\c\x01\tz\n"
				  "state=handshaking\n"
				  "rtt_ms=nan\n"
				  "last_handshake_ms=999\n"
				  "rx_bytes=-1\n"
				  "tx_bytes=18446744073709551615\n"
				  "errno=0\n\n";
	struct ctl_reply r;
	char *s;

	/* Empty values become null, never "" or 0. */
	parse_ok(sample_down, ctl_show_block_keys, &r);
	CAPTURE(s, ctl_show_json(f, &r, 0));
	assert_non_null(strstr(s, "\"name\": \"p2p1\",\n    \"public_key\": null,\n"
				  "    \"listen_port\": null,\n    \"offloads\": null,\n"
				  "    \"reflexive_address\": null,\n"
				  "    \"port_mapping\": \"no IPv4 default gateway\",\n"
				  "    \"port_mapping_address\": null,\n"
				  "    \"under_load\": false,\n    \"under_load_entered\": 0,\n"
				  "    \"cookie_replies_sent\": null,\n"
				  "    \"staged_dropped\": null,\n    \"receiver_indexes\": null\n"));
	assert_non_null(strstr(s, "\"endpoint\": null,\n      \"cipher\": null,\n"
				  "      \"rtt_ms\": null,\n"
				  "      \"last_handshake_age_s\": null,\n"
				  "      \"rx_bytes\": 0,\n"));
	free(s);
	ctl_reply_free(&r);

	/* Odd names escaped; out-of-range or malformed numbers are null. */
	parse_ok(odd, ctl_show_block_keys, &r);
	CAPTURE(s, ctl_show_json(f, &r, 0));
	assert_non_null(strstr(s, "\"listen_port\": null,"));
	assert_non_null(strstr(s, "\"under_load\": null,\n    \"under_load_entered\": null,\n"
				  "    \"cookie_replies_sent\": null,\n"));
	assert_non_null(strstr(s, "\"name\": \"a\\\"b\\\\c\\u0001\\tz\","));
	assert_non_null(strstr(s, "\"public_key\": null,\n      \"state\": \"handshaking\""));
	assert_non_null(strstr(s, "\"rtt_ms\": null,"));
	assert_non_null(strstr(s, "\"last_handshake_age_s\": 0,"));
	assert_non_null(strstr(s, "\"rx_bytes\": null,"));
	assert_non_null(strstr(s, "\"tx_bytes\": 18446744073709551615\n"));
	free(s);
	ctl_reply_free(&r);

	/* No interface block, no peers: still one well-formed object. */
	parse_ok("errno=0\n\n", ctl_show_block_keys, &r);
	CAPTURE(s, ctl_show_json(f, &r, 2));
	assert_string_equal(s, "{\n    \"interface\": null,\n    \"peers\": []\n  }");
	free(s);
	ctl_reply_free(&r);
}

static void test_ctl_json_string_escapes(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
	    /* 1 */ {"", "\"\""},
	    /* 2 */ {"bob", "\"bob\""},
	    /* 3 */ {"\"\\/", "\"\\\"\\\\/\""},
	    /* 4 */ {"\n\r\t\b\x1f", "\"\\n\\r\\t\\u0008\\u001f\""},
	    /* 5 */ {"\x7f", "\"\\u007f\""},
	    /* 6 */
	    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", /* 2, 3, 4 bytes */
	     "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
	    /* 7 */ {"\xc0\x80", "\"\\ufffd\\ufffd\""},			       /* overlong NUL */
	    /* 8 */ {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},	       /* overlong '/' */
	    /* 9 */ {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},	       /* surrogate */
	    /* 10 */ {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* > U+10FFFF */
	    /* 11 */ {"\xe2\x82", "\"\\ufffd\\ufffd\""}, /* truncated at the end */
	    /* 12 */ {"a\xffz", "\"a\\ufffdz\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s;

		CAPTURE(s, ctl_json_string(f, cases[i].in));
		if (strcmp(s, cases[i].out) != 0)
			fail_msg("case %zu: %s, expected %s", i + 1, s, cases[i].out);
		free(s);
	}
	{
		char *s;
		CAPTURE(s, ctl_json_string(f, NULL));
		assert_string_equal(s, "null");
		free(s);
	}
}

static void test_ctl_explain_text_layout(void **state)
{
	static const char text[] = "peer=bob\n"
				   "path=relay\n"
				   "candidate=host 192.168.1.5:51820\n"
				   "next_step=retry udp in 30 s\n"
				   "peer=carol\x1b\n"
				   "state=down\n"
				   "errno=0\n\n";
	struct ctl_reply r;
	char *s;

	parse_ok(text, ctl_explain_block_keys, &r);
	CAPTURE(s, ctl_explain_text(f, &r, false));
	assert_string_equal(s, "peer: bob\n"
			       "  path: relay\n"
			       "  candidate: host 192.168.1.5:51820\n"
			       "  next step: retry udp in 30 s\n"
			       "\n"
			       "peer: carol?\n"
			       "  state: down\n");
	free(s);
	ctl_reply_free(&r);
	/* Failure status: nothing to lay out. */
	parse_ok("errno=2\n\n", ctl_explain_block_keys, &r);
	CAPTURE(s, ctl_explain_text(f, &r, false));
	assert_string_equal(s, "");
	free(s);
	ctl_reply_free(&r);
}

static void test_ctl_key_public_trims(void **state)
{
	/* Checked against `wg pubkey`. */
#define priv "cD8C6qZDLI+OwW6TMogpP76kF2s0pDlbwU8fPHeOeEU="
	static const struct {
		const char *in;
		size_t len;
		bool ok;
	} cases[] = {
	    /* 1 */ {priv, 44, true},
	    /* 2 */ {priv "\n", 45, true},
	    /* 3 */ {priv "\r\n", 46, true},
	    /* 4 */ {priv " \t\r\n\n", 49, true},
	    /* 5 */ {" " priv, 45, false}, /* leading space */
	    /* 6 */ {priv, 43, false},	   /* one character short */
	    /* 7 */ {priv "A", 45, false},
	    /* 8 */ {priv "\n" priv "\n", 90, false}, /* two keys */
	    /* 9 */ {priv "\0\n", 46, false},	      /* a NUL is not whitespace */
	    /* 10 */ {"cD8C6qZDLI+OwW6TMogpP76kF2s0pDlbwU8fPHeOeE\0=", 44, false},
	    /* 11 */ {"cD8C6qZDLI+OwW6TMogpP76kF2s0pDlbwU8fPHeOe!U=", 44, false},
	    /* 12 */ {"", 0, false},
	    /* 13 */ {"\n", 1, false},
	};
	char pub[KEY_B64_LEN + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok;

		memset(pub, 0, sizeof(pub));
		ok = ctl_key_public(cases[i].in, cases[i].len, pub);
		if (ok != cases[i].ok)
			fail_msg("case %zu: %s", i + 1, ok ? "accepted" : "refused");
		if (ok)
			assert_string_equal(pub, PUB_A);
	}
#undef priv
}

static void test_ctl_key_generate_valid(void **state)
{
	char a[KEY_B64_LEN + 1], b[KEY_B64_LEN + 1], pub[KEY_B64_LEN + 1];
	uint8_t raw[KEY_LEN];

	ctl_key_generate(a);
	ctl_key_generate(b);
	assert_int_equal(strlen(a), KEY_B64_LEN);
	assert_true(key_from_base64(a, raw));
	assert_int_equal(raw[0] & 7, 0); /* clamped */
	assert_int_equal(raw[31] & 0xc0, 0x40);
	assert_true(ctl_key_public(a, strlen(a), pub));
	assert_string_not_equal(a, b);
	/* A public key is not the private key of anything we print back. */
	assert_string_not_equal(pub, a);
}

static void make_socket(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
}

static void test_ctl_socket_list_sorted(void **state)
{
	char dir[] = "/tmp/test_ctl.XXXXXX", path[128], cmd[160];
	char **paths;
	size_t n;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/p2p1.sock", dir);
	make_socket(path);
	snprintf(path, sizeof(path), "%s/p2p0.sock", dir);
	make_socket(path);
	snprintf(path, sizeof(path), "%s/other.socket", dir); /* wrong name */
	make_socket(path);
	snprintf(path, sizeof(path), "%s/plain.sock", dir); /* not a socket */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/dir.sock", dir);
	assert_int_equal(mkdir(path, 0700), 0);

	assert_int_equal(ctl_socket_list(dir, &paths, &n), 0);
	assert_int_equal(n, 2);
	snprintf(path, sizeof(path), "%s/p2p0.sock", dir);
	assert_string_equal(paths[0], path);
	snprintf(path, sizeof(path), "%s/p2p1.sock", dir);
	assert_string_equal(paths[1], path);
	ctl_socket_free(paths, n);

	/* A missing directory is no daemon, not an error; a file is. */
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(ctl_socket_list(path, &paths, &n), 0);
	assert_int_equal(n, 0);
	assert_null(paths);
	snprintf(path, sizeof(path), "%s/plain.sock", dir);
	assert_int_equal(ctl_socket_list(path, &paths, &n), -ENOTDIR);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ctl_reply_parse_blocks),
	    cmocka_unit_test(test_ctl_reply_parse_malformed),
	    cmocka_unit_test(test_ctl_show_bytes_units),
	    cmocka_unit_test(test_ctl_show_age_parts),
	    cmocka_unit_test(test_ctl_show_text_layout),
	    cmocka_unit_test(test_ctl_show_text_hostile_values),
	    cmocka_unit_test(test_ctl_show_json_object),
	    cmocka_unit_test(test_ctl_show_json_nulls),
	    cmocka_unit_test(test_ctl_json_string_escapes),
	    cmocka_unit_test(test_ctl_explain_text_layout),
	    cmocka_unit_test(test_ctl_key_public_trims),
	    cmocka_unit_test(test_ctl_key_generate_valid),
	    cmocka_unit_test(test_ctl_socket_list_sorted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
