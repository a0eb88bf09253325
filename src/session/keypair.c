/* Transport keypairs: sealing and opening data packets, and the three keypair
 * slots of a peer. Every check that can reject a packet without the key runs
 * first (length, header, index, age, replay pre-check) so junk costs no
 * crypto; the replay window and the responder's send permission change only
 * after the Poly1305 tag verified (Noise: a failed decrypt changes nothing).
 * Nonces are the send counter, which stops at SESS_REJECT_AFTER_MESSAGES and
 * never wraps: reusing a nonce would leak plaintext and, with either cipher,
 * the authentication key. Both data ciphers take the same 96-bit nonce
 * (0x00000000 || counter LE) and a 16-byte tag; with AES-256-GCM the 120 s
 * rekey keeps a key far below GCM's limits (2^32 blocks per message, and
 * well under 2^48 blocks per key at 10 Gbit/s). */
#include "session/keypair.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "util/be.h"

enum { NONCE_LEN = crypto_aead_chacha20poly1305_IETF_NPUBBYTES };
static_assert(NONCE_LEN == crypto_aead_aes256gcm_NPUBBYTES, "both ciphers take 96-bit nonces");
static_assert(WIRE_TAG_LEN == crypto_aead_aes256gcm_ABYTES &&
		  WIRE_TAG_LEN == crypto_aead_chacha20poly1305_IETF_ABYTES,
	      "both ciphers have 16-byte tags");

/* ChaChaPoly nonce (Noise section 12.3): 32 zero bits, then the counter LE. */
static void make_nonce(uint8_t nonce[NONCE_LEN], uint64_t n)
{
	memset(nonce, 0, 4);
	le64_put(nonce + 4, n);
}

/* Encrypts in[0..len) to out (may be in) with ad, writing the tag; 0 or
 * -EINVAL. The one place that knows the ciphers apart. */
static int seal(struct sess_keypair *kp, uint8_t *out, uint8_t tag[WIRE_TAG_LEN], const uint8_t *in,
		size_t len, const uint8_t *ad, size_t ad_len, uint64_t n)
{
	uint8_t nonce[NONCE_LEN];
	int ret;

	make_nonce(nonce, n);
	if (kp->cipher == SESS_CIPHER_AES256GCM)
		ret = crypto_aead_aes256gcm_encrypt_detached_afternm(
		    out, tag, NULL, in, len, ad, ad_len, NULL, nonce, &kp->aes->send);
	else
		ret = crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		    out, tag, NULL, in, len, ad, ad_len, NULL, nonce, kp->send_key);
	return ret == 0 ? 0 : -EINVAL;
}

/* Verifies tag over in[0..len) and ad and decrypts to out (may be in);
 * 0 or -EBADMSG. */
static int open_(struct sess_keypair *kp, uint8_t *out, const uint8_t *in, size_t len,
		 const uint8_t tag[WIRE_TAG_LEN], const uint8_t *ad, size_t ad_len, uint64_t n)
{
	uint8_t nonce[NONCE_LEN];
	int ret;

	make_nonce(nonce, n);
	if (kp->cipher == SESS_CIPHER_AES256GCM)
		ret = crypto_aead_aes256gcm_decrypt_detached_afternm(out, NULL, in, len, tag, ad,
								     ad_len, nonce, &kp->aes->recv);
	else
		ret = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		    out, NULL, in, len, tag, ad, ad_len, nonce, kp->recv_key);
	return ret == 0 ? 0 : -EBADMSG;
}

bool sess_cipher_aes256gcm_available(void)
{
	return crypto_aead_aes256gcm_is_available() == 1;
}

const char *sess_cipher_name(enum sess_cipher cipher)
{
	return cipher == SESS_CIPHER_AES256GCM ? "aes-256-gcm" : "chacha20-poly1305";
}

static uint64_t age_ms(const struct sess_keypair *kp, uint64_t now_ms)
{
	/* CLOCK_BOOTTIME does not go back; if a caller's clock did, call the
	 * key new rather than wrap into a huge age. */
	return now_ms > kp->created_ms ? now_ms - kp->created_ms : 0;
}

void sess_keypair_init(struct sess_keypair *kp, const uint8_t send_key[SESS_KEY_LEN],
		       const uint8_t recv_key[SESS_KEY_LEN], uint32_t local_index,
		       uint32_t remote_index, bool initiator, uint64_t now_ms)
{
	memset(kp, 0, sizeof(*kp));
	memcpy(kp->send_key, send_key, SESS_KEY_LEN);
	memcpy(kp->recv_key, recv_key, SESS_KEY_LEN);
	replay_init(&kp->replay);
	kp->created_ms = now_ms;
	kp->local_index = local_index;
	kp->remote_index = remote_index;
	kp->initiator = initiator;
	/* The responder's keys could come from a replayed or KCI-forged
	 * initiation until the initiator proves itself with data. */
	kp->can_send = initiator;
	kp->valid = true;
}

int sess_keypair_set_cipher(struct sess_keypair *kp, enum sess_cipher cipher, struct sess_aes *aes)
{
	if (!kp->valid || kp->send_counter != 0)
		return -EINVAL;
	switch (cipher) {
	case SESS_CIPHER_CHACHA20POLY1305:
		if (kp->aes)
			sodium_memzero(kp->aes, sizeof(*kp->aes));
		kp->aes = NULL;
		break;
	case SESS_CIPHER_AES256GCM:
		if (!aes || !sess_cipher_aes256gcm_available())
			return -ENOTSUP;
		if (crypto_aead_aes256gcm_beforenm(&aes->send, kp->send_key) != 0 ||
		    crypto_aead_aes256gcm_beforenm(&aes->recv, kp->recv_key) != 0) {
			sodium_memzero(aes, sizeof(*aes));
			return -ENOTSUP;
		}
		kp->aes = aes;
		break;
	default:
		return -EINVAL;
	}
	kp->cipher = cipher;
	return 0;
}

void sess_keypair_wipe(struct sess_keypair *kp)
{
	if (kp->aes)
		sodium_memzero(kp->aes, sizeof(*kp->aes));
	sodium_memzero(kp, sizeof(*kp));
}

bool sess_keypair_is_expired(const struct sess_keypair *kp, uint64_t now_ms)
{
	return age_ms(kp, now_ms) >= SESS_REJECT_AFTER_TIME_MS;
}

bool sess_keypair_needs_rekey(const struct sess_keypair *kp, uint64_t now_ms)
{
	if (!kp->valid)
		return false;
	/* Only the initiator rekeys on time, so both ends do not race to
	 * replace the same keypair (WireGuard send.c keep_key_fresh()). */
	return kp->send_counter > SESS_REKEY_AFTER_MESSAGES ||
	       (kp->initiator && age_ms(kp, now_ms) >= SESS_REKEY_AFTER_TIME_MS);
}

bool sess_keypair_needs_rekey_on_receive(const struct sess_keypair *kp, uint64_t now_ms)
{
	return kp->valid && kp->initiator && age_ms(kp, now_ms) >= SESS_RECV_REKEY_AFTER_TIME_MS;
}

void sess_keypair_test_set_send_counter(struct sess_keypair *kp, uint64_t counter)
{
	kp->send_counter = counter;
}

int sess_encrypt(struct sess_keypair *kp, uint8_t *inner, size_t inner_len, uint64_t now_ms,
		 size_t *pkt_len)
{
	uint8_t *hdr = inner - SESS_HEADROOM;
	size_t padded;
	uint64_t n;
	int ret;

	if (!kp->valid)
		return -ENOKEY;
	if (!kp->can_send)
		return -EPERM;
	if (sess_keypair_is_expired(kp, now_ms) || kp->send_counter >= SESS_REJECT_AFTER_MESSAGES)
		return -EKEYEXPIRED;
	if (inner_len > SESS_MAX_INNER_LEN)
		return -EMSGSIZE;

	/* Take the nonce before sealing: a counter is used at most once even
	 * if sealing failed half-way. */
	n = kp->send_counter++;
	padded = (inner_len + WIRE_PAD - 1) / WIRE_PAD * WIRE_PAD;
	memset(inner + inner_len, 0, padded - inner_len);

	hdr[0] = WIRE_DATA;
	hdr[1] = hdr[2] = hdr[3] = 0;
	le32_put(hdr + 4, kp->remote_index);
	le64_put(hdr + 8, n);
	ret = seal(kp, inner, inner + padded, inner, padded, NULL, 0, n);
	if (ret < 0)
		return ret;
	*pkt_len = SESS_HEADROOM + padded + WIRE_TAG_LEN;
	return 0;
}

int sess_tag(struct sess_keypair *kp, const uint8_t *ad, size_t ad_len, uint64_t now_ms,
	     uint64_t *counter, uint8_t tag[WIRE_TAG_LEN])
{
	uint8_t none[1] = {0}; /* the empty plaintext: a valid pointer all the same */
	uint64_t n;
	int ret;

	if (!kp->valid)
		return -ENOKEY;
	if (!kp->can_send)
		return -EPERM;
	if (sess_keypair_is_expired(kp, now_ms) || kp->send_counter >= SESS_REJECT_AFTER_MESSAGES)
		return -EKEYEXPIRED;
	/* The same rule as sess_encrypt: the nonce is spent before use. */
	n = kp->send_counter++;
	ret = seal(kp, none, tag, none, 0, ad, ad_len, n);
	if (ret < 0)
		return ret;
	*counter = n;
	return 0;
}

int sess_tag_verify(struct sess_keypair *kp, uint64_t counter, const uint8_t *ad, size_t ad_len,
		    const uint8_t tag[WIRE_TAG_LEN], uint64_t now_ms)
{
	uint8_t none[1] = {0};

	if (!kp->valid)
		return -ENOKEY;
	if (sess_keypair_is_expired(kp, now_ms))
		return -EKEYEXPIRED;
	if (!replay_check(&kp->replay, counter))
		return -EALREADY;
	if (open_(kp, none, none, 0, tag, ad, ad_len, counter) < 0)
		return -EBADMSG;
	if (!replay_accept(&kp->replay, counter))
		return -EALREADY;
	/* Like a data packet, an authenticated frame proves the initiator
	 * holds the keys: a responder may send on them now. */
	if (!kp->initiator)
		kp->can_send = true;
	return 0;
}

bool sess_data_parse_index(const uint8_t *pkt, size_t len, uint32_t *receiver_index)
{
	if (len < WIRE_DATA_MIN_LEN || wire_type_of(pkt, len) != WIRE_DATA)
		return false;
	*receiver_index = le32_get(pkt + 4);
	return true;
}

int sess_decrypt(struct sess_keypair *kp, uint8_t *pkt, size_t len, uint64_t now_ms,
		 uint8_t **inner, size_t *inner_len)
{
	uint32_t index;
	uint64_t n;
	size_t clen;

	if (!sess_data_parse_index(pkt, len, &index))
		return -EINVAL;
	if (!kp->valid || index != kp->local_index)
		return -ENOKEY;
	if (sess_keypair_is_expired(kp, now_ms))
		return -EKEYEXPIRED;
	n = le64_get(pkt + 8);
	if (!replay_check(&kp->replay, n))
		return -EALREADY;

	clen = len - WIRE_DATA_MIN_LEN;
	if (open_(kp, pkt + SESS_HEADROOM, pkt + SESS_HEADROOM, clen, pkt + SESS_HEADROOM + clen,
		  NULL, 0, n) < 0)
		return -EBADMSG;

	/* Authenticated: only now may the packet move the window. */
	if (!replay_accept(&kp->replay, n))
		return -EALREADY;
	if (!kp->initiator)
		kp->can_send = true;
	*inner = pkt + SESS_HEADROOM;
	*inner_len = clen;
	return 0;
}

/* Forgets a keypair: its index goes back to the table (only if the table
 * still maps it to this keypair), then keys and window are zeroed. */
static void drop(struct sess_peer *sp, struct sess_keypair **slot)
{
	struct sess_keypair *kp = *slot;

	*slot = NULL;
	if (!kp)
		return;
	if (sp->table &&
	    sess_index_lookup(sp->table, kp->local_index, SESS_INDEX_KEYPAIR, NULL) == kp)
		sess_index_free(sp->table, kp->local_index);
	sess_keypair_wipe(kp);
}

static struct sess_keypair *free_slot(struct sess_peer *sp)
{
	for (size_t i = 0; i < sizeof(sp->store) / sizeof(sp->store[0]); i++) {
		struct sess_keypair *kp = &sp->store[i];

		if (kp != sp->current && kp != sp->previous && kp != sp->next)
			return kp;
	}
	return NULL;
}

void sess_peer_init(struct sess_peer *sp, struct sess_index_table *table, void *owner)
{
	memset(sp, 0, sizeof(*sp));
	sp->table = table;
	sp->owner = owner;
}

int sess_peer_install(struct sess_peer *sp, const uint8_t send_key[SESS_KEY_LEN],
		      const uint8_t recv_key[SESS_KEY_LEN], uint32_t local_index,
		      uint32_t remote_index, bool initiator, uint64_t now_ms)
{
	return sess_peer_install_cipher(sp, send_key, recv_key, local_index, remote_index,
					initiator, SESS_CIPHER_CHACHA20POLY1305, now_ms);
}

int sess_peer_install_cipher(struct sess_peer *sp, const uint8_t send_key[SESS_KEY_LEN],
			     const uint8_t recv_key[SESS_KEY_LEN], uint32_t local_index,
			     uint32_t remote_index, bool initiator, enum sess_cipher cipher,
			     uint64_t now_ms)
{
	struct sess_keypair *kp;

	if (sp->table && !sess_index_contains(sp->table, local_index))
		return -ENOENT;
	if (cipher == SESS_CIPHER_AES256GCM && (!sp->aes || !sess_cipher_aes256gcm_available()))
		return -ENOTSUP;
	if (cipher != SESS_CIPHER_CHACHA20POLY1305 && cipher != SESS_CIPHER_AES256GCM)
		return -EINVAL;

	/* Same transitions as WireGuard noise.c add_new_keypair(). */
	if (initiator) {
		/* The response proved the peer: use the new keys at once. A
		 * pending next (we were also responder) becomes previous. */
		drop(sp, &sp->previous);
		if (sp->next) {
			sp->previous = sp->next;
			sp->next = NULL;
			drop(sp, &sp->current);
		} else {
			sp->previous = sp->current;
			sp->current = NULL;
		}
	} else {
		/* Unconfirmed: wait in next; the old previous and next go. */
		drop(sp, &sp->next);
		drop(sp, &sp->previous);
	}
	/* At most one of the three slots is still in use here, so this cannot
	 * fail; the check only keeps a broken invariant from writing NULL. */
	kp = free_slot(sp);
	if (!kp)
		return -ENOSPC;
	sess_keypair_init(kp, send_key, recv_key, local_index, remote_index, initiator, now_ms);
	/* Checked above; a failure here would leave ChaCha20-Poly1305, which
	 * the peer would not read: wipe rather than install. */
	if (sess_keypair_set_cipher(kp, cipher, sp->aes ? &(*sp->aes)[kp - sp->store] : NULL) < 0) {
		sess_keypair_wipe(kp);
		return -ENOTSUP;
	}
	if (initiator)
		sp->current = kp;
	else
		sp->next = kp;
	if (sp->table)
		(void)sess_index_replace(sp->table, local_index, SESS_INDEX_KEYPAIR, sp->owner, kp);
	sp->sent_lastminute = false;
	return 0;
}

struct sess_keypair *sess_peer_find(struct sess_peer *sp, uint32_t local_index)
{
	struct sess_keypair *slots[] = {sp->current, sp->previous, sp->next};

	if (local_index == 0)
		return NULL;
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (slots[i] && slots[i]->valid && slots[i]->local_index == local_index)
			return slots[i];
	return NULL;
}

bool sess_peer_on_received(struct sess_peer *sp, struct sess_keypair *kp)
{
	if (!kp || kp != sp->next)
		return false;
	/* Confirmed by the initiator's first data packet: next slides into
	 * current, current into previous, the old previous goes. */
	drop(sp, &sp->previous);
	sp->previous = sp->current;
	sp->current = sp->next;
	sp->next = NULL;
	return true;
}

struct sess_keypair *sess_peer_send_keypair(struct sess_peer *sp, uint64_t now_ms)
{
	struct sess_keypair *kp = sp->current;

	if (!kp || !kp->valid || !kp->can_send || sess_keypair_is_expired(kp, now_ms) ||
	    kp->send_counter >= SESS_REJECT_AFTER_MESSAGES)
		return NULL;
	return kp;
}

bool sess_peer_lastminute_rekey(struct sess_peer *sp, uint64_t now_ms)
{
	if (sp->sent_lastminute || !sp->current ||
	    !sess_keypair_needs_rekey_on_receive(sp->current, now_ms))
		return false;
	sp->sent_lastminute = true;
	return true;
}

void sess_peer_clear(struct sess_peer *sp)
{
	drop(sp, &sp->current);
	drop(sp, &sp->previous);
	drop(sp, &sp->next);
	sodium_memzero(sp->store, sizeof(sp->store));
	sp->sent_lastminute = false;
}
