/* Header checks on inner packets. A peer that passed the AEAD check is still
 * not trusted to send a sane IP header: the length fields must agree with the
 * bytes that were decrypted before the packet reaches the kernel, and the
 * stated length tells where the sender's padding starts. Fields are read
 * byte by byte, so any alignment of pkt is fine. */
#include "routing/inner.h"

#include <string.h>
#include <sys/socket.h>

enum {
	IPV4_MIN_HDR = 20,
	IPV6_HDR = 40,
	IPV4_SRC = 12,
	IPV4_DST = 16,
	IPV6_SRC = 8,
	IPV6_DST = 24,
};

static unsigned be16_at(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static bool drop(struct rt_inner *out, enum rt_inner_drop why)
{
	out->drop = why;
	return false;
}

static bool parse4(const uint8_t *pkt, size_t len, struct rt_inner *out)
{
	size_t ihl, tot;

	if (len < IPV4_MIN_HDR)
		return drop(out, RT_INNER_TOO_SHORT);
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < IPV4_MIN_HDR)
		return drop(out, RT_INNER_BAD_IHL);
	tot = be16_at(pkt + 2);
	/* Options must fit inside the stated length, and the stated length
	 * inside what we received: the kernel would otherwise read padding
	 * (or nothing) as packet. */
	if (tot < ihl || tot > len)
		return drop(out, RT_INNER_BAD_LENGTH);
	out->family = AF_INET;
	out->src = pkt + IPV4_SRC;
	out->dst = pkt + IPV4_DST;
	out->ip_len = tot;
	return true;
}

static bool parse6(const uint8_t *pkt, size_t len, struct rt_inner *out)
{
	size_t tot;

	if (len < IPV6_HDR)
		return drop(out, RT_INNER_TOO_SHORT);
	/* Payload length 0 would announce a jumbogram (RFC 2675); those never
	 * fit a tunnel MTU, so it is read as an empty payload. */
	tot = IPV6_HDR + be16_at(pkt + 4);
	if (tot > len)
		return drop(out, RT_INNER_V6_LENGTH);
	out->family = AF_INET6;
	out->src = pkt + IPV6_SRC;
	out->dst = pkt + IPV6_DST;
	out->ip_len = tot;
	return true;
}

bool rt_inner_parse(const uint8_t *pkt, size_t len, struct rt_inner *out)
{
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return drop(out, RT_INNER_TOO_SHORT);
	switch (pkt[0] >> 4) {
	case 4:
		return parse4(pkt, len, out);
	case 6:
		return parse6(pkt, len, out);
	default:
		return drop(out, RT_INNER_BAD_VERSION);
	}
}

bool rt_packet_dst(const uint8_t *pkt, size_t len, int *family, const uint8_t **dst)
{
	if (len >= IPV4_MIN_HDR && pkt[0] >> 4 == 4) {
		*family = AF_INET;
		*dst = pkt + IPV4_DST;
		return true;
	}
	if (len >= IPV6_HDR && pkt[0] >> 4 == 6) {
		*family = AF_INET6;
		*dst = pkt + IPV6_DST;
		return true;
	}
	return false;
}

const char *rt_inner_drop_str(enum rt_inner_drop why)
{
	static const char *const names[RT_INNER_DROP_MAX] = {
	    [RT_INNER_OK] = "ok",
	    [RT_INNER_TOO_SHORT] = "too_short",
	    [RT_INNER_BAD_VERSION] = "bad_version",
	    [RT_INNER_BAD_IHL] = "bad_ihl",
	    [RT_INNER_BAD_LENGTH] = "bad_length",
	    [RT_INNER_V6_LENGTH] = "v6_length",
	};

	return (unsigned)why < RT_INNER_DROP_MAX ? names[why] : "unknown";
}
