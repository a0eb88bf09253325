/* Transport keys and data packets (wire.h: WIRE_DATA), WireGuard-style.
 *
 * A keypair is what one completed handshake yields: a sending and a receiving
 * key for the data cipher the handshake agreed (ChaCha20-Poly1305-IETF, or
 * AES-256-GCM where both ends have AES-NI: about 1.75x as fast here, see
 * README), our receiver index and the peer's, a 64-bit send
 * counter that is also the nonce, and a replay window for what we receive.
 * A peer keeps up to three (struct sess_peer): current, previous (packets still
 * in flight on the old keys) and next (a responder's keypair not yet confirmed
 * by the initiator's first data packet; KCI: until then it could have been
 * made by someone holding only our static key).
 *
 * Data path, no allocation and no copy:
 *
 *   send:  sess_peer_send_keypair() -> sess_encrypt() in place -> transmit;
 *          then sess_keypair_needs_rekey() -> start a handshake if true.
 *   recv:  sess_data_parse_index() -> sess_index_lookup(SESS_INDEX_KEYPAIR)
 *          -> sess_decrypt() in place -> sess_peer_on_received() (true:
 *          handshake complete, send staged packets) -> sess_peer_lastminute_rekey()
 *          -> inner packet checks and TUN write (zero length = keepalive).
 *
 * Limits (SECURITY-NOTES section 1, the kernel's values): rekey after 2^60
 * messages or 120 s (initiator), refuse after 2^64 - 8130 messages or 180 s.
 * Times are milliseconds on CLOCK_BOOTTIME (util/time.h). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "session/index.h"
#include "session/replay.h"
#include "wire/wire.h"

enum {
	SESS_KEY_LEN = 32,
	/* Bytes the caller of sess_encrypt() leaves before and after the inner packet. */
	SESS_HEADROOM = WIRE_DATA_HEADER_LEN,
	SESS_TAILROOM = (WIRE_PAD - 1) + WIRE_TAG_LEN,
	/* Largest inner packet: padded and framed it still fits 65535 bytes (Noise limit). */
	SESS_MAX_INNER_LEN = (65535 - WIRE_DATA_MIN_LEN) / WIRE_PAD * WIRE_PAD,

	SESS_REKEY_AFTER_TIME_MS = 120 * 1000,
	SESS_REJECT_AFTER_TIME_MS = 180 * 1000,
	SESS_REKEY_TIMEOUT_MS = 5 * 1000,
	SESS_KEEPALIVE_TIMEOUT_MS = 10 * 1000,
	/* Receive side, initiator: rekey while the peer can still answer in time. */
	SESS_RECV_REKEY_AFTER_TIME_MS =
	    SESS_REJECT_AFTER_TIME_MS - SESS_KEEPALIVE_TIMEOUT_MS - SESS_REKEY_TIMEOUT_MS,
};

#define SESS_REKEY_AFTER_MESSAGES (1ULL << 60)
#define SESS_REJECT_AFTER_MESSAGES REPLAY_REJECT_AFTER_MESSAGES

/* The data ciphers (the handshake's enum wire_cipher values). */
enum sess_cipher {
	SESS_CIPHER_CHACHA20POLY1305 = WIRE_CIPHER_CHACHA20POLY1305,
	SESS_CIPHER_AES256GCM = WIRE_CIPHER_AES256GCM,
};

/* AES-256-GCM's expanded keys and GHASH tables for one keypair, computed
 * once (crypto_aead_aes256gcm_beforenm) rather than per packet. 1 KiB, so
 * it lives outside struct sess_keypair, in storage of the keypair's owner:
 * a holder of many sessions that never use AES (the rendezvous) does not
 * pay for it. libsodium's state type needs 16-byte alignment. */
struct sess_aes {
	crypto_aead_aes256gcm_state send;
	crypto_aead_aes256gcm_state recv;
};

struct sess_keypair {
	uint8_t send_key[SESS_KEY_LEN];
	uint8_t recv_key[SESS_KEY_LEN];
	enum sess_cipher cipher;
	struct sess_aes *aes;  /* AES-256-GCM: the expanded keys; NULL otherwise */
	uint64_t send_counter; /* next nonce; stops at SESS_REJECT_AFTER_MESSAGES, never wraps */
	struct replay_window replay;
	uint64_t created_ms;
	uint32_t local_index;  /* what the peer puts in packets to us */
	uint32_t remote_index; /* what we put in packets to the peer */
	bool initiator;
	bool can_send; /* responder: only after the first authenticated packet */
	bool valid;    /* false once wiped */
};

/* Fills a keypair from a finished handshake, with ChaCha20-Poly1305; an
 * initiator may send at once. */
void sess_keypair_init(struct sess_keypair *kp, const uint8_t send_key[SESS_KEY_LEN],
		       const uint8_t recv_key[SESS_KEY_LEN], uint32_t local_index,
		       uint32_t remote_index, bool initiator, uint64_t now_ms);
/* Switches a keypair that has sealed nothing yet to cipher; AES-256-GCM
 * needs aes, storage that stays with the keypair until it is wiped (which
 * wipes it too); ChaCha20-Poly1305 ignores it. 0; -ENOTSUP for AES-256-GCM
 * on a CPU without AES-NI and PCLMUL (libsodium has no portable AES-GCM)
 * or without storage; -EINVAL for an unknown cipher or a used keypair.
 * Nothing changes on error. */
int sess_keypair_set_cipher(struct sess_keypair *kp, enum sess_cipher cipher, struct sess_aes *aes)
    __attribute__((warn_unused_result));
/* True when this CPU can run AES-256-GCM (libsodium must be initialised). */
bool sess_cipher_aes256gcm_available(void);
/* "chacha20-poly1305" or "aes-256-gcm". */
const char *sess_cipher_name(enum sess_cipher cipher);
/* Zeroes the whole keypair (keys, counters, window); it is invalid afterwards. */
void sess_keypair_wipe(struct sess_keypair *kp);
/* True once the keypair is REJECT_AFTER_TIME (180 s) old or more: it may
 * neither send nor receive. */
bool sess_keypair_is_expired(const struct sess_keypair *kp, uint64_t now_ms);
/* Send side: true when a new handshake should start (counter past 2^60, or
 * we initiated and the key is 120 s old). */
bool sess_keypair_needs_rekey(const struct sess_keypair *kp, uint64_t now_ms);
/* Receive side, "last minute": true when we initiated this keypair and it is
 * 165 s old, so a new one must be made before it dies at 180 s. */
bool sess_keypair_needs_rekey_on_receive(const struct sess_keypair *kp, uint64_t now_ms);
/* For tests only: sets the next send counter (nonce exhaustion cases). */
void sess_keypair_test_set_send_counter(struct sess_keypair *kp, uint64_t counter);

/* Encrypts in place. inner has SESS_HEADROOM writable bytes before it and
 * SESS_TAILROOM after inner + inner_len. Writes the data header at
 * inner - SESS_HEADROOM, zero-pads to WIRE_PAD (an empty keepalive stays
 * empty), seals, and sets *pkt_len; the packet starts at inner - SESS_HEADROOM.
 * 0; -ENOKEY wiped keypair; -EPERM responder not yet confirmed; -EKEYEXPIRED
 * key 180 s old or counter at the limit (it never wraps); -EMSGSIZE inner_len
 * over SESS_MAX_INNER_LEN. On error nothing is consumed or written. */
int sess_encrypt(struct sess_keypair *kp, uint8_t *inner, size_t inner_len, uint64_t now_ms,
		 size_t *pkt_len);
/* Verifies and decrypts a data packet in place; on 0, *inner points into pkt
 * and *inner_len is the padded plaintext length (0 = keepalive). Keypair state
 * (replay window, can_send) changes only after the tag verified. Errors, one a
 * drop reason: -EINVAL malformed (short, wrong type, reserved bytes);
 * -ENOKEY receiver index not this keypair's or keypair wiped; -EKEYEXPIRED
 * key 180 s old; -EALREADY replayed or too old a counter; -EBADMSG the tag
 * did not verify (the ciphertext in pkt is then zeroed). */
int sess_decrypt(struct sess_keypair *kp, uint8_t *pkt, size_t len, uint64_t now_ms,
		 uint8_t **inner, size_t *inner_len);
/* Authenticates ad[0..ad_len) without a payload (relay frames,
 * rdvproto/proto.h section 3): the keypair's AEAD of an empty plaintext
 * with ad as additional data, under the send key and the next send counter.
 * The counter is the data packets' own, so no nonce serves twice and the
 * receiver's replay window covers both. 0 with *counter and tag set; the
 * errors of sess_encrypt (-ENOKEY, -EPERM, -EKEYEXPIRED). */
int sess_tag(struct sess_keypair *kp, const uint8_t *ad, size_t ad_len, uint64_t now_ms,
	     uint64_t *counter, uint8_t tag[WIRE_TAG_LEN]);
/* Verifies a sess_tag() tag on what we receive; the replay window records
 * counter only after the tag verified. 0; -ENOKEY wiped; -EKEYEXPIRED key
 * 180 s old; -EALREADY replayed or too old a counter; -EBADMSG bad tag. */
int sess_tag_verify(struct sess_keypair *kp, uint64_t counter, const uint8_t *ad, size_t ad_len,
		    const uint8_t tag[WIRE_TAG_LEN], uint64_t now_ms);
/* Parses a data packet's header: true with the receiver index when pkt is a
 * well-formed data packet of at least WIRE_DATA_MIN_LEN bytes. */
bool sess_data_parse_index(const uint8_t *pkt, size_t len, uint32_t *receiver_index)
    __attribute__((warn_unused_result));

/* The keypairs of one peer. Keypairs live inside the struct (no allocation);
 * current/previous/next point into store. When a table is given, each keypair's
 * local index is repointed at it on install and freed when it is dropped. */
struct sess_peer {
	struct sess_keypair store[3];
	struct sess_keypair *current;
	struct sess_keypair *previous;
	struct sess_keypair *next;
	struct sess_index_table *table; /* may be NULL */
	void *owner;			/* stored with the indexes */
	/* NULL: ChaCha20-Poly1305 only. Else the caller's AES storage, one
	 * per store slot, set after sess_peer_init and kept as long as sp. */
	struct sess_aes (*aes)[3];
	bool sent_lastminute; /* one last-minute rekey per keypair */
};

/* Empty peer; table (may be NULL) and owner are used for index bookkeeping. */
void sess_peer_init(struct sess_peer *sp, struct sess_index_table *table, void *owner);
/* Installs a finished handshake's keys. Initiator: it becomes current at once
 * (the old current becomes previous). Responder: it waits in next until the
 * initiator's first data packet arrives on it. local_index must be allocated
 * in the table (it is repointed to the keypair): 0, or -ENOENT. */
int sess_peer_install(struct sess_peer *sp, const uint8_t send_key[SESS_KEY_LEN],
		      const uint8_t recv_key[SESS_KEY_LEN], uint32_t local_index,
		      uint32_t remote_index, bool initiator, uint64_t now_ms);
/* The same with the data cipher the handshake agreed; AES-256-GCM needs the
 * peer's AES storage (sess_peer.aes). Also -ENOTSUP / -EINVAL as
 * sess_keypair_set_cipher (then nothing is installed). */
int sess_peer_install_cipher(struct sess_peer *sp, const uint8_t send_key[SESS_KEY_LEN],
			     const uint8_t recv_key[SESS_KEY_LEN], uint32_t local_index,
			     uint32_t remote_index, bool initiator, enum sess_cipher cipher,
			     uint64_t now_ms);
/* The keypair (current, previous or next) whose local index this is, or NULL. */
struct sess_keypair *sess_peer_find(struct sess_peer *sp, uint32_t local_index);
/* Call after sess_decrypt() succeeded on kp: when kp was next it becomes
 * current (confirmed) and true is returned: the handshake is complete. */
bool sess_peer_on_received(struct sess_peer *sp, struct sess_keypair *kp);
/* The keypair to send with: current when it can send, is not expired and has
 * nonces left; NULL means stage the packet and start a handshake. */
struct sess_keypair *sess_peer_send_keypair(struct sess_peer *sp, uint64_t now_ms);
/* After a packet was received on the current keypair: true once per keypair
 * when its last-minute rekey (initiator, 165 s) is due. */
bool sess_peer_lastminute_rekey(struct sess_peer *sp, uint64_t now_ms);
/* Wipes every keypair and frees their indexes (zero-key timer, peer removal). */
void sess_peer_clear(struct sess_peer *sp);
