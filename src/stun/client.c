/* STUN client transactions. A transaction is outstanding from start until a
 * matching success or error response arrives or the last retransmission
 * times out; a response counts only if its class is a response, its method
 * Binding and its 16-byte id ours, so that an off-path sender, which cannot
 * guess 96 random bits, cannot feed us a mapped address (SECURITY-NOTES
 * section 6 item 18). The addresses a server names for further tests
 * (OTHER-ADDRESS, CHANGED-ADDRESS) are checked before anyone sends to them:
 * a hostile server must not turn the client into a packet cannon aimed at
 * loopback, multicast or a broadcast address (item 23). */
#include "stun/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "util/addr.h"

/* An address reduced to family, 16-byte IP and port; IPv4 and v4-mapped
 * IPv6 both become AF_INET with the IPv4 address in ip[0..3]. */
struct endpoint {
	int family;
	uint8_t ip[16];
	uint16_t port;
};

static bool endpoint_of(const struct sockaddr_storage *ss, struct endpoint *ep)
{
	struct sockaddr_storage a = *ss;

	memset(ep, 0, sizeof(*ep));
	addr_unmap_v4(&a);
	ep->port = addr_port(&a);
	if (a.ss_family == AF_INET) {
		ep->family = AF_INET;
		memcpy(ep->ip, &((const struct sockaddr_in *)&a)->sin_addr, 4);
		return true;
	}
	if (a.ss_family == AF_INET6) {
		ep->family = AF_INET6;
		memcpy(ep->ip, &((const struct sockaddr_in6 *)&a)->sin6_addr, 16);
		return true;
	}
	return false;
}

bool stun_client_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return addr_equal_host(a, b);
}

bool stun_client_same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return stun_client_same_ip(a, b) && stun_client_port(a) == stun_client_port(b);
}

uint16_t stun_client_port(const struct sockaddr_storage *a)
{
	return addr_port(a);
}

static bool ipv4_is_unsafe(const uint8_t *ip)
{
	return ip[0] == 0 ||			 /* 0.0.0.0/8: "this network" */
	       ip[0] == 127 ||			 /* loopback */
	       (ip[0] == 169 && ip[1] == 254) || /* link-local */
	       ip[0] >= 224;			 /* multicast, reserved, broadcast */
}

static bool ipv6_is_unsafe(const uint8_t *ip)
{
	static const uint8_t zero[16];

	if (memcmp(ip, zero, 15) == 0 && (ip[15] == 0 || ip[15] == 1))
		return true;				  /* :: and ::1 */
	return ip[0] == 0xff ||				  /* multicast */
	       (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80); /* fe80::/10 link-local */
}

bool stun_client_is_safe_target(const struct sockaddr_storage *target,
				const struct sockaddr_storage *server)
{
	struct endpoint t, s;

	if (!endpoint_of(target, &t) || !endpoint_of(server, &s) || t.family != s.family)
		return false;
	if (t.port == 0 || stun_client_same_endpoint(target, server))
		return false;
	return t.family == AF_INET ? !ipv4_is_unsafe(t.ip) : !ipv6_is_unsafe(t.ip);
}

int stun_client_start(struct stun_client_txn *t, const struct sockaddr_storage *server,
		      uint32_t change, uint64_t now_ms, uint32_t rto_ms, unsigned max_sends,
		      uint8_t *buf, size_t cap, size_t *len)
{
	struct stun_builder b;
	int ret;

	memset(t, 0, sizeof(*t));
	if (rto_ms == 0 || max_sends == 0 ||
	    (server->ss_family != AF_INET && server->ss_family != AF_INET6))
		return -EINVAL;
	stun_id_new(t->id);
	t->server = *server;
	t->change = change;
	stun_builder_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, t->id);
	if (change)
		stun_builder_add_change_request(&b, change);
	ret = stun_builder_finish(&b, true, len);
	if (ret)
		return ret;
	t->rto_ms = rto_ms;
	t->max_sends = max_sends;
	t->sends = 1;
	t->deadline_ms = now_ms + rto_ms;
	t->outstanding = true;
	return 0;
}

enum stun_client_timer stun_client_on_timer(struct stun_client_txn *t, uint64_t now_ms)
{
	unsigned shift;

	if (!t->outstanding)
		return STUN_CLIENT_IDLE;
	if (now_ms < t->deadline_ms)
		return STUN_CLIENT_WAIT;
	/* After the last send, the wait before giving up is the same doubled
	 * interval, so the whole transaction lasts rto * (2^max_sends - 1). */
	if (t->sends >= t->max_sends) {
		t->outstanding = false;
		return STUN_CLIENT_TIMEOUT;
	}
	shift = t->sends < 16 ? t->sends : 16;
	t->sends++;
	t->deadline_ms = now_ms + ((uint64_t)t->rto_ms << shift);
	return STUN_CLIENT_RESEND;
}

uint64_t stun_client_next_ms(const struct stun_client_txn *t)
{
	return t->outstanding ? t->deadline_ms : UINT64_MAX;
}

/* A mapped address of 0.0.0.0, :: or port 0 can only come from a broken or
 * hostile server; using it would mislead the classification. */
static bool is_usable_mapped(const struct sockaddr_storage *ss)
{
	struct endpoint ep;
	static const uint8_t zero[16];

	return endpoint_of(ss, &ep) && ep.port != 0 && memcmp(ep.ip, zero, sizeof(zero)) != 0;
}

static void read_success(const struct stun_client_txn *t, const struct stun_msg *msg,
			 struct stun_client_response *out)
{
	if (!stun_msg_get_address(msg, STUN_ATTR_RESPONSE_ORIGIN, &out->origin) &&
	    !stun_msg_get_address(msg, STUN_ATTR_SOURCE_ADDRESS, &out->origin))
		memset(&out->origin, 0, sizeof(out->origin));
	if (stun_msg_get_address(msg, STUN_ATTR_OTHER_ADDRESS, &out->other) ||
	    stun_msg_get_address(msg, STUN_ATTR_CHANGED_ADDRESS, &out->other)) {
		if (!stun_client_is_safe_target(&out->other, &t->server)) {
			memset(&out->other, 0, sizeof(out->other));
			out->other_refused = true;
		}
	}
}

enum stun_client_match stun_client_on_response(struct stun_client_txn *t,
					       const struct stun_msg *msg,
					       const struct sockaddr_storage *from,
					       struct stun_client_response *out)
{
	const uint8_t *reason;
	size_t reason_len;

	if (!t->outstanding || msg->method != STUN_METHOD_BINDING ||
	    (msg->cls != STUN_CLASS_SUCCESS && msg->cls != STUN_CLASS_ERROR) ||
	    memcmp(msg->id, t->id, STUN_ID_LEN) != 0)
		return STUN_CLIENT_IGNORED;
	/* From here on the answer is ours: whatever it says ends the try. */
	t->outstanding = false;
	memset(out, 0, sizeof(*out));
	out->from = *from;
	if (msg->cls == STUN_CLASS_ERROR)
		return stun_msg_get_error(msg, &out->error_code, &reason, &reason_len)
			   ? STUN_CLIENT_ERROR
			   : STUN_CLIENT_INVALID;
	/* RFC 8489 section 6.3.1.1: a success response with unknown
	 * comprehension-required attributes fails the transaction. */
	if (msg->nunknown > 0 || !stun_msg_get_mapped(msg, &out->mapped) ||
	    !is_usable_mapped(&out->mapped)) {
		memset(&out->mapped, 0, sizeof(out->mapped));
		return STUN_CLIENT_INVALID;
	}
	read_success(t, msg, out);
	return STUN_CLIENT_SUCCESS;
}
