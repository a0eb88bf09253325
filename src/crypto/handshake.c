/* The daemon's handshake: Noise_IKpsk2 (run by noise.c) inside the
 * wire/wire.h frames, as WireGuard frames it.
 *
 *   initiator                                   responder
 *   NONE -- hs_create_initiation --> INIT_SENT
 *                 wire_init  ------------------> hs_consume_initiation
 *                                               (caller finds the peer)
 *                                               hs_accept_initiation: NONE|any -> INIT_CONSUMED
 *                                               hs_create_response: -> RESP_SENT
 *   hs_consume_response <---------------------- wire_resp
 *   INIT_SENT -> RESP_CONSUMED
 *   hs_peer_derive_keys: RESP_* -> NONE (keys out, handshake wiped)
 *
 * Every check that costs nothing comes before the one that costs a DH: exact
 * length, type and reserved bytes, then mac1 (keyed with the receiver's public
 * key, so only senders who know it get DH work out of us), then Noise. Every
 * operation that might fail runs on a copy of the Noise state and commits it
 * to the peer only on success, so a forged or broken message never disturbs a
 * handshake in progress. Replays are stopped by the TAI64N timestamp (strictly
 * increasing per peer) and floods by a minimum gap between accepted
 * initiations, the same two rules as WireGuard's noise.c.
 *
 * Error codes: -EBADMSG malformed or unauthentic, -EACCES bad mac1,
 * -EKEYREJECTED low-order key, -ENOENT response not matching an outstanding
 * initiation, -ENOKEY pending initiation for another peer, -EALREADY replayed
 * or old timestamp, -EBUSY initiation flood, -EINVAL wrong state, -EPROTO a
 * response that chose a data cipher we did not offer. */
#include "crypto/handshake.h"

#include <endian.h>
#include <errno.h>
#include <sodium.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "crypto/keys.h"
#include "util/be.h"

/* Noise message 1 (e, es, s, ss + timestamp and offered ciphers) and 2 (e,
 * ee, se, psk + the chosen cipher). */
enum {
	INIT_PAYLOAD_LEN = HS_TAI64N_LEN + 1,
	RESP_PAYLOAD_LEN = 1,
	INIT_NOISE_LEN = 32 + (32 + 16) + (INIT_PAYLOAD_LEN + 16),
	RESP_NOISE_LEN = 32 + (RESP_PAYLOAD_LEN + 16),
	INIT_MAC1_OFF = offsetof(struct wire_init, mac1),
	RESP_MAC1_OFF = offsetof(struct wire_resp, mac1),
	TAI64N_GRAIN_NS = 1 << 24, /* rounddown_pow2(1e9 / INITIATIONS_PER_SECOND) */
};

static_assert(INIT_NOISE_LEN == INIT_MAC1_OFF - offsetof(struct wire_init, ephemeral),
	      "initiation Noise payload fills the frame");
static_assert(RESP_NOISE_LEN == RESP_MAC1_OFF - offsetof(struct wire_resp, ephemeral),
	      "response Noise payload fills the frame");

static const char MAC1_LABEL[8] = "mac1----";

int hs_mac1_key(const uint8_t pub[HS_KEY_LEN], uint8_t out[HS_KEY_LEN])
{
	uint8_t buf[sizeof(MAC1_LABEL) + HS_KEY_LEN];

	memcpy(buf, MAC1_LABEL, sizeof(MAC1_LABEL));
	memcpy(buf + sizeof(MAC1_LABEL), pub, HS_KEY_LEN);
	if (crypto_generichash_blake2b(out, HS_KEY_LEN, buf, sizeof(buf), NULL, 0) != 0) {
		sodium_memzero(out, HS_KEY_LEN);
		return -EIO;
	}
	return 0;
}

int hs_mac1(const uint8_t key[HS_KEY_LEN], const uint8_t *msg, size_t len,
	    uint8_t out[WIRE_MAC_LEN])
{
	if (crypto_generichash_blake2b(out, WIRE_MAC_LEN, msg, len, key, HS_KEY_LEN) != 0) {
		memset(out, 0, WIRE_MAC_LEN);
		return -EIO;
	}
	return 0;
}

static bool mac1_ok(const uint8_t key[HS_KEY_LEN], const uint8_t *msg, size_t off)
{
	uint8_t mac[WIRE_MAC_LEN];

	/* A mac we could not compute verifies nothing. */
	if (hs_mac1(key, msg, off, mac) < 0)
		return false;
	return sodium_memcmp(mac, msg + off, WIRE_MAC_LEN) == 0;
}

static int noise_start(struct noise_handshake *hs, bool initiator, const uint8_t *s_priv,
		       const uint8_t *rs_pub)
{
	return noise_handshake_init(hs, HS_PROTOCOL_NAME, initiator, (const uint8_t *)HS_PROLOGUE,
				    sizeof(HS_PROLOGUE) - 1, s_priv, rs_pub, NULL, 0, NULL);
}

static int set_psk(struct noise_handshake *hs, const uint8_t psk[HS_KEY_LEN])
{
	return noise_handshake_set_psks(hs, (const uint8_t(*)[NOISE_PSK_LEN])psk, 1);
}

bool hs_identity_init(struct hs_identity *id, const uint8_t priv[HS_KEY_LEN])
{
	memset(id, 0, sizeof(*id));
	memcpy(id->s_priv, priv, HS_KEY_LEN);
	if (!key_public(id->s_priv, id->s_pub) || hs_mac1_key(id->s_pub, id->mac1_key) < 0) {
		hs_identity_cleanup(id);
		return false;
	}
	return true;
}

void hs_identity_cleanup(struct hs_identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

bool hs_peer_init(struct hs_peer *peer, const struct hs_identity *id,
		  const uint8_t rs_pub[HS_KEY_LEN], const uint8_t psk[HS_KEY_LEN])
{
	memset(peer, 0, sizeof(*peer));
	/* A low-order static makes es/ss public; talking to ourselves would let a
	 * reflected initiation complete. Both are configuration errors. */
	if (key_is_low_order(rs_pub) || sodium_memcmp(rs_pub, id->s_pub, HS_KEY_LEN) == 0)
		return false;
	memcpy(peer->rs_pub, rs_pub, HS_KEY_LEN);
	if (psk)
		memcpy(peer->psk, psk, HS_KEY_LEN);
	if (hs_mac1_key(rs_pub, peer->mac1_key) < 0) {
		hs_peer_cleanup(peer);
		return false;
	}
	return true;
}

void hs_peer_reset(struct hs_peer *peer)
{
	noise_handshake_cleanup(&peer->noise);
	peer->state = HS_STATE_NONE;
	peer->local_index = 0;
	peer->remote_index = 0;
}

void hs_peer_cleanup(struct hs_peer *peer)
{
	sodium_memzero(peer, sizeof(*peer));
}

void hs_tai64n_now(uint8_t out[HS_TAI64N_LEN])
{
	struct timespec ts;
	uint64_t sec;
	uint32_t nsec;

	/* TAI64N needs the wall clock: it must keep growing across reboots. */
	clock_gettime(CLOCK_REALTIME, &ts);
	sec = htobe64(0x4000000000000000ULL + (uint64_t)ts.tv_sec);
	/* Whitened like WireGuard's: no finer than the 50/s initiation rate. */
	nsec = htobe32((uint32_t)(ts.tv_nsec - ts.tv_nsec % TAI64N_GRAIN_NS));
	memcpy(out, &sec, sizeof(sec));
	memcpy(out + sizeof(sec), &nsec, sizeof(nsec));
}

int hs_create_initiation(const struct hs_identity *id, struct hs_peer *peer, uint32_t local_index,
			 const uint8_t tai64n[HS_TAI64N_LEN], struct wire_init *out)
{
	struct noise_handshake hs;
	uint8_t msg[INIT_NOISE_LEN], payload[INIT_PAYLOAD_LEN];
	size_t len = 0;
	int ret;

	memcpy(payload, tai64n, HS_TAI64N_LEN);
	payload[HS_TAI64N_LEN] = peer->ciphers & HS_CIPHERS_KNOWN;
	ret = noise_start(&hs, true, id->s_priv, peer->rs_pub);
	if (ret == 0)
		ret = set_psk(&hs, peer->psk);
	/* -> e, es, s, ss with the timestamp and our ciphers as payload. */
	if (ret == 0)
		ret = noise_write_message(&hs, payload, sizeof(payload), msg, sizeof(msg), &len);
	if (ret == 0 && len != sizeof(msg))
		ret = -EINVAL;
	if (ret < 0)
		goto out;
	memset(out, 0, sizeof(*out));
	out->type = WIRE_HANDSHAKE_INIT;
	out->sender_index = htole32(local_index);
	memcpy(out->ephemeral, msg, sizeof(out->ephemeral));
	memcpy(out->enc_static, msg + 32, sizeof(out->enc_static));
	memcpy(out->enc_payload, msg + 32 + 48, sizeof(out->enc_payload));
	/* Without a mac1 nobody would answer: fail before the peer changes. */
	ret = hs_mac1(peer->mac1_key, (const uint8_t *)out, INIT_MAC1_OFF, out->mac1);
	if (ret < 0)
		goto out;
	noise_handshake_cleanup(&peer->noise);
	peer->noise = hs;
	peer->state = HS_STATE_INIT_SENT;
	peer->local_index = local_index;
	peer->remote_index = 0;
	peer->offered = payload[HS_TAI64N_LEN];
	peer->cipher = WIRE_CIPHER_CHACHA20POLY1305;
out:
	sodium_memzero(&hs, sizeof(hs));
	sodium_memzero(msg, sizeof(msg));
	return ret;
}

int hs_consume_initiation(const struct hs_identity *id, const uint8_t *msg, size_t len,
			  struct hs_pending *p)
{
	uint8_t payload[INIT_PAYLOAD_LEN];
	size_t plen = 0;
	int ret;

	memset(p, 0, sizeof(*p));
	if (len != WIRE_INIT_LEN || wire_type_of(msg, len) != WIRE_HANDSHAKE_INIT)
		return -EBADMSG;
	/* mac1 before any DH: without our public key, no CPU from us. */
	if (!mac1_ok(id->mac1_key, msg, INIT_MAC1_OFF))
		return -EACCES;
	ret = noise_start(&p->noise, false, id->s_priv, NULL);
	/* <- e, es, s, ss; the psk is needed only for message 2, once the
	 * caller knows which peer this is. */
	if (ret == 0)
		ret = noise_read_message(&p->noise, msg + offsetof(struct wire_init, ephemeral),
					 INIT_NOISE_LEN, payload, sizeof(payload), &plen);
	if (ret == 0 &&
	    (plen != INIT_PAYLOAD_LEN || !noise_handshake_remote_static(&p->noise, p->rs_pub)))
		ret = -EBADMSG;
	if (ret < 0) {
		sodium_memzero(payload, sizeof(payload));
		hs_pending_cleanup(p);
		return ret;
	}
	memcpy(p->timestamp, payload, HS_TAI64N_LEN);
	/* Bits we do not know are a newer peer's offers: not ours to take. */
	p->offered = payload[HS_TAI64N_LEN] & HS_CIPHERS_KNOWN;
	p->sender_index = le32_get(msg + offsetof(struct wire_init, sender_index));
	return 0;
}

void hs_pending_cleanup(struct hs_pending *p)
{
	sodium_memzero(p, sizeof(*p));
}

int hs_accept_initiation(struct hs_peer *peer, struct hs_pending *p, uint64_t now_ms)
{
	int ret = 0;

	if (sodium_memcmp(p->rs_pub, peer->rs_pub, HS_KEY_LEN) != 0)
		ret = -ENOKEY;
	/* Big-endian TAI64N compares as bytes. Equal is a replay too. */
	else if (memcmp(p->timestamp, peer->last_timestamp, HS_TAI64N_LEN) <= 0)
		ret = -EALREADY;
	/* At most INITIATIONS_PER_SECOND per peer, however fresh the stamps. */
	else if (peer->has_last_init && now_ms < peer->last_init_ms + HS_MIN_INITIATION_INTERVAL_MS)
		ret = -EBUSY;
	else
		ret = set_psk(&p->noise, peer->psk);
	if (ret == 0) {
		noise_handshake_cleanup(&peer->noise);
		peer->noise = p->noise;
		memcpy(peer->last_timestamp, p->timestamp, HS_TAI64N_LEN);
		peer->last_init_ms = now_ms;
		peer->has_last_init = true;
		peer->remote_index = p->sender_index;
		peer->local_index = 0;
		peer->state = HS_STATE_INIT_CONSUMED;
		peer->offered = p->offered;
		/* The fastest cipher both offer; ChaCha20-Poly1305 always works. */
		peer->cipher = (p->offered & peer->ciphers & HS_CIPHER_BIT(WIRE_CIPHER_AES256GCM))
				   ? WIRE_CIPHER_AES256GCM
				   : WIRE_CIPHER_CHACHA20POLY1305;
	}
	hs_pending_cleanup(p);
	return ret;
}

int hs_create_response(struct hs_peer *peer, uint32_t local_index, struct wire_resp *out)
{
	struct noise_handshake hs;
	uint8_t msg[RESP_NOISE_LEN], choice;
	size_t len = 0;
	int ret = -EINVAL;

	if (peer->state != HS_STATE_INIT_CONSUMED)
		return -EINVAL;
	hs = peer->noise;
	choice = peer->cipher;
	/* -> e, ee, se, psk with the chosen cipher as payload. */
	ret = noise_write_message(&hs, &choice, sizeof(choice), msg, sizeof(msg), &len);
	if (ret == 0 && (len != sizeof(msg) || !noise_handshake_is_complete(&hs)))
		ret = -EINVAL;
	if (ret < 0)
		goto out;
	memset(out, 0, sizeof(*out));
	out->type = WIRE_HANDSHAKE_RESP;
	out->sender_index = htole32(local_index);
	out->receiver_index = htole32(peer->remote_index);
	memcpy(out->ephemeral, msg, sizeof(out->ephemeral));
	memcpy(out->enc_cipher, msg + 32, sizeof(out->enc_cipher));
	ret = hs_mac1(peer->mac1_key, (const uint8_t *)out, RESP_MAC1_OFF, out->mac1);
	if (ret < 0)
		goto out;
	peer->noise = hs;
	peer->state = HS_STATE_RESP_SENT;
	peer->local_index = local_index;
out:
	sodium_memzero(&hs, sizeof(hs));
	sodium_memzero(msg, sizeof(msg));
	return ret;
}

int hs_consume_response(const struct hs_identity *id, struct hs_peer *peer, const uint8_t *msg,
			size_t len)
{
	struct noise_handshake hs;
	uint8_t choice = 0xff;
	size_t plen = 0;
	int ret;

	if (len != WIRE_RESP_LEN || wire_type_of(msg, len) != WIRE_HANDSHAKE_RESP)
		return -EBADMSG;
	if (!mac1_ok(id->mac1_key, msg, RESP_MAC1_OFF))
		return -EACCES;
	/* Only an answer to our outstanding initiation: this also makes a
	 * duplicate response fail, as the first one moved the state on. */
	if (peer->state != HS_STATE_INIT_SENT ||
	    le32_get(msg + offsetof(struct wire_resp, receiver_index)) != peer->local_index)
		return -ENOENT;
	hs = peer->noise;
	/* <- e, ee, se, psk; the payload is the responder's choice of cipher,
	 * which must be one we offered. */
	ret = noise_read_message(&hs, msg + offsetof(struct wire_resp, ephemeral), RESP_NOISE_LEN,
				 &choice, sizeof(choice), &plen);
	if (ret == 0 && (!noise_handshake_is_complete(&hs) || plen != RESP_PAYLOAD_LEN))
		ret = -EBADMSG;
	if (ret == 0 && choice != WIRE_CIPHER_CHACHA20POLY1305 &&
	    !(choice < WIRE_CIPHER_COUNT && (peer->offered & HS_CIPHER_BIT(choice))))
		ret = -EPROTO;
	if (ret == 0) {
		peer->noise = hs;
		peer->remote_index = le32_get(msg + offsetof(struct wire_resp, sender_index));
		peer->state = HS_STATE_RESP_CONSUMED;
		peer->cipher = choice;
	}
	sodium_memzero(&hs, sizeof(hs));
	return ret;
}

int hs_peer_derive_keys(struct hs_peer *peer, uint8_t send_key[HS_KEY_LEN],
			uint8_t recv_key[HS_KEY_LEN], bool *initiator)
{
	struct noise_cipher i_to_r, r_to_i;
	bool init = peer->state == HS_STATE_RESP_CONSUMED;
	int ret;

	if (peer->state != HS_STATE_RESP_SENT && peer->state != HS_STATE_RESP_CONSUMED)
		return -EINVAL;
	ret = noise_handshake_split(&peer->noise, &i_to_r, &r_to_i);
	if (ret == 0) {
		memcpy(send_key, init ? i_to_r.k : r_to_i.k, HS_KEY_LEN);
		memcpy(recv_key, init ? r_to_i.k : i_to_r.k, HS_KEY_LEN);
		*initiator = init;
	}
	/* The handshake is spent either way; indices stay for the caller. */
	noise_handshake_cleanup(&peer->noise);
	peer->state = HS_STATE_NONE;
	noise_cipher_cleanup(&i_to_r);
	noise_cipher_cleanup(&r_to_i);
	return ret;
}

bool hs_response_receiver_index(const uint8_t *msg, size_t len, uint32_t *index)
{
	if (len != WIRE_RESP_LEN || wire_type_of(msg, len) != WIRE_HANDSHAKE_RESP)
		return false;
	*index = le32_get(msg + offsetof(struct wire_resp, receiver_index));
	return true;
}
