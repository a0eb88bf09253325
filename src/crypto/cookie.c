/* Cookie replies and mac2, as WireGuard's cookie.c does them but with the
 * project's hash (BLAKE2b, libsodium's crypto_generichash) and libsodium's
 * XChaCha20-Poly1305. The cookie binds a source IP and port to a secret only
 * this daemon knows, so a valid mac2 proves the sender received our reply
 * at that address: spoofed floods cannot produce one. The secret changes
 * every two minutes, so an address once proven stays proven for at most
 * that long; the maker stops using a cookie five seconds early so that one
 * in flight is not refused for being stale. Every libsodium return value is
 * checked: a failure makes the message invalid, never valid. */
#include "crypto/cookie.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>

#include "util/addr.h"
#include "util/be.h"

static const char COOKIE_LABEL[8] = "cookie--";
static const char MAC1_LABEL[8] = "mac1----";

static __attribute__((warn_unused_result)) bool
label_key(const char label[8], const uint8_t pub[COOKIE_KEY_LEN], uint8_t out[COOKIE_KEY_LEN])
{
	uint8_t buf[8 + COOKIE_KEY_LEN];

	memcpy(buf, label, 8);
	memcpy(buf + 8, pub, COOKIE_KEY_LEN);
	/* Not expected to fail for these fixed lengths, but a key we could
	 * not derive must never be used. */
	if (crypto_generichash_blake2b(out, COOKIE_KEY_LEN, buf, sizeof(buf), NULL, 0) != 0) {
		sodium_memzero(out, COOKIE_KEY_LEN);
		return false;
	}
	return true;
}

/* mac1 sits 32 bytes and mac2 16 bytes before the end of both handshake
 * messages; anything else is not a handshake message. */
static bool mac_offsets(const uint8_t *msg, size_t len, size_t *mac1, size_t *mac2)
{
	unsigned type = wire_type_of(msg, len);

	if (!((type == WIRE_HANDSHAKE_INIT && len == WIRE_INIT_LEN) ||
	      (type == WIRE_HANDSHAKE_RESP && len == WIRE_RESP_LEN)))
		return false;
	*mac1 = len - 2 * WIRE_MAC_LEN;
	*mac2 = len - WIRE_MAC_LEN;
	return true;
}

static int keyed_mac(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len,
		     uint8_t out[WIRE_MAC_LEN])
{
	return crypto_generichash_blake2b(out, WIRE_MAC_LEN, msg, len, key, keylen);
}

static void rotate_secret(struct cookie_checker *c, uint64_t now_ms)
{
	if (c->has_secret && now_ms - c->secret_birth_ms < COOKIE_SECRET_MAX_AGE_MS)
		return;
	randombytes_buf(c->secret, sizeof(c->secret));
	c->secret_birth_ms = now_ms;
	c->has_secret = true;
}

/* cookie = BLAKE2b-128(secret, IP || port), port in network order. */
static int make_cookie(struct cookie_checker *c, const struct sockaddr_storage *src,
		       uint64_t now_ms, uint8_t out[WIRE_COOKIE_LEN])
{
	uint16_t port_be = htons(addr_port(src));
	uint8_t buf[16 + 2];
	size_t n;

	rotate_secret(c, now_ms);
	if (src->ss_family == AF_INET) {
		memcpy(buf, &((const struct sockaddr_in *)src)->sin_addr, 4);
		n = 4;
	} else if (src->ss_family == AF_INET6) {
		memcpy(buf, &((const struct sockaddr_in6 *)src)->sin6_addr, 16);
		n = 16;
	} else {
		return -EAFNOSUPPORT;
	}
	memcpy(buf + n, &port_be, 2);
	n += 2;
	return keyed_mac(c->secret, sizeof(c->secret), buf, n, out) == 0 ? 0 : -EIO;
}

void cookie_checker_init(struct cookie_checker *c, const uint8_t our_pub[COOKIE_KEY_LEN])
{
	memset(c, 0, sizeof(*c));
	c->ready = label_key(MAC1_LABEL, our_pub, c->mac1_key) &&
		   label_key(COOKIE_LABEL, our_pub, c->cookie_key);
}

void cookie_checker_cleanup(struct cookie_checker *c)
{
	sodium_memzero(c, sizeof(*c));
}

enum cookie_mac_state cookie_check(struct cookie_checker *c, const uint8_t *msg, size_t len,
				   const struct sockaddr_storage *src, uint64_t now_ms)
{
	uint8_t mac[WIRE_MAC_LEN], cookie[WIRE_COOKIE_LEN];
	enum cookie_mac_state ret = COOKIE_MAC_INVALID;
	size_t off1, off2;

	if (!c->ready || !mac_offsets(msg, len, &off1, &off2))
		return COOKIE_MAC_INVALID;
	if (keyed_mac(c->mac1_key, sizeof(c->mac1_key), msg, off1, mac) != 0 ||
	    sodium_memcmp(mac, msg + off1, WIRE_MAC_LEN) != 0)
		return COOKIE_MAC_INVALID;
	ret = COOKIE_MAC1_OK;
	if (make_cookie(c, src, now_ms, cookie) == 0 &&
	    keyed_mac(cookie, sizeof(cookie), msg, off2, mac) == 0 &&
	    sodium_memcmp(mac, msg + off2, WIRE_MAC_LEN) == 0)
		ret = COOKIE_MAC2_OK;
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

int cookie_reply_create(struct cookie_checker *c, const uint8_t *msg, size_t len,
			const struct sockaddr_storage *src, uint64_t now_ms,
			struct wire_cookie_reply *out)
{
	uint8_t cookie[WIRE_COOKIE_LEN];
	unsigned long long clen = 0;
	size_t off1, off2;
	int ret;

	if (!c->ready || !mac_offsets(msg, len, &off1, &off2))
		return -EINVAL;
	ret = make_cookie(c, src, now_ms, cookie);
	if (ret < 0)
		return ret;
	memset(out, 0, sizeof(*out));
	out->type = WIRE_COOKIE_REPLY;
	/* The sender index sits at offset 4 of both handshake messages; it
	 * goes back as is (little-endian on the wire both ways). */
	memcpy(&out->receiver_index, msg + 4, sizeof(out->receiver_index));
	randombytes_buf(out->nonce, sizeof(out->nonce));
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out->enc_cookie, &clen, cookie,
						       sizeof(cookie), msg + off1, WIRE_MAC_LEN,
						       NULL, out->nonce, c->cookie_key) != 0 ||
	    clen != sizeof(out->enc_cookie))
		ret = -EIO;
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

void cookie_maker_init(struct cookie_maker *m, const uint8_t peer_pub[COOKIE_KEY_LEN])
{
	memset(m, 0, sizeof(*m));
	m->ready = label_key(COOKIE_LABEL, peer_pub, m->cookie_key);
}

void cookie_maker_cleanup(struct cookie_maker *m)
{
	sodium_memzero(m, sizeof(*m));
}

int cookie_maker_stamp(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now_ms)
{
	size_t off1, off2;

	if (!m->ready || !mac_offsets(msg, len, &off1, &off2))
		return -EINVAL;
	memcpy(m->last_mac1, msg + off1, WIRE_MAC_LEN);
	memcpy(m->last_index, msg + 4, sizeof(m->last_index));
	m->reply_expected = true;
	if (m->has_cookie &&
	    now_ms - m->cookie_birth_ms >= COOKIE_SECRET_MAX_AGE_MS - COOKIE_LATENCY_MS) {
		sodium_memzero(m->cookie, sizeof(m->cookie));
		m->has_cookie = false;
	}
	if (!m->has_cookie) {
		memset(msg + off2, 0, WIRE_MAC_LEN);
		return 0;
	}
	if (keyed_mac(m->cookie, sizeof(m->cookie), msg, off2, msg + off2) != 0) {
		memset(msg + off2, 0, WIRE_MAC_LEN);
		return -EIO;
	}
	return 0;
}

bool cookie_reply_receiver_index(const uint8_t *msg, size_t len, uint32_t *index)
{
	if (len != WIRE_COOKIE_REPLY_LEN || wire_type_of(msg, len) != WIRE_COOKIE_REPLY)
		return false;
	*index = le32_get(msg + offsetof(struct wire_cookie_reply, receiver_index));
	return true;
}

int cookie_reply_consume(struct cookie_maker *m, const uint8_t *msg, size_t len, uint64_t now_ms)
{
	struct wire_cookie_reply r;
	uint8_t cookie[WIRE_COOKIE_LEN];
	unsigned long long plen = 0;

	if (len != WIRE_COOKIE_REPLY_LEN || wire_type_of(msg, len) != WIRE_COOKIE_REPLY)
		return -EBADMSG;
	/* Unrequested: only one reply per message we sent. */
	memcpy(&r, msg, sizeof(r));
	if (!m->ready || !m->reply_expected ||
	    memcmp(&r.receiver_index, m->last_index, sizeof(m->last_index)) != 0)
		return -ENOENT;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, &plen, NULL, r.enc_cookie,
						       sizeof(r.enc_cookie), m->last_mac1,
						       WIRE_MAC_LEN, r.nonce, m->cookie_key) != 0 ||
	    plen != sizeof(cookie)) {
		sodium_memzero(cookie, sizeof(cookie));
		return -EACCES;
	}
	memcpy(m->cookie, cookie, sizeof(cookie));
	m->cookie_birth_ms = now_ms;
	m->has_cookie = true;
	m->reply_expected = false;
	sodium_memzero(cookie, sizeof(cookie));
	return 0;
}
