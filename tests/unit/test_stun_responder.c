/* STUN responder tests (rendezvous/stun_responder.h), with an alternate
 * address and without: the socket each CHANGE-REQUEST is answered from on
 * each of the four sockets, on a specific and on a wildcard listen address
 * (RESPONSE-ORIGIN and OTHER-ADDRESS from the address a request came to and
 * its partner, or as without an alternate when the partner is unknown), the attributes of the RFC
 * 5389 and RFC 3489 forms, 420 for attributes we will not act on, 400 for a change request over
 * TCP, silence for garbage, indications and responses, the size of every answer against the request
 * that caused it (at most 2x over UDP, attributes dropped by priority), and the per-source-IP and
 * global rate limit of answers. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "rendezvous/stun_responder.h"
#include "stun/stun.h"

enum { PORT = 3478 };

/* The largest UDP answer/request ratio seen by any test (printed at the end). */
static size_t worst_out = 0, worst_in = 1;

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

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static uint8_t last_octet(const struct sockaddr_storage *ss)
{
	return ((const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr)[3];
}

static void server(struct rdv_stun_server *s, bool alt)
{
	memset(s, 0, sizeof(*s));
	v4(&s->ip[0], "192.0.2.10", 0);
	v4(&s->ip[1], "192.0.2.20", 0);
	s->port[0] = PORT;
	s->port[1] = PORT + 1;
	s->has_alternate = alt;
}

/* A Binding request: RFC 5389 (cookie) or RFC 3489 (no cookie) id. */
static size_t request(uint8_t *buf, bool rfc3489, uint32_t change, bool fingerprint,
		      uint16_t extra_attr)
{
	uint8_t id[STUN_ID_LEN];
	struct stun_builder b;
	size_t len;

	stun_id_new(id);
	if (rfc3489)
		id[0] ^= 0xff;
	assert_int_equal(
	    stun_builder_init(&b, buf, 512, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, id), 0);
	if (change != 0xffffffff)
		assert_int_equal(stun_builder_add_change_request(&b, change), 0);
	if (extra_attr) {
		uint8_t v[4] = {0x12, 0x34, 0, 0};

		assert_int_equal(stun_builder_add(&b, extra_attr, v, sizeof(v)), 0);
	}
	assert_int_equal(stun_builder_finish(&b, fingerprint, &len), 0);
	return len;
}

/* A request to socket sock whose ip[0] stands for primary (NULL: ip[0]). */
static enum rdv_stun_drop ask_primary(const struct rdv_stun_server *s, unsigned sock, bool tcp,
				      const struct sockaddr_storage *from,
				      const struct sockaddr_storage *primary, const uint8_t *req,
				      size_t len, struct stun_msg *msg, uint8_t *out,
				      unsigned *send_sock)
{
	struct rdv_stun_request r = {
	    .data = req, .len = len, .sock = sock, .tcp = tcp, .from = from, .primary = primary};
	size_t out_len;
	enum rdv_stun_drop d;

	d = rdv_stun_answer(s, &r, out, 512, &out_len, send_sock);
	if (d == RDV_STUN_ANSWERED) {
		assert_true(stun_msg_parse(msg, out, out_len));
		/* Over UDP never more than twice the request. */
		if (!tcp) {
			assert_true(out_len <= 2 * len);
			if (out_len * worst_in > worst_out * len) {
				worst_out = out_len;
				worst_in = len;
			}
		}
	} else {
		assert_int_equal(out_len, 0);
	}
	return d;
}

static enum rdv_stun_drop ask_from(const struct rdv_stun_server *s, unsigned sock, bool tcp,
				   const struct sockaddr_storage *from, const uint8_t *req,
				   size_t len, struct stun_msg *msg, uint8_t *out,
				   unsigned *send_sock)
{
	return ask_primary(s, sock, tcp, from, NULL, req, len, msg, out, send_sock);
}

static enum rdv_stun_drop ask(const struct rdv_stun_server *s, unsigned sock, bool tcp,
			      const uint8_t *req, size_t len, struct stun_msg *msg, uint8_t *out,
			      unsigned *send_sock)
{
	struct sockaddr_storage from;

	v4(&from, "198.51.100.5", 40000);
	return ask_from(s, sock, tcp, &from, req, len, msg, out, send_sock);
}

/* A request grown by a PADDING attribute of pad bytes (RFC 5780 section 7.6). */
static size_t request_padded(uint8_t *buf, bool rfc3489, uint32_t change, bool fingerprint,
			     size_t pad)
{
	uint8_t id[STUN_ID_LEN], zero[256] = {0};
	struct stun_builder b;
	size_t len;

	stun_id_new(id);
	if (rfc3489)
		id[0] ^= 0xff;
	assert_int_equal(
	    stun_builder_init(&b, buf, 512, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, id), 0);
	if (change != 0xffffffff)
		assert_int_equal(stun_builder_add_change_request(&b, change), 0);
	if (pad)
		assert_int_equal(stun_builder_add(&b, STUN_ATTR_PADDING, zero, pad), 0);
	assert_int_equal(stun_builder_finish(&b, fingerprint, &len), 0);
	return len;
}

/* Every socket and every CHANGE-REQUEST, with an alternate address. */
static void test_rdv_stun_answer_change_matrix(void **state)
{
	struct rdv_stun_server s;
	uint8_t req[512], out[512];
	struct stun_msg msg;

	server(&s, true);
	for (unsigned sock = 0; sock < RDV_STUN_SOCKS; sock++) {
		for (uint32_t change = 0; change <= 6; change += 2) {
			/* Padded so that every attribute fits within 2x. */
			size_t len = request_padded(req, false, change, false, 16);
			struct sockaddr_storage mapped, origin, other, changed;
			unsigned send_sock, expect = sock;

			if (change & STUN_CHANGE_IP)
				expect ^= RDV_STUN_CHANGE_IP_BIT;
			if (change & STUN_CHANGE_PORT)
				expect ^= RDV_STUN_CHANGE_PORT_BIT;
			assert_int_equal(ask(&s, sock, false, req, len, &msg, out, &send_sock),
					 RDV_STUN_ANSWERED);
			assert_int_equal(send_sock, expect);
			assert_int_equal(msg.cls, STUN_CLASS_SUCCESS);
			assert_memory_equal(msg.id, req + 4, STUN_ID_LEN);
			assert_true(
			    stun_msg_get_address(&msg, STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped));
			assert_int_equal(port_of(&mapped), 40000);
			assert_true(stun_msg_get_address(&msg, STUN_ATTR_MAPPED_ADDRESS, &mapped));
			assert_int_equal(last_octet(&mapped), 5);
			/* RESPONSE-ORIGIN: the socket that answers. */
			assert_true(stun_msg_get_address(&msg, STUN_ATTR_RESPONSE_ORIGIN, &origin));
			assert_int_equal(port_of(&origin), PORT + (expect & 1));
			assert_int_equal(last_octet(&origin), expect & 2 ? 20 : 10);
			/* OTHER-ADDRESS = CHANGED-ADDRESS: differs from the
			 * receiving socket in both IP and port. */
			assert_true(stun_msg_get_address(&msg, STUN_ATTR_OTHER_ADDRESS, &other));
			assert_true(
			    stun_msg_get_address(&msg, STUN_ATTR_CHANGED_ADDRESS, &changed));
			assert_memory_equal(&other, &changed, sizeof(struct sockaddr_in));
			assert_int_equal(port_of(&other), PORT + ((sock & 1) ^ 1));
			assert_int_equal(last_octet(&other), sock & 2 ? 10 : 20);
			assert_false(msg.has_fingerprint);
		}
	}
}

/* The origin and other address of an answer (RFC 5780 form, or RFC 3489's
 * SOURCE-ADDRESS and CHANGED-ADDRESS); other has ss_family 0 when absent. */
static void origin_other(const struct stun_msg *msg, bool rfc3489, struct sockaddr_storage *origin,
			 struct sockaddr_storage *other)
{
	memset(other, 0, sizeof(*other));
	assert_true(stun_msg_get_address(
	    msg, rfc3489 ? STUN_ATTR_SOURCE_ADDRESS : STUN_ATTR_RESPONSE_ORIGIN, origin));
	if (!stun_msg_find(msg, rfc3489 ? STUN_ATTR_CHANGED_ADDRESS : STUN_ATTR_OTHER_ADDRESS))
		return;
	assert_true(stun_msg_get_address(
	    msg, rfc3489 ? STUN_ATTR_CHANGED_ADDRESS : STUN_ATTR_OTHER_ADDRESS, other));
}

/* A wildcard listen address (0.0.0.0) with alternate 192.0.2.20: ip[0]
 * stands for what each request says (the address it came to, or the
 * alternate's partner), in both forms, for every socket and change. */
static void test_rdv_stun_answer_wildcard_matrix(void **state)
{
	struct rdv_stun_server s;
	struct sockaddr_storage from, primary[2];
	uint8_t req[512], out[512];
	struct stun_msg msg;

	server(&s, true);
	v4(&s.ip[0], "0.0.0.0", 0);
	v4(&from, "198.51.100.5", 40000);
	/* Two of the host's addresses: what each request came to. */
	v4(&primary[0], "192.0.2.10", 0);
	v4(&primary[1], "192.0.2.30", 0);
	for (unsigned p = 0; p < 2; p++) {
		for (unsigned sock = 0; sock < RDV_STUN_SOCKS; sock++) {
			for (uint32_t change = 0; change <= 6; change += 2) {
				bool rfc3489 = change == 4;
				size_t len = request_padded(req, rfc3489, change, false, 16);
				struct sockaddr_storage origin, other;
				unsigned send_sock, expect = sock;
				uint8_t ip0 = p ? 30 : 10;

				if (change & STUN_CHANGE_IP)
					expect ^= RDV_STUN_CHANGE_IP_BIT;
				if (change & STUN_CHANGE_PORT)
					expect ^= RDV_STUN_CHANGE_PORT_BIT;
				assert_int_equal(ask_primary(&s, sock, false, &from, &primary[p],
							     req, len, &msg, out, &send_sock),
						 RDV_STUN_ANSWERED);
				assert_int_equal(send_sock, expect);
				origin_other(&msg, rfc3489, &origin, &other);
				assert_int_equal(origin.ss_family, AF_INET);
				assert_int_equal(port_of(&origin), PORT + (expect & 1));
				assert_int_equal(last_octet(&origin), expect & 2 ? 20 : ip0);
				assert_int_equal(other.ss_family, AF_INET);
				assert_int_equal(port_of(&other), PORT + ((sock & 1) ^ 1));
				assert_int_equal(last_octet(&other), sock & 2 ? ip0 : 20);
			}
		}
	}
}

/* A request to the alternate on a wildcard whose partner is unknown is
 * answered as by a server without an alternate; so is one whose primary
 * is missing on the listen side (a wildcard is never named). */
static void test_rdv_stun_answer_wildcard_no_partner(void **state)
{
	struct rdv_stun_server s;
	struct sockaddr_storage from, origin, other;
	uint8_t req[512], out[512];
	struct stun_msg msg;
	unsigned send_sock;
	size_t len;

	server(&s, true);
	v4(&s.ip[0], "0.0.0.0", 0);
	v4(&from, "198.51.100.5", 40000);
	for (unsigned sock = 2; sock < RDV_STUN_SOCKS; sock++) {
		len = request_padded(req, false, 0, false, 16);
		assert_int_equal(
		    ask_primary(&s, sock, false, &from, NULL, req, len, &msg, out, &send_sock),
		    RDV_STUN_ANSWERED);
		assert_int_equal(send_sock, sock);
		origin_other(&msg, false, &origin, &other);
		assert_int_equal(last_octet(&origin), 20);
		assert_int_equal(port_of(&origin), PORT + (sock & 1));
		assert_int_equal(other.ss_family, 0);
		assert_null(stun_msg_find(&msg, STUN_ATTR_CHANGED_ADDRESS));
		/* Change port: the alternate's other port. */
		len = request_padded(req, true, STUN_CHANGE_PORT, false, 16);
		assert_int_equal(
		    ask_primary(&s, sock, false, &from, NULL, req, len, &msg, out, &send_sock),
		    RDV_STUN_ANSWERED);
		assert_int_equal(send_sock, sock ^ RDV_STUN_CHANGE_PORT_BIT);
		origin_other(&msg, true, &origin, &other);
		assert_int_equal(last_octet(&origin), 20);
		assert_int_equal(other.ss_family, 0);
		/* Change IP: silence, as without an alternate. */
		len = request_padded(req, false, STUN_CHANGE_IP, false, 16);
		assert_int_equal(
		    ask_primary(&s, sock, false, &from, NULL, req, len, &msg, out, &send_sock),
		    RDV_STUN_NO_ALTERNATE);
	}
	len = request_padded(req, false, STUN_CHANGE_IP, false, 16);
	assert_int_equal(ask_primary(&s, 0, false, &from, NULL, req, len, &msg, out, &send_sock),
			 RDV_STUN_NO_ALTERNATE);
	len = request_padded(req, false, 0, false, 16);
	assert_int_equal(ask_primary(&s, 0, false, &from, NULL, req, len, &msg, out, &send_sock),
			 RDV_STUN_ANSWERED);
	assert_null(stun_msg_find(&msg, STUN_ATTR_OTHER_ADDRESS));
	/* Over TCP to the alternate: the partner as OTHER-ADDRESS, the
	 * connection's own address as origin. */
	v4(&other, "192.0.2.10", 0);
	assert_int_equal(ask_primary(&s, 2, true, &from, &other, req, len, &msg, out, &send_sock),
			 RDV_STUN_ANSWERED);
	origin_other(&msg, false, &origin, &other);
	assert_int_equal(last_octet(&origin), 20);
	assert_int_equal(port_of(&origin), PORT);
	assert_int_equal(last_octet(&other), 10);
	assert_int_equal(port_of(&other), PORT + 1);
}

static void test_rdv_stun_answer_without_alternate(void **state)
{
	struct rdv_stun_server s;
	uint8_t req[512], out[512];
	struct stun_msg msg;
	unsigned send_sock;
	size_t len;

	server(&s, false);
	len = request_padded(req, false, 0, true, 8);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_null(stun_msg_find(&msg, STUN_ATTR_OTHER_ADDRESS));
	assert_null(stun_msg_find(&msg, STUN_ATTR_CHANGED_ADDRESS));
	assert_true(msg.has_fingerprint); /* echoed because the request had one */
	/* Without the padding FINGERPRINT no longer fits in 2x: left out. */
	len = request(req, false, 0, true, 0);
	assert_int_equal(len, 36);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_non_null(stun_msg_find(&msg, STUN_ATTR_RESPONSE_ORIGIN));
	assert_true(msg.has_fingerprint);
	len = request(req, false, 0xffffffff, true, 0);
	assert_int_equal(len, 28);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_non_null(stun_msg_find(&msg, STUN_ATTR_RESPONSE_ORIGIN));
	assert_false(msg.has_fingerprint);
	/* Change port alone still works, from port + 1. */
	len = request(req, false, STUN_CHANGE_PORT, false, 0);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_int_equal(send_sock, 1);
	assert_int_equal(ask(&s, 1, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_int_equal(send_sock, 0);
	/* Change IP cannot be done: silence, alone or with change port. */
	len = request(req, false, STUN_CHANGE_IP, false, 0);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_NO_ALTERNATE);
	len = request(req, true, STUN_CHANGE_IP | STUN_CHANGE_PORT, false, 0);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_NO_ALTERNATE);
}

static void test_rdv_stun_answer_rfc3489(void **state)
{
	struct rdv_stun_server s;
	uint8_t req[512], out[512];
	struct sockaddr_storage addr;
	struct stun_msg msg;
	unsigned send_sock;
	size_t len = request(req, true, STUN_CHANGE_IP, false, 0);

	server(&s, true);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_true(msg.rfc3489);
	assert_int_equal(send_sock, 2);
	assert_memory_equal(msg.id, req + 4, STUN_ID_LEN);
	/* Only what RFC 3489 knows, nothing a classic client would reject. */
	assert_int_equal(msg.nattrs, 3);
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_MAPPED_ADDRESS, &addr));
	assert_int_equal(port_of(&addr), 40000);
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_SOURCE_ADDRESS, &addr));
	assert_int_equal(last_octet(&addr), 20);
	assert_int_equal(port_of(&addr), PORT);
	assert_true(stun_msg_get_address(&msg, STUN_ATTR_CHANGED_ADDRESS, &addr));
	assert_int_equal(last_octet(&addr), 20);
	assert_int_equal(port_of(&addr), PORT + 1);
	assert_null(stun_msg_find(&msg, STUN_ATTR_XOR_MAPPED_ADDRESS));
	/* Without CHANGE-REQUEST at all. */
	len = request(req, true, 0xffffffff, false, 0);
	assert_int_equal(ask(&s, 3, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_int_equal(send_sock, 3);
}

static void test_rdv_stun_answer_errors(void **state)
{
	static const uint16_t refused[] = {0x0033, STUN_ATTR_RESPONSE_PORT,
					   STUN_ATTR_RESPONSE_ADDRESS};
	struct rdv_stun_server s;
	uint8_t req[512], out[512];
	struct stun_msg msg;
	unsigned send_sock;
	uint16_t types[8];
	size_t len, n;
	int code;
	const uint8_t *reason;
	size_t reason_len;

	server(&s, true);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (refused[i] == STUN_ATTR_RESPONSE_ADDRESS) {
			/* An address value the codec accepts. */
			struct stun_builder b;
			struct sockaddr_storage third;
			uint8_t id[STUN_ID_LEN];

			v4(&third, "203.0.113.99", 53);
			stun_id_new(id);
			stun_builder_init(&b, req, sizeof(req), STUN_METHOD_BINDING,
					  STUN_CLASS_REQUEST, id);
			stun_builder_add_address(&b, STUN_ATTR_RESPONSE_ADDRESS, &third);
			assert_int_equal(stun_builder_finish(&b, false, &len), 0);
		} else {
			len = request(req, false, STUN_CHANGE_IP, false, refused[i]);
		}
		assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock),
				 RDV_STUN_ANSWERED);
		/* 420 goes back from the receiving socket, change or not. */
		assert_int_equal(send_sock, 0);
		assert_int_equal(msg.cls, STUN_CLASS_ERROR);
		assert_true(stun_msg_get_error(&msg, &code, &reason, &reason_len));
		assert_int_equal(code, 420);
		assert_true(stun_msg_get_unknown_attributes(&msg, types, 8, &n));
		assert_int_equal(n, 1);
		assert_int_equal(types[0], refused[i]);
	}
	/* An unknown optional attribute is ignored. */
	len = request(req, false, 0, false, 0x8077);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_int_equal(msg.cls, STUN_CLASS_SUCCESS);
	/* A change request over TCP: 400; without flags it is just a Binding. */
	len = request(req, false, STUN_CHANGE_PORT, false, 0);
	assert_int_equal(ask(&s, 0, true, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_true(stun_msg_get_error(&msg, &code, &reason, &reason_len));
	assert_int_equal(code, 400);
	len = request(req, false, 0, false, 0);
	assert_int_equal(ask(&s, 0, true, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_int_equal(msg.cls, STUN_CLASS_SUCCESS);
}

static void test_rdv_stun_answer_silence(void **state)
{
	struct rdv_stun_server s;
	uint8_t req[512], out[512];
	struct stun_msg msg;
	unsigned send_sock;
	size_t len = request(req, false, 0, true, 0);

	server(&s, true);
	/* Truncated, length field off, FINGERPRINT broken, top bits set. */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(ask(&s, 0, false, req, l, &msg, out, &send_sock),
				 RDV_STUN_MALFORMED);
	req[len - 1] ^= 1;
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_MALFORMED);
	req[len - 1] ^= 1;
	req[0] |= 0x80;
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_MALFORMED);
	req[0] &= 0x3f;
	/* An indication, a success response, another method. */
	req[1] = 0x11;
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_MALFORMED);
	len = request(req, false, 0, false, 0);
	req[1] = 0x11; /* Binding indication */
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_NOT_REQUEST);
	req[0] = 0x01; /* Binding success response */
	req[1] = 0x01;
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_NOT_REQUEST);
	req[0] = 0x00;
	req[1] = 0x03; /* Allocate (TURN) request */
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_NOT_REQUEST);
	/* A socket number that does not exist. */
	req[1] = 0x01;
	assert_int_equal(ask(&s, 4, false, req, len, &msg, out, &send_sock), RDV_STUN_MALFORMED);
	assert_string_equal(rdv_stun_drop_name(RDV_STUN_NO_ALTERNATE),
			    "change IP without an alternate address");
}

/* What fits in 2x, by priority: the mapped address first, the address for
 * the next NAT test next, FINGERPRINT last. */
static void test_rdv_stun_answer_priority(void **state)
{
	struct rdv_stun_server s;
	uint8_t req[512], out[512];
	struct sockaddr_storage from6;
	struct stun_msg msg;
	unsigned send_sock;
	size_t len;

	server(&s, true);
	/* Bare RFC 5389 request (20 bytes, 40 allowed): XOR-MAPPED only. */
	len = request(req, false, 0xffffffff, false, 0);
	assert_int_equal(len, 20);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_int_equal(msg.nattrs, 1);
	assert_non_null(stun_msg_find(&msg, STUN_ATTR_XOR_MAPPED_ADDRESS));
	/* Over TCP the same request gets everything. */
	assert_int_equal(ask(&s, 0, true, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_int_equal(msg.nattrs, 5);
	/* natdiscovery / natcheck: a CHANGE-REQUEST (28 bytes, 56 allowed):
	 * XOR-MAPPED, MAPPED and OTHER-ADDRESS, not RESPONSE-ORIGIN. */
	len = request(req, false, 0, false, 0);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_int_equal(msg.nattrs, 3);
	assert_non_null(stun_msg_find(&msg, STUN_ATTR_XOR_MAPPED_ADDRESS));
	assert_non_null(stun_msg_find(&msg, STUN_ATTR_MAPPED_ADDRESS));
	assert_non_null(stun_msg_find(&msg, STUN_ATTR_OTHER_ADDRESS));
	/* RFC 3489 with CHANGE-REQUEST (stun-client): all three of its form. */
	len = request(req, true, 0, false, 0);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_int_equal(msg.nattrs, 3);
	assert_non_null(stun_msg_find(&msg, STUN_ATTR_CHANGED_ADDRESS));
	assert_non_null(stun_msg_find(&msg, STUN_ATTR_SOURCE_ADDRESS));
	/* Bare RFC 3489 request: MAPPED-ADDRESS only. */
	len = request(req, true, 0xffffffff, false, 0);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_int_equal(msg.nattrs, 1);
	assert_non_null(stun_msg_find(&msg, STUN_ATTR_MAPPED_ADDRESS));
	/* IPv6: a bare request cannot get even XOR-MAPPED (44 > 40): silence
	 * over UDP, an answer over TCP; with FINGERPRINT (28) it fits. */
	v6(&from6, "2001:db8::5", 40000);
	len = request(req, false, 0xffffffff, false, 0);
	assert_int_equal(ask_from(&s, 0, false, &from6, req, len, &msg, out, &send_sock),
			 RDV_STUN_TOO_SMALL);
	assert_int_equal(ask_from(&s, 0, true, &from6, req, len, &msg, out, &send_sock),
			 RDV_STUN_ANSWERED);
	len = request(req, true, 0xffffffff, false, 0);
	assert_int_equal(ask_from(&s, 0, false, &from6, req, len, &msg, out, &send_sock),
			 RDV_STUN_TOO_SMALL);
	len = request(req, false, 0xffffffff, true, 0);
	assert_int_equal(ask_from(&s, 0, false, &from6, req, len, &msg, out, &send_sock),
			 RDV_STUN_ANSWERED);
	/* 44 bytes, then the alternate (IPv4) OTHER-ADDRESS fits (56). */
	assert_int_equal(msg.nattrs, 2);
	assert_non_null(stun_msg_find(&msg, STUN_ATTR_OTHER_ADDRESS));
	assert_false(msg.has_fingerprint);
	assert_non_null(stun_msg_find(&msg, STUN_ATTR_XOR_MAPPED_ADDRESS));
}

/* Every kind of request we answer, from IPv4 and IPv6, each socket, with
 * and without an alternate: the answer is at most 2x (asserted in
 * ask_from), and the largest ratio is printed. */
static void test_rdv_stun_answer_ratio(void **state)
{
	static const uint16_t extras[] = {0, 0x0033, STUN_ATTR_RESPONSE_PORT, 0x8077};
	static const size_t pads[] = {0, 4, 8, 16, 40, 100};
	struct rdv_stun_server s;
	uint8_t req[512], out[512];
	struct sockaddr_storage from[2];
	struct stun_msg msg;
	unsigned send_sock, answered = 0;

	v4(&from[0], "198.51.100.5", 40000);
	v6(&from[1], "2001:db8::5", 40000);
	for (int alt = 0; alt < 2; alt++) {
		server(&s, alt);
		for (unsigned k = 0; k < 2 * 2 * 5 * 2 * 4; k++) {
			bool rfc3489 = k & 1, fp = k & 2;
			uint32_t change = (k >> 2) % 5 == 4 ? 0xffffffff : ((k >> 2) % 5) * 2;
			const struct sockaddr_storage *f = &from[(k / 20) & 1];
			uint16_t extra = extras[(k / 40) % 4];

			for (unsigned sock = 0; sock < (alt ? 4u : 2u); sock++) {
				size_t len = request(req, rfc3489, change, fp, extra);

				answered += ask_from(&s, sock, false, f, req, len, &msg, out,
						     &send_sock) == RDV_STUN_ANSWERED;
				for (size_t p = 0; p < sizeof(pads) / sizeof(pads[0]); p++) {
					len = request_padded(req, rfc3489, change, fp, pads[p]);
					answered += ask_from(&s, sock, false, f, req, len, &msg,
							     out, &send_sock) == RDV_STUN_ANSWERED;
				}
			}
		}
	}
	assert_true(answered > 500);
	assert_true(worst_out <= 2 * worst_in);
	printf("largest STUN answer/request over UDP: %zu/%zu bytes = %.2fx (%u answers)\n",
	       worst_out, worst_in, (double)worst_out / (double)worst_in, answered);
}

static struct rdv_stun_limits test_limits = {
    .per_ip_rate = 10, .per_ip_burst = 5, .global_rate = 100, .global_burst = 20};

static unsigned allowed(struct rdv_stun_limiter *l, const struct sockaddr_storage *from, unsigned n,
			uint64_t now)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += rdv_stun_limiter_allow(l, from, now);
	return ok;
}

static void test_rdv_stun_limiter_per_ip(void **state)
{
	static struct rdv_stun_limiter l;
	struct sockaddr_storage a, b, a_mapped, a6;

	rdv_stun_limiter_init(&l, &test_limits);
	v4(&a, "198.51.100.5", 1000);
	v4(&b, "198.51.100.6", 1000);
	v6(&a_mapped, "::ffff:198.51.100.5", 2000);
	v6(&a6, "2001:db8::5", 1000);
	/* Burst, then refused. */
	assert_int_equal(allowed(&l, &a, 50, 1000), 5);
	/* The same IP from another port, or v4-mapped: the same source. */
	assert_int_equal(allowed(&l, &a_mapped, 5, 1000), 0);
	/* Another IP has its own bucket. */
	assert_int_equal(allowed(&l, &b, 50, 1000), 5);
	assert_int_equal(allowed(&l, &a6, 50, 1000), 5);
	/* Refill: 10/s gives one every 100 ms, never above the burst. */
	assert_int_equal(allowed(&l, &a, 5, 1099), 0);
	assert_int_equal(allowed(&l, &a, 5, 1100), 1);
	assert_int_equal(allowed(&l, &a, 50, 1600), 5);
	assert_int_equal(allowed(&l, &a, 50, 60000), 5);
}

static void test_rdv_stun_limiter_global(void **state)
{
	static struct rdv_stun_limiter l;
	struct sockaddr_storage from;
	unsigned ok = 0;
	char ip[32];

	rdv_stun_limiter_init(&l, &test_limits);
	/* 200 sources, one request each: the global burst (20) ends it. */
	for (unsigned i = 0; i < 200; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%u", i);
		v4(&from, ip, 1000);
		ok += rdv_stun_limiter_allow(&l, &from, 5000);
	}
	assert_int_equal(ok, 20);
	/* One second later 100 more, whatever the number of sources. */
	ok = 0;
	for (unsigned i = 0; i < 250; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%u", i);
		v4(&from, ip, 1000);
		ok += rdv_stun_limiter_allow(&l, &from, 6000);
	}
	assert_int_equal(ok, 20); /* refilled to the burst, not beyond */
	/* A source over its own limit does not spend the global budget. */
	rdv_stun_limiter_init(&l, &test_limits);
	v4(&from, "198.51.100.7", 1);
	assert_int_equal(allowed(&l, &from, 1000, 5000), 5);
	ok = 0;
	for (unsigned i = 0; i < 100; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%u", i);
		v4(&from, ip, 1000);
		ok += rdv_stun_limiter_allow(&l, &from, 5000);
	}
	assert_int_equal(ok, 15);
}

/* More sources than the table holds: old entries are replaced, lookups of
 * recent ones still find their own bucket. */
static void test_rdv_stun_limiter_full_table(void **state)
{
	static struct rdv_stun_limiter l;
	struct rdv_stun_limits lim = {
	    .per_ip_rate = 1, .per_ip_burst = 2, .global_rate = 1000000, .global_burst = 1000000};
	struct sockaddr_storage from;
	char ip[48];

	rdv_stun_limiter_init(&l, &lim);
	for (unsigned i = 0; i < 3 * RDV_STUN_SETS * RDV_STUN_WAYS; i++) {
		snprintf(ip, sizeof(ip), "2001:db8::%x:%x", i >> 16, i & 0xffff);
		v6(&from, ip, 1);
		assert_int_equal(allowed(&l, &from, 3, 1000 + i), 2);
	}
	/* The last source is still known: refused at once, served after 1 s. */
	assert_int_equal(allowed(&l, &from, 1, 1000 + 3 * RDV_STUN_SETS * RDV_STUN_WAYS - 1), 0);
	assert_int_equal(allowed(&l, &from, 1, 2000 + 3 * RDV_STUN_SETS * RDV_STUN_WAYS), 1);
}

static int setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rdv_stun_answer_change_matrix),
	    cmocka_unit_test(test_rdv_stun_answer_wildcard_matrix),
	    cmocka_unit_test(test_rdv_stun_answer_wildcard_no_partner),
	    cmocka_unit_test(test_rdv_stun_answer_without_alternate),
	    cmocka_unit_test(test_rdv_stun_answer_rfc3489),
	    cmocka_unit_test(test_rdv_stun_answer_errors),
	    cmocka_unit_test(test_rdv_stun_answer_silence),
	    cmocka_unit_test(test_rdv_stun_answer_priority),
	    cmocka_unit_test(test_rdv_stun_answer_ratio),
	    cmocka_unit_test(test_rdv_stun_limiter_per_ip),
	    cmocka_unit_test(test_rdv_stun_limiter_global),
	    cmocka_unit_test(test_rdv_stun_limiter_full_table),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
