/* A Noise Protocol Framework engine (noise.md revision 34) for the suite
 * 25519_ChaChaPoly_BLAKE2b: X25519, ChaCha20-Poly1305 (IETF, nonce = 4 zero
 * bytes || little-endian 64-bit n) and BLAKE2b with HMAC-based HKDF. The
 * handshake pattern and psk modifiers are read from the protocol name, e.g.
 * "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b" or "Noise_IKpsk0+psk2_...". Supported
 * patterns: N, K, X, NN, NK, NX, XN, XK, XX, KN, KK, KX, IN, IK, IX, each with
 * any set of pskN modifiers. No heap allocation, no I/O; every structure may be
 * copied by value (the handshake daemon keeps half-done states that way). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	NOISE_DH_LEN = 32,
	NOISE_KEY_LEN = 32,
	NOISE_HASH_LEN = 64,
	NOISE_TAG_LEN = 16,
	NOISE_PSK_LEN = 32,
	NOISE_MAX_MSG_LEN = 65535,
	NOISE_MAX_MESSAGES = 3, /* the longest supported pattern (XX, IX, KX...) */
	NOISE_MAX_TOKENS = 8,	/* tokens of one message, psk tokens included */
	NOISE_MAX_PSKS = 4,
};

/* CipherState (noise.md 5.1). n = 2^64-1 is reserved: once reached every
 * encrypt and decrypt fails and the state must be thrown away. */
struct noise_cipher {
	uint8_t k[NOISE_KEY_LEN];
	uint64_t n;
	bool has_key;
};

/* SymmetricState (noise.md 5.2). */
struct noise_symmetric {
	struct noise_cipher cs;
	uint8_t ck[NOISE_HASH_LEN];
	uint8_t h[NOISE_HASH_LEN];
};

/* HandshakeState (noise.md 5.3) with the token table of its pattern. Treat
 * the fields as private; use the functions below. */
struct noise_handshake {
	struct noise_symmetric sym;
	uint8_t s_priv[NOISE_DH_LEN], s_pub[NOISE_DH_LEN];
	uint8_t e_priv[NOISE_DH_LEN], e_pub[NOISE_DH_LEN];
	uint8_t rs[NOISE_DH_LEN], re[NOISE_DH_LEN];
	uint8_t psks[NOISE_MAX_PSKS][NOISE_PSK_LEN];
	uint8_t tokens[NOISE_MAX_MESSAGES][NOISE_MAX_TOKENS]; /* 0-terminated per message */
	uint8_t n_messages, msg_index;
	uint8_t n_psks, psk_next;
	bool initiator, has_s, has_e, has_rs, has_re, fixed_e, psks_set, psk_mode, failed;
};

/* Sets up a handshake for protocol_name (0 or -EPROTONOSUPPORT / -EINVAL).
 * s_priv is our static private key, rs_pub the peer's static public key when
 * known beforehand; both are required exactly when the pattern's pre-messages
 * or tokens need them. psks are consumed in psk-token order; pass psks = NULL,
 * n_psks = 0 to supply them later with noise_handshake_set_psks. fixed_e_priv
 * replaces the random ephemeral (test vectors only). */
int noise_handshake_init(struct noise_handshake *hs, const char *protocol_name, bool initiator,
			 const uint8_t *prologue, size_t prologue_len, const uint8_t *s_priv,
			 const uint8_t *rs_pub, const uint8_t (*psks)[NOISE_PSK_LEN], size_t n_psks,
			 const uint8_t *fixed_e_priv) __attribute__((warn_unused_result));
/* Supplies the psks late (a responder that learns who the peer is from the
 * first message); 0, or -EINVAL when n_psks does not match the pattern. */
int noise_handshake_set_psks(struct noise_handshake *hs, const uint8_t (*psks)[NOISE_PSK_LEN],
			     size_t n_psks) __attribute__((warn_unused_result));
/* Writes the next handshake message carrying payload into out. -EPROTO when it
 * is not our turn, -EMSGSIZE when out_cap is too small (state unchanged), other
 * errors leave the handshake failed. payload and out must not overlap. */
int noise_write_message(struct noise_handshake *hs, const uint8_t *payload, size_t payload_len,
			uint8_t *out, size_t out_cap, size_t *out_len)
    __attribute__((warn_unused_result));
/* Reads the next handshake message and decrypts its payload into payload_out.
 * Any error (-EBADMSG for a malformed or unauthentic message, -EKEYREJECTED
 * for a low-order key) leaves the handshake failed and unusable. */
int noise_read_message(struct noise_handshake *hs, const uint8_t *msg, size_t msg_len,
		       uint8_t *payload_out, size_t payload_cap, size_t *payload_len)
    __attribute__((warn_unused_result));
/* True once every message of the pattern has been written or read. */
bool noise_handshake_is_complete(const struct noise_handshake *hs);
/* True when the next message is ours to write (false when complete/failed). */
bool noise_handshake_is_my_turn(const struct noise_handshake *hs);
/* Split (noise.md 5.2) of a complete handshake: the cipher for messages from
 * initiator to responder and the one for the other direction; -EINVAL if not
 * complete. Either output may be NULL (one-way patterns). */
int noise_handshake_split(const struct noise_handshake *hs, struct noise_cipher *i_to_r,
			  struct noise_cipher *r_to_i) __attribute__((warn_unused_result));
/* The handshake hash h (for channel binding once complete). */
void noise_handshake_hash(const struct noise_handshake *hs, uint8_t out[NOISE_HASH_LEN]);
/* Copies the peer's static public key; false while it is not known. */
bool noise_handshake_remote_static(const struct noise_handshake *hs, uint8_t out[NOISE_DH_LEN])
    __attribute__((warn_unused_result));
/* Wipes every key and hash in hs. */
void noise_handshake_cleanup(struct noise_handshake *hs);

/* EncryptWithAd: writes len + NOISE_TAG_LEN bytes to out (len bytes, copied,
 * without a key). In place (out == pt) is allowed. -EOVERFLOW at n = 2^64-1. */
int noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
			 const uint8_t *pt, size_t len, uint8_t *out)
    __attribute__((warn_unused_result));
/* DecryptWithAd: writes ct_len - NOISE_TAG_LEN bytes to out. -EBADMSG when
 * the tag does not verify (n unchanged), -EOVERFLOW at n = 2^64-1. */
int noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
			 const uint8_t *ct, size_t ct_len, uint8_t *out)
    __attribute__((warn_unused_result));
/* REKEY (noise.md 4.2 / 11.3): k = ENCRYPT(k, 2^64-1, "", zeros)[0..32]; n kept.
 * 0, or -EIO when libsodium fails (the cipher is then wiped and unusable). */
int noise_cipher_rekey(struct noise_cipher *c) __attribute__((warn_unused_result));
/* Wipes the key. */
void noise_cipher_cleanup(struct noise_cipher *c);

/* HMAC-BLAKE2b (RFC 2104 over BLAKE2b-512, block 128 bytes); key_len <= 128.
 * 0, or -EIO when libsodium fails (out is then zeroed). */
int noise_hmac(uint8_t out[NOISE_HASH_LEN], const uint8_t *key, size_t key_len, const uint8_t *data,
	       size_t data_len) __attribute__((warn_unused_result));
/* HKDF of noise.md 4.3 with HMAC-BLAKE2b: n_out (2 or 3) outputs of 64 bytes
 * chained from chaining_key; out2/out3 may be NULL when not wanted. 0, or -EIO
 * when libsodium fails (no output is written then, so ck stays as it was). */
int noise_hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikm_len,
	       uint8_t out1[NOISE_HASH_LEN], uint8_t *out2, uint8_t *out3)
    __attribute__((warn_unused_result));
