/* STUN responder tests (rendezvous/stun_responder.h), with an alternate
 * address and without: the socket each CHANGE-REQUEST is answered from on
 * each of the four sockets, the attributes of the RFC 5389 and RFC 3489
 * forms, 420 for attributes we will not act on, 400 for a change request
 * over TCP, silence for garbage, indications and responses, and the size
 * of every answer against the request that caused it. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "rendezvous/stun_responder.h"
#include "stun/stun.h"

enum { PORT = 3478 };

static void v4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
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

static enum rdv_stun_drop ask(const struct rdv_stun_server *s, unsigned sock, bool tcp,
			      const uint8_t *req, size_t len, struct stun_msg *msg, uint8_t *out,
			      unsigned *send_sock)
{
	struct sockaddr_storage from;
	struct rdv_stun_request r = {
	    .data = req, .len = len, .sock = sock, .tcp = tcp, .from = &from, .local = NULL};
	size_t out_len;
	enum rdv_stun_drop d;

	v4(&from, "198.51.100.5", 40000);
	d = rdv_stun_answer(s, &r, out, 512, &out_len, send_sock);
	if (d == RDV_STUN_ANSWERED) {
		assert_true(stun_msg_parse(msg, out, out_len));
		/* No amplification beyond a few address attributes. */
		assert_true(out_len <= len + 80);
	} else {
		assert_int_equal(out_len, 0);
	}
	return d;
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
			size_t len = request(req, false, change, false, 0);
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

static void test_rdv_stun_answer_without_alternate(void **state)
{
	struct rdv_stun_server s;
	uint8_t req[512], out[512];
	struct stun_msg msg;
	unsigned send_sock;
	size_t len;

	server(&s, false);
	len = request(req, false, 0, true, 0);
	assert_int_equal(ask(&s, 0, false, req, len, &msg, out, &send_sock), RDV_STUN_ANSWERED);
	assert_null(stun_msg_find(&msg, STUN_ATTR_OTHER_ADDRESS));
	assert_null(stun_msg_find(&msg, STUN_ATTR_CHANGED_ADDRESS));
	assert_true(msg.has_fingerprint); /* echoed because the request had one */
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

static int setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rdv_stun_answer_change_matrix),
	    cmocka_unit_test(test_rdv_stun_answer_without_alternate),
	    cmocka_unit_test(test_rdv_stun_answer_rfc3489),
	    cmocka_unit_test(test_rdv_stun_answer_errors),
	    cmocka_unit_test(test_rdv_stun_answer_silence),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
