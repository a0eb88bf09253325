/* Value parsers shared by the config files and p2pvpnctl. Each takes one
 * already-trimmed token and either fills its output completely or returns
 * false without a partial result. They are strict on purpose: a typo such as
 * "10.0.0.1/240" or "yes please" must be an error, never a guess. Only
 * cfg_resolve_endpoint touches the network. */
#include "config/parse.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/addr.h"

/* "255.255.255.255" and the longest IPv6 text both fit, with room to spare. */
enum { ADDR_TEXT_MAX = 64, HOST_TEXT_MAX = 254 };

bool cfg_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	size_t i;

	/* Leading zeros are refused so that "0x10" or "010" never look valid. */
	if (!s[0] || (s[0] == '0' && s[1]))
		return false;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

bool cfg_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return true;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Copies s[0..len) into buf as a string; false when it does not fit. */
static bool copy_part(char *buf, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return true;
}

static bool parse_ip(const char *s, int family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	return inet_pton(family, s, addr) == 1;
}

bool cfg_parse_prefix(const char *s, bool allow_host_bits, struct cfg_prefix *out)
{
	char buf[ADDR_TEXT_MAX];
	const char *slash = strchr(s, '/');
	struct cfg_prefix p = {0};
	unsigned plen, max;

	if (!copy_part(buf, sizeof(buf), s, slash ? (size_t)(slash - s) : strlen(s)))
		return false;
	p.family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (!parse_ip(buf, p.family, p.addr))
		return false;
	max = p.family == AF_INET ? 32 : 128;
	plen = max;
	if (slash && !cfg_parse_uint(slash + 1, 0, max, &plen))
		return false;
	p.plen = (uint8_t)plen;
	if (!allow_host_bits) {
		/* A route to 10.0.0.5/24 is ambiguous: the user meant either the
		 * host or the network, so make them say which. */
		struct cfg_prefix net = p;

		for (unsigned bit = plen; bit < max; bit++)
			net.addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
		if (memcmp(net.addr, p.addr, sizeof(p.addr)))
			return false;
	}
	*out = p;
	return true;
}

bool cfg_parse_address(const char *s, struct sockaddr_storage *out)
{
	struct sockaddr_storage ss;
	uint8_t addr[16];

	memset(&ss, 0, sizeof(ss));
	if (parse_ip(s, AF_INET, addr)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
	} else if (parse_ip(s, AF_INET6, addr)) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
	} else {
		return false;
	}
	*out = ss;
	return true;
}

bool cfg_parse_endpoint(const char *s, struct sockaddr_storage *out)
{
	char host[ADDR_TEXT_MAX];
	struct sockaddr_storage ss;
	const char *colon;
	unsigned port;
	uint8_t addr[16];

	if (s[0] == '[') {
		/* IPv6 needs brackets: "[fd00::1]:51820", as in wg(8). */
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':' ||
		    !copy_part(host, sizeof(host), s + 1, (size_t)(close - s - 1)) ||
		    !parse_ip(host, AF_INET6, addr))
			return false;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || !copy_part(host, sizeof(host), s, (size_t)(colon - s)) ||
		    !parse_ip(host, AF_INET, addr))
			return false;
	}
	if (!cfg_parse_uint(colon + 1, 1, 65535, &port) || !cfg_parse_address(host, &ss))
		return false;
	addr_set_port(&ss, (uint16_t)port);
	*out = ss;
	return true;
}

bool cfg_parse_ifname(const char *s)
{
	size_t len = strlen(s);

	/* The kernel's dev_valid_name(): below IFNAMSIZ, not "." or "..", no
	 * '/', ':' or white space. Non-printing bytes are refused as well so a
	 * name is always safe to show in logs. */
	if (len == 0 || len >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == '/' || s[i] == ':')
			return false;
	return true;
}

/* RFC 1123 host name syntax. The last label must not be all digits, so that
 * a mistyped address such as 10.0.0.300 is refused instead of sent to DNS. */
static bool valid_hostname(const char *h)
{
	size_t len = strlen(h), label = 0;
	bool digits_only = true;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = h[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			if (c == '\0')
				break;
			label = 0;
			digits_only = true;
			continue;
		}
		if (!isalnum((unsigned char)c) && !(c == '-' && label > 0))
			return false;
		if (!isdigit((unsigned char)c))
			digits_only = false;
		if (++label > 63)
			return false;
	}
	return !digits_only;
}

/* Splits "HOST:PORT"; false unless both parts are valid. */
static bool split_hostport(const char *s, char host[HOST_TEXT_MAX], unsigned *port)
{
	const char *colon = strrchr(s, ':');

	return colon && copy_part(host, HOST_TEXT_MAX, s, (size_t)(colon - s)) &&
	       valid_hostname(host) && cfg_parse_uint(colon + 1, 1, 65535, port);
}

bool cfg_parse_hostport(const char *s)
{
	char host[HOST_TEXT_MAX];
	unsigned port;

	return split_hostport(s, host, &port);
}

int cfg_resolve_endpoint(const char *s, struct sockaddr_storage *out)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC,
	    .ai_socktype = SOCK_DGRAM,
	    .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG,
	};
	struct addrinfo *res = NULL;
	char host[HOST_TEXT_MAX], portstr[8];
	unsigned port;
	int rc;

	if (cfg_parse_endpoint(s, out))
		return 0;
	if (!split_hostport(s, host, &port))
		return EAI_NONAME;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc)
		return rc;
	/* The first answer is the one the resolver prefers (RFC 6724 order). */
	if ((res->ai_family != AF_INET && res->ai_family != AF_INET6) ||
	    res->ai_addrlen > sizeof(*out)) {
		freeaddrinfo(res);
		return EAI_FAMILY;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

void cfg_prefix_to_string(const struct cfg_prefix *p, char *buf, size_t len)
{
	char addr[ADDR_TEXT_MAX];

	if (!inet_ntop(p->family, p->addr, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "?");
	snprintf(buf, len, "%s/%u", addr, p->plen);
}

static_assert((int)CFG_ENDPOINT_STRLEN >= (int)ADDR_STRLEN, "an endpoint's text fits");

void cfg_endpoint_to_string(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	addr_format(buf, len, ss);
}

bool cfg_prefix_contains(const struct cfg_prefix *outer, const struct cfg_prefix *inner)
{
	unsigned full, rest;

	if (outer->family != inner->family || outer->plen > inner->plen)
		return false;
	full = outer->plen / 8;
	rest = outer->plen % 8;
	if (memcmp(outer->addr, inner->addr, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xffu << (8 - rest));

		return (outer->addr[full] & mask) == (inner->addr[full] & mask);
	}
	return true;
}

bool cfg_prefix_overlaps(const struct cfg_prefix *a, const struct cfg_prefix *b)
{
	/* Two prefixes overlap exactly when one contains the other. */
	return cfg_prefix_contains(a, b) || cfg_prefix_contains(b, a);
}

bool cfg_endpoint_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	/* Two unset endpoints (AF_UNSPEC) are the same setting. */
	if (!addr_is_ip(a) || !addr_is_ip(b))
		return a->ss_family == b->ss_family;
	return addr_equal(a, b);
}

bool cfg_endpoint_is_unicast(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		uint32_t a = ntohl(sin->sin_addr.s_addr);

		return sin->sin_port && a != INADDR_ANY && a != INADDR_BROADCAST &&
		       !IN_MULTICAST(a);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		return sin6->sin6_port && !IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) &&
		       !IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr);
	}
	return false;
}
