/* libFuzzer harness for the STUN codec: every input goes through the parser;
 * a message it accepts goes through every decoder, through the client's
 * response matching and the NAT classifier, and is echoed by the builder
 * into a response that must parse back to the same addresses. Any broken
 * invariant aborts, so the fuzzer reports it like a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "stun/client.h"
#include "stun/natclass.h"
#include "stun/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t address_types[] = {
    STUN_ATTR_MAPPED_ADDRESS,	STUN_ATTR_RESPONSE_ADDRESS, STUN_ATTR_SOURCE_ADDRESS,
    STUN_ATTR_CHANGED_ADDRESS,	STUN_ATTR_REFLECTED_FROM,   STUN_ATTR_XOR_MAPPED_ADDRESS,
    STUN_ATTR_ALTERNATE_SERVER, STUN_ATTR_RESPONSE_ORIGIN,  STUN_ATTR_OTHER_ADDRESS,
};
static const uint16_t text_types[] = {
    STUN_ATTR_USERNAME,
    STUN_ATTR_SOFTWARE,
    STUN_ATTR_REALM,
    STUN_ATTR_NONCE,
};

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* Every decoder on the parsed message; values must stay inside the input. */
static void decode_all(const struct stun_msg *msg, const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	const uint8_t *p;
	char text[STUN_TEXT_MAX + 1];
	uint16_t types[STUN_MAX_ATTRS], port;
	uint32_t flags;
	size_t len, n;
	int code;

	for (size_t i = 0; i < msg->nattrs; i++)
		check(msg->attrs[i].offset + msg->attrs[i].len <= size);
	check(msg->nunknown <= msg->nattrs);
	for (size_t i = 0; i < sizeof(address_types) / sizeof(address_types[0]); i++)
		if (stun_msg_get_address(msg, address_types[i], &ss))
			check(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	for (size_t i = 0; i < sizeof(text_types) / sizeof(text_types[0]); i++) {
		if (stun_msg_get_text(msg, text_types[i], &p, &len))
			check(p >= data && p + len <= data + size && len <= STUN_TEXT_MAX);
		if (stun_msg_copy_text(msg, text_types[i], text, sizeof(text)))
			check(strlen(text) <= STUN_TEXT_MAX);
	}
	if (stun_msg_get_mapped(msg, &ss))
		check(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	if (stun_msg_get_change_request(msg, &flags))
		check((flags & ~(uint32_t)(STUN_CHANGE_IP | STUN_CHANGE_PORT)) == 0);
	if (stun_msg_get_response_port(msg, &port))
		check(port != 0);
	if (stun_msg_get_padding(msg, &len))
		check(len + 24 <= size);
	if (stun_msg_get_error(msg, &code, &p, &len))
		check(code >= 300 && code <= 699 && p + len <= data + size);
	if (stun_msg_get_unknown_attributes(msg, types, STUN_MAX_ATTRS, &n))
		check(n <= size / 2);
	if (stun_msg_get_integrity(msg, &p, &len))
		check(len + 24 <= size);
	for (size_t i = 0; i < msg->nattrs; i++)
		(void)stun_attr_name(msg->attrs[i].type);
	(void)stun_class_name(msg->cls);
}

/* Echo as a server would: same id, the addresses, SOFTWARE, the unknown
 * types; the result must parse and give the same mapped address back. */
static void echo(const struct stun_msg *msg)
{
	static uint8_t out[2048];
	struct sockaddr_storage mapped, back;
	struct stun_builder b;
	struct stun_msg again;
	char software[STUN_TEXT_MAX + 1];
	bool has_mapped = stun_msg_get_mapped(msg, &mapped);
	size_t len;

	(void)stun_builder_init(&b, out, sizeof(out), msg->method,
				msg->nunknown ? STUN_CLASS_ERROR : STUN_CLASS_SUCCESS, msg->id);
	if (msg->nunknown) {
		(void)stun_builder_add_error_code(&b, STUN_ERROR_UNKNOWN_ATTRIBUTE,
						  "Unknown Attribute");
		(void)stun_builder_add_unknown_attributes(&b, msg->unknown, msg->nunknown);
	}
	if (has_mapped) {
		(void)stun_builder_add_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped);
		(void)stun_builder_add_address(&b, STUN_ATTR_MAPPED_ADDRESS, &mapped);
	}
	if (stun_msg_copy_text(msg, STUN_ATTR_SOFTWARE, software, sizeof(software)))
		(void)stun_builder_add_text(&b, STUN_ATTR_SOFTWARE, software);
	if (stun_builder_finish(&b, true, &len) != 0)
		return; /* a full buffer is an allowed outcome; a bad message is not */
	check(stun_msg_parse(&again, out, len));
	check(again.has_fingerprint && memcmp(again.id, msg->id, STUN_ID_LEN) == 0);
	if (has_mapped) {
		check(stun_msg_get_mapped(&again, &back));
		check(stun_client_same_endpoint(&back, &mapped));
	}
}

/* The message as an answer to a transaction with its id, then its
 * addresses as test results for the classifier. */
static void classify(const struct stun_msg *msg)
{
	struct stun_client_txn t = {.outstanding = true};
	struct stun_client_response resp;
	struct stun_natclass_input in = {0};
	struct stun_natclass_report r;
	struct sockaddr_in *server = (struct sockaddr_in *)&t.server;
	enum stun_client_match m;

	memcpy(t.id, msg->id, STUN_ID_LEN);
	server->sin_family = AF_INET;
	server->sin_port = htons(3478);
	server->sin_addr.s_addr = htonl(0xC000020A);
	m = stun_client_on_response(&t, msg, &t.server, &resp);
	check(!t.outstanding || m == STUN_CLIENT_IGNORED);
	if (m != STUN_CLIENT_SUCCESS)
		return;
	check(resp.other.ss_family == AF_UNSPEC ||
	      stun_client_is_safe_target(&resp.other, &t.server));
	in.local = resp.mapped;
	in.primary = t.server;
	in.alternate = resp.other;
	for (int i = 0; i < STUN_NATCLASS_TEST_MAX; i++) {
		in.tests[i].outcome = (enum stun_natclass_outcome)((msg->id[4 + i] & 3));
		in.tests[i].order = msg->id[9 + i % 7];
		in.tests[i].mapped = i % 2 ? resp.mapped : resp.origin;
		in.tests[i].from = i % 2 ? resp.origin : resp.other;
	}
	stun_natclass_classify(&in, &r);
	check(r.type < STUN_NATCLASS_TYPE_MAX && r.verdict < STUN_NATCLASS_VERDICT_MAX);
	check(!r.has_port_step || (r.port_step != 0 && abs(r.port_step) <= STUN_NATCLASS_MAX_STEP));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_msg msg;

	if (!stun_msg_parse(&msg, data, size)) {
		check(msg.error != STUN_PARSE_OK && msg.error < STUN_PARSE_ERROR_MAX);
		return 0;
	}
	check(msg.error == STUN_PARSE_OK && msg.nattrs <= STUN_MAX_ATTRS);
	decode_all(&msg, data, size);
	echo(&msg);
	classify(&msg);
	return 0;
}
