/* Rendezvous signalling codec tests (rdvproto/proto.h). Every message is
 * built, checked byte for byte against the layout of proto.h, decoded back,
 * and then broken one field at a time: each length from 0 to one past the
 * padded length, each reserved byte, each type byte, n_host past the limit,
 * every address family and the address encodings that have more than one
 * form. A decoder must refuse each broken form and leave its output zeroed. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "rdvproto/proto.h"
#include "session/keypair.h"
#include "wire/wire.h"

enum {
	INTRO_FIXED = 84, /* the INTRODUCE layout of proto.h section 2, before host candidates */
	BUF = 512,
	T_NOW = 1000000,
};

static void v4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

static void v6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return !memcmp(a, b, sizeof(struct sockaddr_in));
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return a->ss_family == 0;
}

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

static void fill_hosts(struct sockaddr_storage *host, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ip[64];

		if (i % 2) {
			snprintf(ip, sizeof(ip), "2001:db8::%zu", i + 1);
			v6(&host[i], ip, (uint16_t)(51820 + i));
		} else {
			snprintf(ip, sizeof(ip), "192.0.2.%zu", i + 1);
			v4(&host[i], ip, (uint16_t)(51820 + i));
		}
	}
}

/* The padded length that sess_decrypt() hands over. */
static size_t padded(size_t len)
{
	return (len + WIRE_PAD - 1) / WIRE_PAD * WIRE_PAD;
}

/* ---- REGISTER ---- */

static size_t make_register(uint8_t *buf, size_t n_host, struct rdv_register *m)
{
	memset(m, 0, sizeof(*m));
	m->nat_mapping = RDV_MAPPING_DEPENDENT;
	m->port_step = -3;
	m->n_host = n_host;
	fill_hosts(m->host, n_host);
	return rdv_encode_register(m, buf, BUF);
}

static void test_rdv_encode_register_layout(void **state)
{
	uint8_t buf[BUF];
	struct rdv_register m;
	size_t len = make_register(buf, 2, &m);
	static const uint8_t head[] = {1, 2, 2, 0, 0xfd, 0xff, 0, 0};
	static const uint8_t host0[] = {4, 0, 0xca, 0x6c, 192, 0, 2, 1, 0, 0,
					0, 0, 0,    0,	  0,   0, 0, 0, 0, 0};

	assert_int_equal(len, RDV_REGISTER_LEN + 2 * RDV_ADDR_LEN);
	assert_memory_equal(buf, head, sizeof(head));
	assert_memory_equal(buf + 8, host0, sizeof(host0));
	assert_int_equal(buf[28], 6);
	assert_int_equal(buf[30] << 8 | buf[31], 51821);
}

static void test_rdv_decode_register_roundtrip(void **state)
{
	for (size_t n = 0; n <= RDV_MAX_HOST; n++) {
		uint8_t buf[BUF];
		struct rdv_register m, d;
		size_t len = make_register(buf, n, &m);

		assert_int_equal(len, RDV_REGISTER_LEN + n * RDV_ADDR_LEN);
		assert_true(rdv_decode_register(buf, len, &d));
		assert_int_equal(d.n_host, n);
		assert_int_equal(d.nat_mapping, RDV_MAPPING_DEPENDENT);
		assert_int_equal(d.port_step, -3);
		for (size_t i = 0; i < n; i++)
			assert_true(same_addr(&d.host[i], &m.host[i]));
		assert_int_equal(rdv_msg_type_of(buf, len), RDV_REGISTER);
		/* Zero padding to WIRE_PAD, as a data packet delivers it. */
		memset(buf + len, 0, BUF - len);
		assert_true(rdv_decode_register(buf, padded(len), &d));
		assert_int_equal(d.n_host, n);
	}
}

/* Each length that is neither exact nor padded fails, and so does non-zero padding. */
static void test_rdv_decode_register_lengths(void **state)
{
	uint8_t buf[BUF];
	struct rdv_register m, d;
	size_t len = make_register(buf, 3, &m);

	memset(buf + len, 0, BUF - len);
	for (size_t l = 0; l <= padded(len) + WIRE_PAD; l++) {
		bool ok = rdv_decode_register(buf, l, &d);

		assert_int_equal(ok, l == len || l == padded(len));
		if (!ok)
			assert_true(all_zero(&d, sizeof(d)));
	}
	buf[padded(len) - 1] = 1;
	assert_false(rdv_decode_register(buf, padded(len), &d));
	assert_true(rdv_decode_register(buf, len, &d));
}

static void test_rdv_decode_register_fields(void **state)
{
	static const struct {
		size_t off;
		uint8_t value;
	} bad[] = {
	    {0, RDV_REGISTERED}, /* 1. wrong type */
	    {0, 0},		 /* 2. no type */
	    {0, 255},		 /* 3. type 255 */
	    {2, 3},		 /* 4. nat_mapping out of range */
	    {3, 1},		 /* 5. reserved byte 3 */
	    {6, 1},		 /* 6. reserved byte 6 */
	    {7, 0x80},		 /* 7. reserved byte 7 */
	    {8, 0},		 /* 8. host family 0 */
	    {8, 5},		 /* 9. host family 5 */
	    {8, 2},		 /* 10. host family 2 (AF_INET6's number, not ours) */
	    {8, 6},		 /* 11. IPv6 with the IPv4 layout is fine; see the next */
	    {9, 1},		 /* 12. address reserved byte */
	    {20, 1},		 /* 13. IPv4 with non-zero bytes after its 4 */
	};
	uint8_t buf[BUF], copy[BUF];
	struct rdv_register m, d;
	size_t len = make_register(buf, 2, &m);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(copy, buf, BUF);
		copy[bad[i].off] = bad[i].value;
		/* Case 11 turns 192.0.2.1 into the IPv6 address c000:201::, a valid one. */
		assert_int_equal(rdv_decode_register(copy, len, &d), i == 10);
	}
	/* Port 0 cannot be reached. */
	memcpy(copy, buf, BUF);
	copy[10] = copy[11] = 0;
	assert_false(rdv_decode_register(copy, len, &d));
	/* n_host above RDV_MAX_HOST, with the bytes to back it. */
	make_register(buf, RDV_MAX_HOST, &m);
	memset(buf + RDV_REGISTER_LEN + RDV_MAX_HOST * RDV_ADDR_LEN, 0, RDV_ADDR_LEN);
	buf[1] = RDV_MAX_HOST + 1;
	assert_false(rdv_decode_register(buf, RDV_REGISTER_LEN + 9 * RDV_ADDR_LEN, &d));
	buf[1] = 255;
	assert_false(rdv_decode_register(buf, BUF, &d));
}

static void test_rdv_encode_register_refuses(void **state)
{
	uint8_t buf[BUF];
	struct rdv_register m;
	size_t len = make_register(buf, 4, &m);

	assert_int_equal(rdv_encode_register(&m, buf, len - 1), 0);
	assert_int_equal(rdv_encode_register(&m, buf, len), len);
	m.n_host = RDV_MAX_HOST + 1;
	assert_int_equal(rdv_encode_register(&m, buf, BUF), 0);
	m.n_host = 4;
	m.host[3].ss_family = AF_UNIX;
	assert_int_equal(rdv_encode_register(&m, buf, BUF), 0);
	m.host[3].ss_family = AF_INET;
	m.nat_mapping = 7;
	assert_int_equal(rdv_encode_register(&m, buf, BUF), 0);
}

/* ---- REGISTERED ---- */

static void test_rdv_registered_roundtrip(void **state)
{
	struct sockaddr_storage refl, out;
	uint8_t buf[BUF];
	uint32_t id;
	size_t len;

	v6(&refl, "2001:db8::7", 3478);
	len = rdv_encode_registered(0xdeadbeef, &refl, buf, BUF);
	assert_int_equal(len, RDV_REGISTERED_LEN);
	assert_int_equal(buf[0], RDV_REGISTERED);
	assert_int_equal(buf[4], 0xef); /* little-endian relay id */
	assert_int_equal(buf[7], 0xde);
	assert_int_equal(buf[8], 6);
	assert_true(rdv_decode_registered(buf, len, &id, &out));
	assert_int_equal(id, 0xdeadbeef);
	assert_true(same_addr(&out, &refl));
	memset(buf + len, 0, BUF - len);
	assert_true(rdv_decode_registered(buf, padded(len), &id, &out));
	for (size_t l = 0; l < len; l++)
		assert_false(rdv_decode_registered(buf, l, &id, &out));
	assert_false(rdv_decode_registered(buf, len + 1, &id, &out));
	assert_false(rdv_decode_registered(buf, padded(len) + WIRE_PAD, &id, &out));
	assert_int_equal(id, 0);
	assert_int_equal(out.ss_family, 0);
	/* Encoder refusals: relay id 0, no address, too small a buffer. */
	assert_int_equal(rdv_encode_registered(0, &refl, buf, BUF), 0);
	memset(&out, 0, sizeof(out));
	assert_int_equal(rdv_encode_registered(1, &out, buf, BUF), 0);
	assert_int_equal(rdv_encode_registered(1, &refl, buf, RDV_REGISTERED_LEN - 1), 0);
}

static void test_rdv_decode_registered_fields(void **state)
{
	struct sockaddr_storage refl, out;
	uint8_t buf[BUF], copy[BUF];
	uint32_t id;
	size_t len;

	v4(&refl, "203.0.113.9", 40000);
	len = rdv_encode_registered(7, &refl, buf, BUF);
	for (size_t off = 1; off < 4; off++) {
		memcpy(copy, buf, len);
		copy[off] = 1;
		assert_false(rdv_decode_registered(copy, len, &id, &out));
	}
	memcpy(copy, buf, len);
	copy[0] = RDV_CONNECT;
	assert_false(rdv_decode_registered(copy, len, &id, &out));
	memcpy(copy, buf, len);
	memset(copy + 4, 0, 4); /* relay id 0 */
	assert_false(rdv_decode_registered(copy, len, &id, &out));
	memcpy(copy, buf, len);
	copy[8] = 0; /* no reflexive address */
	assert_false(rdv_decode_registered(copy, len, &id, &out));
	memcpy(copy, buf, len);
	copy[8] = 3;
	assert_false(rdv_decode_registered(copy, len, &id, &out));
	assert_true(rdv_decode_registered(buf, len, &id, &out));
}

/* ---- CONNECT and UNKNOWN_PEER ---- */

static void test_rdv_key_messages(void **state)
{
	uint8_t key[32], out[32], buf[BUF], copy[BUF];
	size_t len;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0xa0 + i);
	len = rdv_encode_connect(key, buf, BUF);
	assert_int_equal(len, RDV_CONNECT_LEN);
	assert_int_equal(buf[0], RDV_CONNECT);
	assert_true(all_zero(buf + 1, 3));
	assert_memory_equal(buf + 4, key, 32);
	assert_true(rdv_decode_connect(buf, len, out));
	assert_memory_equal(out, key, 32);
	assert_false(rdv_decode_unknown_peer(buf, len, out)); /* wrong type */
	assert_true(all_zero(out, 32));
	memset(buf + len, 0, BUF - len);
	assert_true(rdv_decode_connect(buf, padded(len), out));
	assert_false(rdv_decode_connect(buf, padded(len) + WIRE_PAD, out));
	for (size_t l = 0; l < len; l++)
		assert_false(rdv_decode_connect(buf, l, out));
	for (size_t off = 1; off < 4; off++) {
		memcpy(copy, buf, len);
		copy[off] = 0xff;
		assert_false(rdv_decode_connect(copy, len, out));
	}
	buf[padded(len) - 1] = 9;
	assert_false(rdv_decode_connect(buf, padded(len), out));
	assert_int_equal(rdv_encode_connect(key, buf, RDV_CONNECT_LEN - 1), 0);

	len = rdv_encode_unknown_peer(key, buf, BUF);
	assert_int_equal(len, RDV_UNKNOWN_PEER_LEN);
	assert_int_equal(buf[0], RDV_UNKNOWN_PEER);
	assert_true(rdv_decode_unknown_peer(buf, len, out));
	assert_memory_equal(out, key, 32);
	assert_int_equal(rdv_msg_type_of(buf, len), RDV_UNKNOWN_PEER);
	assert_false(rdv_decode_connect(buf, len, out));
	assert_false(rdv_decode_unknown_peer(buf, len - 1, out));
}

/* ---- INTRODUCE ---- */

static size_t make_introduce(uint8_t *buf, size_t n_host, bool tcp, struct rdv_introduce *m)
{
	memset(m, 0, sizeof(*m));
	m->nat_mapping = RDV_MAPPING_INDEPENDENT;
	m->port_step = 2;
	m->start_in_ms = RDV_START_DELAY_MS;
	for (int i = 0; i < 32; i++)
		m->public_key[i] = (uint8_t)i;
	m->relay_id = 0x01020304;
	v4(&m->udp_reflexive, "198.51.100.5", 41000);
	if (tcp)
		v4(&m->tcp_reflexive, "198.51.100.5", 41001);
	m->n_host = n_host;
	fill_hosts(m->host, n_host);
	return rdv_encode_introduce(m, buf, BUF);
}

static void test_rdv_encode_introduce_layout(void **state)
{
	uint8_t buf[BUF];
	struct rdv_introduce m;
	size_t len = make_introduce(buf, 1, false, &m);
	static const uint8_t head[] = {
	    4, 1, 1, 0, 2, 0, RDV_START_DELAY_MS & 0xff, RDV_START_DELAY_MS >> 8};

	assert_int_equal(len, INTRO_FIXED + RDV_ADDR_LEN);
	assert_memory_equal(buf, head, sizeof(head));
	assert_memory_equal(buf + 8, m.public_key, 32);
	assert_int_equal(buf[40], 4); /* relay id, little-endian */
	assert_int_equal(buf[43], 1);
	assert_int_equal(buf[44], 4); /* UDP reflexive */
	assert_int_equal(buf[48], 198);
	assert_true(all_zero(buf + 64, RDV_ADDR_LEN)); /* no TCP reflexive */
	assert_int_equal(buf[84], 4);		       /* the host candidate */
}

static void test_rdv_decode_introduce_roundtrip(void **state)
{
	for (size_t n = 0; n <= RDV_MAX_HOST; n++) {
		uint8_t buf[BUF];
		struct rdv_introduce m, d;
		size_t len = make_introduce(buf, n, n % 2, &m);

		assert_int_equal(len, INTRO_FIXED + n * RDV_ADDR_LEN);
		assert_true(rdv_decode_introduce(buf, len, &d));
		assert_int_equal(d.n_host, n);
		assert_int_equal(d.nat_mapping, RDV_MAPPING_INDEPENDENT);
		assert_int_equal(d.port_step, 2);
		assert_int_equal(d.start_in_ms, RDV_START_DELAY_MS);
		assert_int_equal(d.relay_id, 0x01020304);
		assert_memory_equal(d.public_key, m.public_key, 32);
		assert_true(same_addr(&d.udp_reflexive, &m.udp_reflexive));
		assert_true(same_addr(&d.tcp_reflexive, &m.tcp_reflexive));
		for (size_t i = 0; i < n; i++)
			assert_true(same_addr(&d.host[i], &m.host[i]));
		memset(buf + len, 0, BUF - len);
		assert_true(rdv_decode_introduce(buf, padded(len), &d));
		for (size_t l = 0; l < len; l++)
			assert_false(rdv_decode_introduce(buf, l, &d));
		assert_false(rdv_decode_introduce(buf, len + 1, &d));
		assert_false(rdv_decode_introduce(buf, padded(len) + WIRE_PAD, &d));
		assert_true(all_zero(&d, sizeof(d)));
	}
}

static void test_rdv_decode_introduce_fields(void **state)
{
	static const struct {
		size_t off;
		uint8_t value;
	} bad[] = {
	    {0, RDV_REGISTER}, /* 1. wrong type */
	    {2, 3},	       /* 2. nat_mapping */
	    {3, 1},	       /* 3. reserved byte */
	    {44, 7},	       /* 4. UDP reflexive family */
	    {45, 1},	       /* 5. UDP reflexive reserved */
	    {70, 1},	       /* 6. TCP "none" with a stray byte */
	    {64, 4},	       /* 7. TCP family 4 with port 0 */
	    {84, 0},	       /* 8. host family 0 (none is not a candidate) */
	    {100, 1},	       /* 9. IPv4 host with bytes after its 4 */
	};
	uint8_t buf[BUF], copy[BUF];
	struct rdv_introduce m, d;
	size_t len = make_introduce(buf, 2, false, &m);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(copy, buf, BUF);
		copy[bad[i].off] = bad[i].value;
		assert_false(rdv_decode_introduce(copy, len, &d));
	}
	memcpy(copy, buf, BUF);
	memset(copy + 40, 0, 4); /* relay id 0 */
	assert_false(rdv_decode_introduce(copy, len, &d));
	/* No UDP reflexive at all is allowed (a peer seen only over TCP). */
	memcpy(copy, buf, BUF);
	memset(copy + 44, 0, RDV_ADDR_LEN);
	assert_true(rdv_decode_introduce(copy, len, &d));
	assert_int_equal(d.udp_reflexive.ss_family, 0);
	/* n_host 9 and 255 with enough bytes behind them. */
	make_introduce(buf, RDV_MAX_HOST, false, &m);
	buf[1] = RDV_MAX_HOST + 1;
	assert_false(rdv_decode_introduce(buf, INTRO_FIXED + 9 * RDV_ADDR_LEN, &d));
	buf[1] = 255;
	assert_false(rdv_decode_introduce(buf, BUF, &d));
}

static void test_rdv_encode_introduce_refuses(void **state)
{
	uint8_t buf[BUF];
	struct rdv_introduce m;
	size_t len = make_introduce(buf, 8, true, &m);

	assert_int_equal(len, INTRO_FIXED + 8 * RDV_ADDR_LEN);
	assert_int_equal(rdv_encode_introduce(&m, buf, len - 1), 0);
	m.relay_id = 0;
	assert_int_equal(rdv_encode_introduce(&m, buf, BUF), 0);
	m.relay_id = 1;
	m.n_host = 9;
	assert_int_equal(rdv_encode_introduce(&m, buf, BUF), 0);
	m.n_host = 1;
	m.tcp_reflexive.ss_family = AF_UNIX;
	assert_int_equal(rdv_encode_introduce(&m, buf, BUF), 0);
}

/* ---- type, addresses, relay frames ---- */

static void test_rdv_msg_type_of(void **state)
{
	uint8_t buf[16] = {0};

	for (unsigned t = 0; t < 256; t++) {
		buf[0] = (uint8_t)t;
		assert_int_equal(rdv_msg_type_of(buf, sizeof(buf)), t >= 1 && t <= 5 ? t : 0);
		assert_int_equal(rdv_msg_type_of(buf, RDV_REGISTER_LEN - 1), 0);
	}
	assert_int_equal(rdv_msg_type_of(buf, 0), 0);
}

static void test_rdv_addr_conversions(void **state)
{
	struct sockaddr_storage ss, out;
	struct rdv_addr a;

	/* A v4-mapped IPv6 address is an IPv4 peer on the wire. */
	v6(&ss, "::ffff:192.0.2.44", 9);
	rdv_addr_from_sockaddr(&ss, &a);
	assert_int_equal(a.family, 4);
	assert_int_equal(a.addr[3], 44);
	assert_true(all_zero(a.addr + 4, 12));
	assert_true(rdv_addr_to_sockaddr(&a, &out));
	assert_int_equal(out.ss_family, AF_INET);
	/* A plain IPv6 address keeps its 16 bytes and port. */
	v6(&ss, "2001:db8::1", 443);
	rdv_addr_from_sockaddr(&ss, &a);
	assert_int_equal(a.family, 6);
	assert_int_equal(a.port_be[0] << 8 | a.port_be[1], 443);
	assert_true(rdv_addr_to_sockaddr(&a, &out));
	assert_true(same_addr(&out, &ss));
	/* AF_UNSPEC is "none": all zero, refused as a present address, taken
	 * as an optional one. */
	memset(&ss, 0, sizeof(ss));
	memset(&a, 0xa5, sizeof(a));
	assert_true(rdv_addr_from_sockaddr(&ss, &a));
	assert_true(all_zero(&a, sizeof(a)));
	assert_false(rdv_addr_to_sockaddr(&a, &out));
	memset(&out, 0xa5, sizeof(out));
	assert_true(rdv_addr_to_sockaddr_opt(&a, &out));
	assert_true(all_zero(&out, sizeof(out)));
	/* Anything else encodes as "none" with false, and does not decode. */
	ss.ss_family = AF_UNIX;
	memset(&a, 0xa5, sizeof(a));
	assert_false(rdv_addr_from_sockaddr(&ss, &a));
	assert_true(all_zero(&a, sizeof(a)));
	assert_false(rdv_addr_to_sockaddr(&a, &out));
	assert_int_equal(out.ss_family, 0);
	/* "none" with any byte set is no "none"; a present address is taken
	 * by the optional form exactly as by the strict one. */
	for (size_t i = 1; i < sizeof(a); i++) {
		memset(&a, 0, sizeof(a));
		((uint8_t *)&a)[i] = 1;
		memset(&out, 0xa5, sizeof(out));
		assert_false(rdv_addr_to_sockaddr_opt(&a, &out));
		assert_true(all_zero(&out, sizeof(out)));
	}
	v4(&ss, "192.0.2.1", 1);
	assert_true(rdv_addr_from_sockaddr(&ss, &a));
	assert_true(rdv_addr_to_sockaddr_opt(&a, &out));
	assert_true(same_addr(&out, &ss));
	a.port_be[1] = 0;
	assert_false(rdv_addr_to_sockaddr_opt(&a, &out));
	v6(&ss, "::ffff:192.0.2.44", 9);
	assert_true(rdv_addr_from_sockaddr(&ss, &a));
	assert_int_equal(a.family, 4);
	for (unsigned fam = 0; fam < 256; fam++) {
		v4(&ss, "192.0.2.1", 1);
		rdv_addr_from_sockaddr(&ss, &a);
		a.family = (uint8_t)fam;
		assert_int_equal(rdv_addr_to_sockaddr(&a, &out), fam == 4 || fam == 6);
	}
}

/* Rewrites the IPv4 address at p (wire form, family 4) as the same address
 * v4-mapped in family 6: ::ffff:a.b.c.d. */
static void to_v4mapped(uint8_t *p)
{
	struct rdv_addr a;

	memcpy(&a, p, sizeof(a));
	assert_int_equal(a.family, 4);
	a.family = 6;
	memmove(a.addr + 12, a.addr, 4);
	memset(a.addr, 0, 10);
	a.addr[10] = a.addr[11] = 0xff;
	memcpy(p, &a, sizeof(a));
}

/* An IPv4 address has one encoding (family 4): the v4-mapped IPv6 form is
 * refused wherever an address is decoded, so that a decoded message always
 * encodes back to the same bytes and no IPv4 candidate passes as family 6. */
static void test_rdv_addr_v4mapped_refused(void **state)
{
	uint8_t buf[BUF];
	struct sockaddr_storage ss, out;
	struct rdv_register reg;
	struct rdv_introduce intro;
	struct rdv_addr a;
	uint32_t id;
	size_t len;

	v4(&ss, "192.0.2.44", 9);
	rdv_addr_from_sockaddr(&ss, &a);
	to_v4mapped((uint8_t *)&a);
	assert_false(rdv_addr_to_sockaddr(&a, &out));
	/* Another ::ffff:0:0/96 neighbour, ::fffe:..., is plain IPv6. */
	a.addr[11] = 0xfe;
	assert_true(rdv_addr_to_sockaddr(&a, &out));
	assert_int_equal(out.ss_family, AF_INET6);

	/* REGISTER host candidate (host 0 of fill_hosts() is IPv4). */
	len = make_register(buf, 2, &reg);
	assert_true(rdv_decode_register(buf, len, &reg));
	to_v4mapped(buf + RDV_REGISTER_LEN);
	assert_false(rdv_decode_register(buf, len, &reg));

	/* REGISTERED reflexive address. */
	v4(&ss, "198.51.100.9", 3478);
	len = rdv_encode_registered(7, &ss, buf, BUF);
	assert_true(rdv_decode_registered(buf, len, &id, &out));
	to_v4mapped(buf + 8);
	assert_false(rdv_decode_registered(buf, len, &id, &out));

	/* INTRODUCE: UDP reflexive, TCP reflexive, host candidate. */
	for (size_t off = 44; off <= INTRO_FIXED; off += RDV_ADDR_LEN) {
		len = make_introduce(buf, 1, true, &intro);
		assert_true(rdv_decode_introduce(buf, len, &intro));
		to_v4mapped(buf + off);
		assert_false(rdv_decode_introduce(buf, len, &intro));
	}
}

/* Two ends of one session: a's sending key is b's receiving key. */
static void relay_pair(struct sess_keypair *a, struct sess_keypair *b, uint8_t seed)
{
	uint8_t k1[SESS_KEY_LEN], k2[SESS_KEY_LEN];

	memset(k1, seed, sizeof(k1));
	memset(k2, seed + 1, sizeof(k2));
	sess_keypair_init(a, k1, k2, 0x11111111u * seed, 0x22222222u * seed, true, T_NOW);
	sess_keypair_init(b, k2, k1, 0x22222222u * seed, 0x11111111u * seed, false, T_NOW);
}

static void relay_frame_fill(uint8_t *frame, size_t len)
{
	memset(frame, 0, len);
	frame[RDV_RELAY_HEADER_LEN] = WIRE_DATA; /* the inner datagram's header */
	for (size_t i = RDV_RELAY_HEADER_LEN + 4; i < len; i++)
		frame[i] = (uint8_t)i;
}

static void test_rdv_relay_seal_layout(void **state)
{
	struct sess_keypair a, b;
	struct rdv_relay_hdr h;
	uint8_t frame[100];
	const uint8_t *inner;
	size_t inner_len;

	relay_pair(&a, &b, 1);
	relay_frame_fill(frame, sizeof(frame));
	assert_int_equal(rdv_relay_seal(frame, sizeof(frame), 0x0a0b0c0d, &a, T_NOW), 0);
	/* | 7 0 0 0 | relay_id | receiver idx | counter | tag | datagram | */
	assert_memory_equal(frame, "\x07\x00\x00\x00\x0d\x0c\x0b\x0a\x22\x22\x22\x22", 12);
	assert_memory_equal(frame + 12, "\0\0\0\0\0\0\0\0", 8); /* the first counter */
	assert_int_equal(a.send_counter, 1);
	assert_true(rdv_relay_parse(frame, sizeof(frame), &h, &inner, &inner_len));
	assert_int_equal(h.relay_id, 0x0a0b0c0d);
	assert_int_equal(h.receiver_index, 0x22222222);
	assert_int_equal(h.counter, 0);
	assert_ptr_equal(inner, frame + RDV_RELAY_HEADER_LEN);
	assert_int_equal(inner_len, sizeof(frame) - RDV_RELAY_HEADER_LEN);
	assert_int_equal(rdv_relay_verify(frame, sizeof(frame), &h, &b, T_NOW), 0);
	/* The second frame takes the next counter. */
	relay_frame_fill(frame, sizeof(frame));
	assert_int_equal(rdv_relay_seal(frame, sizeof(frame), 7, &a, T_NOW), 0);
	assert_int_equal(frame[12], 1);
	/* Nothing to carry, no id, a dead keypair: refused, no counter spent. */
	assert_int_equal(rdv_relay_seal(frame, RDV_RELAY_HEADER_LEN + 3, 7, &a, T_NOW), -EINVAL);
	assert_int_equal(rdv_relay_seal(frame, sizeof(frame), 0, &a, T_NOW), -EINVAL);
	assert_int_equal(rdv_relay_seal(frame, sizeof(frame), 7, &a, T_NOW + 180000), -EKEYEXPIRED);
	/* The responder may send: a's frame confirmed the keypair. */
	assert_int_equal(rdv_relay_seal(frame, sizeof(frame), 7, &b, T_NOW), 0);
	assert_int_equal(a.send_counter, 2);
	{
		struct sess_keypair c, d;

		relay_pair(&c, &d, 5);
		assert_int_equal(rdv_relay_seal(frame, sizeof(frame), 7, &d, T_NOW), -EPERM);
		sess_keypair_wipe(&c);
		assert_int_equal(rdv_relay_seal(frame, sizeof(frame), 7, &c, T_NOW), -ENOKEY);
	}
}

/* Every byte of the frame is covered: a flipped bit anywhere fails, and a
 * failure moves no window (the untouched frame still passes afterwards). */
static void test_rdv_relay_verify_tamper(void **state)
{
	struct sess_keypair a, b, other_a, other_b;
	struct rdv_relay_hdr h;
	uint8_t frame[80], copy[80], before[80];
	const uint8_t *inner;
	size_t inner_len;

	relay_pair(&a, &b, 1);
	relay_pair(&other_a, &other_b, 3);
	relay_frame_fill(frame, sizeof(frame));
	assert_int_equal(rdv_relay_seal(frame, sizeof(frame), 99, &a, T_NOW), 0);
	for (size_t off = 4; off < sizeof(frame); off++) {
		memcpy(copy, frame, sizeof(frame));
		copy[off] ^= 0x01;
		if (!rdv_relay_parse(copy, sizeof(copy), &h, &inner, &inner_len))
			continue;
		memcpy(before, copy, sizeof(copy));
		if (rdv_relay_verify(copy, sizeof(copy), &h, &b, T_NOW) == 0)
			fail_msg("byte %zu flipped, still verified", off);
		assert_memory_equal(copy, before, sizeof(copy)); /* left as it was */
	}
	/* Truncated: the tag covered the whole length. */
	assert_true(rdv_relay_parse(frame, sizeof(frame) - 1, &h, &inner, &inner_len));
	assert_int_equal(rdv_relay_verify(frame, sizeof(frame) - 1, &h, &b, T_NOW), -EBADMSG);
	/* Untagged (what a stranger who read the id off the wire can build). */
	memcpy(copy, frame, sizeof(frame));
	memset(copy + RDV_RELAY_TAG_OFFSET, 0, WIRE_TAG_LEN);
	assert_true(rdv_relay_parse(copy, sizeof(copy), &h, &inner, &inner_len));
	assert_int_equal(rdv_relay_verify(copy, sizeof(copy), &h, &b, T_NOW), -EBADMSG);
	/* Another session's keypair, even handed the right index. */
	assert_true(rdv_relay_parse(frame, sizeof(frame), &h, &inner, &inner_len));
	assert_int_equal(rdv_relay_verify(frame, sizeof(frame), &h, &other_b, T_NOW), -ENOKEY);
	other_b.local_index = b.local_index;
	assert_int_equal(rdv_relay_verify(frame, sizeof(frame), &h, &other_b, T_NOW), -EBADMSG);
	/* Too late: the receiving keypair expired. */
	assert_int_equal(rdv_relay_verify(frame, sizeof(frame), &h, &b, T_NOW + 180000),
			 -EKEYEXPIRED);
	/* The real one passes once, then is a replay. */
	assert_int_equal(rdv_relay_verify(frame, sizeof(frame), &h, &b, T_NOW), 0);
	assert_int_equal(rdv_relay_verify(frame, sizeof(frame), &h, &b, T_NOW), -EALREADY);
}

/* Relay frames and data packets share one counter and one window. */
static void test_rdv_relay_counter_shared(void **state)
{
	struct sess_keypair a, b;
	struct rdv_relay_hdr h;
	uint8_t frame[64], pkt[SESS_HEADROOM + 16 + SESS_TAILROOM], *in;
	const uint8_t *inner;
	size_t inner_len, plen;

	relay_pair(&a, &b, 1);
	relay_frame_fill(frame, sizeof(frame));
	assert_int_equal(rdv_relay_seal(frame, sizeof(frame), 5, &a, T_NOW), 0);
	memset(pkt, 0, sizeof(pkt));
	assert_int_equal(sess_encrypt(&a, pkt + SESS_HEADROOM, 16, T_NOW, &plen), 0);
	assert_int_equal(pkt[8], 1); /* the data packet took counter 1 */
	assert_int_equal(sess_decrypt(&b, pkt, plen, T_NOW, &in, &inner_len), 0);
	assert_true(rdv_relay_parse(frame, sizeof(frame), &h, &inner, &inner_len));
	assert_int_equal(rdv_relay_verify(frame, sizeof(frame), &h, &b, T_NOW), 0);
	/* Far behind the window (W = 8128): refused like an old data packet. */
	b.replay.next = 10000;
	relay_frame_fill(frame, sizeof(frame));
	assert_int_equal(rdv_relay_seal(frame, sizeof(frame), 5, &a, T_NOW), 0);
	assert_true(rdv_relay_parse(frame, sizeof(frame), &h, &inner, &inner_len));
	assert_int_equal(rdv_relay_verify(frame, sizeof(frame), &h, &b, T_NOW), -EALREADY);
}

static void test_rdv_relay_parse(void **state)
{
	uint8_t frame[64] = {0};
	const uint8_t *inner;
	size_t inner_len;
	struct rdv_relay_hdr h;

	frame[0] = WIRE_RELAY;
	frame[4] = 0x0d;
	frame[8] = 0x01;
	frame[RDV_RELAY_HEADER_LEN] = WIRE_DATA;
	assert_true(rdv_relay_parse(frame, 40, &h, &inner, &inner_len));
	assert_int_equal(h.relay_id, 0x0d);
	assert_int_equal(h.receiver_index, 1);
	assert_int_equal(inner_len, 40 - RDV_RELAY_HEADER_LEN);
	/* Too short for a header and an inner p2pvpn header. */
	for (size_t l = 0; l < RDV_RELAY_HEADER_LEN + WIRE_HEADER_LEN; l++) {
		assert_false(rdv_relay_parse(frame, l, &h, &inner, &inner_len));
		assert_null(inner);
	}
	for (size_t off = 1; off < 4; off++) {
		frame[off] = 1;
		assert_false(rdv_relay_parse(frame, 40, &h, &inner, &inner_len));
		frame[off] = 0;
	}
	frame[0] = WIRE_DATA;
	assert_false(rdv_relay_parse(frame, 40, &h, &inner, &inner_len));
	frame[0] = WIRE_RELAY;
	/* Relay id 0 names nobody, receiver index 0 no session. */
	frame[4] = 0;
	assert_false(rdv_relay_parse(frame, 40, &h, &inner, &inner_len));
	assert_int_equal(h.relay_id, 0);
	frame[4] = 0x0d;
	frame[8] = 0;
	assert_false(rdv_relay_parse(frame, 40, &h, &inner, &inner_len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rdv_encode_register_layout),
	    cmocka_unit_test(test_rdv_decode_register_roundtrip),
	    cmocka_unit_test(test_rdv_decode_register_lengths),
	    cmocka_unit_test(test_rdv_decode_register_fields),
	    cmocka_unit_test(test_rdv_encode_register_refuses),
	    cmocka_unit_test(test_rdv_registered_roundtrip),
	    cmocka_unit_test(test_rdv_decode_registered_fields),
	    cmocka_unit_test(test_rdv_key_messages),
	    cmocka_unit_test(test_rdv_encode_introduce_layout),
	    cmocka_unit_test(test_rdv_decode_introduce_roundtrip),
	    cmocka_unit_test(test_rdv_decode_introduce_fields),
	    cmocka_unit_test(test_rdv_encode_introduce_refuses),
	    cmocka_unit_test(test_rdv_msg_type_of),
	    cmocka_unit_test(test_rdv_addr_conversions),
	    cmocka_unit_test(test_rdv_addr_v4mapped_refused),
	    cmocka_unit_test(test_rdv_relay_seal_layout),
	    cmocka_unit_test(test_rdv_relay_verify_tamper),
	    cmocka_unit_test(test_rdv_relay_counter_shared),
	    cmocka_unit_test(test_rdv_relay_parse),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
