/* Path probes (format and key in probe.h): derivation of the pair's probe
 * key from the two static keys, and sealing and opening of the 92-byte
 * probe. Opening checks the cheap things first (length, type, reserved
 * bytes, pair_id), then the tag, and only then reads the payload, into a
 * local copy: the caller's output changes only for a probe that
 * authenticated and whose every field is well formed. No state, no I/O. */
#include "punch/probe.h"

#include <endian.h>
#include <sodium.h>
#include <string.h>

#include "rdvproto/proto.h"
#include "wire/wire.h"

static const char KEY_LABEL[] = "p2pvpn probe";
static const char PAIR_ID_LABEL[] = "p2pvpn pair id";

static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == PROBE_NONCE_LEN, "nonce size");
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == PROBE_TAG_LEN, "tag size");

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

bool probe_key_derive(const uint8_t our_priv[32], const uint8_t our_pub[32],
		      const uint8_t their_pub[32], struct probe_key *out)
{
	crypto_generichash_state st;
	uint8_t dh[crypto_scalarmult_BYTES];
	const uint8_t *lo = our_pub, *hi = their_pub;
	uint8_t id[crypto_generichash_BYTES];
	bool ok = false;
	int cmp = memcmp(our_pub, their_pub, 32);

	memset(out, 0, sizeof(*out));
	/* A peer with our own key is a configuration mistake; refusing it keeps
	 * the sorted order of the two keys well defined. */
	if (cmp == 0)
		goto out;
	if (cmp > 0) {
		lo = their_pub;
		hi = our_pub;
	}
	/* crypto_scalarmult fails on an all-zero result: a low-order public key
	 * whose DH output an attacker knows without any secret. */
	if (crypto_scalarmult(dh, our_priv, their_pub) != 0)
		goto out;
	/* Any libsodium failure leaves no key (out is wiped at out:). */
	if (crypto_generichash_init(&st, NULL, 0, PROBE_KEY_LEN) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)KEY_LABEL, sizeof(KEY_LABEL) - 1) !=
		0 ||
	    crypto_generichash_update(&st, dh, sizeof(dh)) != 0 ||
	    crypto_generichash_update(&st, lo, 32) != 0 ||
	    crypto_generichash_update(&st, hi, 32) != 0 ||
	    crypto_generichash_final(&st, out->key, PROBE_KEY_LEN) != 0)
		goto out;

	if (crypto_generichash_init(&st, NULL, 0, sizeof(id)) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)PAIR_ID_LABEL,
				      sizeof(PAIR_ID_LABEL) - 1) != 0 ||
	    crypto_generichash_update(&st, out->key, PROBE_KEY_LEN) != 0 ||
	    crypto_generichash_final(&st, id, sizeof(id)) != 0)
		goto out;
	memcpy(out->pair_id, id, PROBE_PAIR_ID_LEN);
	ok = true;
out:
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(&st, sizeof(st));
	if (!ok)
		sodium_memzero(out, sizeof(*out));
	return ok;
}

void probe_key_cleanup(struct probe_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

static bool kind_valid(unsigned kind)
{
	return kind >= PROBE_REQUEST && kind <= PROBE_HEARTBEAT_REPLY;
}

size_t probe_build(const struct probe_key *k, const struct probe_payload *payload,
		   uint8_t out[PROBE_LEN])
{
	struct probe_wire w;
	struct probe_wire_payload pl;

	memset(&pl, 0, sizeof(pl));
	if (!kind_valid(payload->kind) || !rdv_addr_from_sockaddr(&payload->observed, &pl.observed))
		return 0;
	pl.kind = (uint8_t)payload->kind;
	pl.tx_id = htole64(payload->tx_id);
	pl.sender_time_ms = htole64(payload->sender_time_ms);

	memset(&w, 0, sizeof(w));
	w.type = WIRE_PROBE;
	memcpy(w.pair_id, k->pair_id, PROBE_PAIR_ID_LEN);
	randombytes_buf(w.nonce, sizeof(w.nonce));
	/* Detached: ciphertext into sealed, tag after it; AD = the header. */
	if (crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		w.sealed, w.tag, NULL, (const uint8_t *)&pl, sizeof(pl), (const uint8_t *)&w,
		PROBE_HEADER_LEN, NULL, w.nonce, k->key) != 0) {
		/* Nothing half-sealed leaves: the caller sends no probe. */
		sodium_memzero(&pl, sizeof(pl));
		sodium_memzero(&w, sizeof(w));
		return 0;
	}
	memcpy(out, &w, PROBE_LEN);
	sodium_memzero(&pl, sizeof(pl));
	return PROBE_LEN;
}

bool probe_pair_id(const uint8_t *pkt, size_t len, uint8_t pair_id[PROBE_PAIR_ID_LEN])
{
	if (len != PROBE_LEN || pkt[0] != WIRE_PROBE || pkt[1] || pkt[2] || pkt[3])
		return false;
	memcpy(pair_id, pkt + offsetof(struct probe_wire, pair_id), PROBE_PAIR_ID_LEN);
	return true;
}

bool probe_open(const struct probe_key *k, const uint8_t *pkt, size_t len,
		struct probe_payload *out)
{
	struct probe_wire w;
	struct probe_wire_payload pl;
	struct probe_payload res;
	bool ok = false;

	if (len != PROBE_LEN)
		return false;
	memcpy(&w, pkt, PROBE_LEN);
	if (w.type != WIRE_PROBE || !all_zero(w.reserved, sizeof(w.reserved)) ||
	    sodium_memcmp(w.pair_id, k->pair_id, PROBE_PAIR_ID_LEN) != 0)
		return false;
	/* The tag first: nothing of the payload is looked at before it verified. */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		(uint8_t *)&pl, NULL, w.sealed, sizeof(w.sealed), w.tag, (const uint8_t *)&w,
		PROBE_HEADER_LEN, w.nonce, k->key) != 0)
		return false;
	memset(&res, 0, sizeof(res));
	if (!kind_valid(pl.kind) || pl.flags || !all_zero(pl.reserved, sizeof(pl.reserved)) ||
	    !rdv_addr_to_sockaddr_opt(&pl.observed, &res.observed))
		goto out;
	/* A request says nothing about where anything came from. */
	if ((pl.kind == PROBE_REQUEST || pl.kind == PROBE_HEARTBEAT) &&
	    res.observed.ss_family != AF_UNSPEC)
		goto out;
	res.kind = (enum probe_kind)pl.kind;
	res.tx_id = le64toh(pl.tx_id);
	res.sender_time_ms = le64toh(pl.sender_time_ms);
	*out = res;
	ok = true;
out:
	sodium_memzero(&pl, sizeof(pl));
	return ok;
}
