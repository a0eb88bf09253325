/* The Noise Protocol Framework (noise.md revision 34) for
 * 25519_ChaChaPoly_BLAKE2b, written as the spec's three objects: CipherState
 * (noise_cipher_*), SymmetricState (mix_key, mix_hash, ...) and HandshakeState
 * (noise_handshake_*). The protocol name is parsed into a token table: one
 * 0-terminated row of tokens per message, psk tokens inserted by the pskN
 * modifiers (psk0 at the start of the first message, pskN at the end of
 * message N, section 9.2). Reading and writing walk that table, so every
 * supported pattern runs the same code the daemon's IKpsk2 runs.
 *
 * A handshake moves from msg_index 0 to n_messages; any read error, and any
 * write error past the size check, sets `failed` and wipes the keys: the
 * spec's "abort the handshake". libsodium does all primitives; HMAC-BLAKE2b is
 * built here because keyed BLAKE2b is a different function (section 4.3). */
#include "crypto/noise.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

enum token { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS, T_PSK };

enum { BLAKE2B_BLOCK_LEN = 128, MAX_NAME_LEN = 255 };

static const char SUITE[] = "_25519_ChaChaPoly_BLAKE2b";

/* Handshake patterns of noise.md section 7.4 (interactive) and 7.3
 * (one-way): pre-messages of initiator and responder, then the messages,
 * which alternate starting with the initiator. */
struct pattern {
	const char *name;
	const char *pre_i, *pre_r;
	const char *msgs[NOISE_MAX_MESSAGES];
};

static const struct pattern patterns[] = {
    {"N", "", "s", {"e es"}},
    {"K", "s", "s", {"e es ss"}},
    {"X", "", "s", {"e es s ss"}},
    {"NN", "", "", {"e", "e ee"}},
    {"NK", "", "s", {"e es", "e ee"}},
    {"NX", "", "", {"e", "e ee s es"}},
    {"XN", "", "", {"e", "e ee", "s se"}},
    {"XK", "", "s", {"e es", "e ee", "s se"}},
    {"XX", "", "", {"e", "e ee s es", "s se"}},
    {"KN", "s", "", {"e", "e ee se"}},
    {"KK", "s", "s", {"e es ss", "e ee se"}},
    {"KX", "s", "", {"e", "e ee se s es"}},
    {"IN", "", "", {"e s", "e ee se"}},
    {"IK", "", "s", {"e es s ss", "e ee se"}},
    {"IX", "", "", {"e s", "e ee se s es"}},
};

/* ---- CipherState (section 5.1) ---- */

static void make_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES], uint64_t n)
{
	/* Section 12.3: 32 bits of zeros, then the 64-bit nonce little-endian. */
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

int noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
			 const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	if (!c->has_key) {
		if (len)
			memmove(out, pt, len);
		return 0;
	}
	/* 2^64-1 is reserved (section 5.1): refuse rather than wrap. */
	if (c->n == UINT64_MAX)
		return -EOVERFLOW;
	make_nonce(nonce, c->n);
	/* n moves on even when sealing failed: a nonce is never reused. */
	c->n++;
	if (crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, ad_len, NULL, nonce,
						      c->k) != 0)
		return -EIO;
	return 0;
}

int noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
			 const uint8_t *ct, size_t ct_len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	if (!c->has_key) {
		if (ct_len)
			memmove(out, ct, ct_len);
		return 0;
	}
	if (c->n == UINT64_MAX)
		return -EOVERFLOW;
	if (ct_len < NOISE_TAG_LEN)
		return -EBADMSG;
	make_nonce(nonce, c->n);
	/* A failed decrypt leaves n alone (section 5.1), so a forged packet
	 * cannot desynchronise the two sides. */
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ct_len, ad, ad_len,
						      nonce, c->k) != 0)
		return -EBADMSG;
	c->n++;
	return 0;
}

int noise_cipher_rekey(struct noise_cipher *c)
{
	uint8_t zeros[NOISE_KEY_LEN] = {0};
	uint8_t out[NOISE_KEY_LEN + NOISE_TAG_LEN];
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	int ret = 0;

	make_nonce(nonce, UINT64_MAX);
	/* A failed rekey keeps no old key either: the cipher is unusable. */
	if (crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, zeros, sizeof(zeros), NULL, 0,
						      NULL, nonce, c->k) != 0) {
		noise_cipher_cleanup(c);
		ret = -EIO;
	} else {
		memcpy(c->k, out, NOISE_KEY_LEN);
	}
	sodium_memzero(out, sizeof(out));
	return ret;
}

void noise_cipher_cleanup(struct noise_cipher *c)
{
	sodium_memzero(c, sizeof(*c));
}

static void cipher_init_key(struct noise_cipher *c, const uint8_t key[NOISE_HASH_LEN])
{
	/* Section 5.2: HASHLEN 64 > 32, so the key is truncated. */
	memcpy(c->k, key, NOISE_KEY_LEN);
	c->n = 0;
	c->has_key = true;
}

/* ---- HMAC and HKDF (section 4.3) ---- */

/* BLAKE2b-512 of a || b (b may be empty); 0 or -EIO. */
static int hash2(uint8_t out[NOISE_HASH_LEN], const uint8_t *a, size_t a_len, const uint8_t *b,
		 size_t b_len)
{
	crypto_generichash_blake2b_state st;
	int ret = -EIO;

	if (crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN) == 0 &&
	    crypto_generichash_blake2b_update(&st, a, a_len) == 0 &&
	    crypto_generichash_blake2b_update(&st, b, b_len) == 0 &&
	    crypto_generichash_blake2b_final(&st, out, NOISE_HASH_LEN) == 0)
		ret = 0;
	sodium_memzero(&st, sizeof(st));
	return ret;
}

int noise_hmac(uint8_t out[NOISE_HASH_LEN], const uint8_t *key, size_t key_len, const uint8_t *data,
	       size_t data_len)
{
	uint8_t block[BLAKE2B_BLOCK_LEN] = {0};
	uint8_t inner[NOISE_HASH_LEN];
	int ret = -EIO;

	/* RFC 2104: a key longer than a block is hashed first. */
	if (key_len > BLAKE2B_BLOCK_LEN) {
		if (crypto_generichash_blake2b(block, NOISE_HASH_LEN, key, key_len, NULL, 0) != 0)
			goto out;
	} else {
		memcpy(block, key, key_len);
	}
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] ^= 0x36;
	if (hash2(inner, block, sizeof(block), data, data_len) < 0)
		goto out;
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] ^= 0x36 ^ 0x5c;
	ret = hash2(out, block, sizeof(block), inner, sizeof(inner));
out:
	/* A failed HMAC leaves no partial output that could pass for a key. */
	if (ret < 0)
		sodium_memzero(out, NOISE_HASH_LEN);
	sodium_memzero(block, sizeof(block));
	sodium_memzero(inner, sizeof(inner));
	return ret;
}

int noise_hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikm_len,
	       uint8_t out1[NOISE_HASH_LEN], uint8_t *out2, uint8_t *out3)
{
	uint8_t temp_key[NOISE_HASH_LEN];
	uint8_t buf[NOISE_HASH_LEN + 1];
	uint8_t o1[NOISE_HASH_LEN], o2[NOISE_HASH_LEN], o3[NOISE_HASH_LEN];
	int ret = -EIO;

	if (noise_hmac(temp_key, ck, NOISE_HASH_LEN, ikm, ikm_len) < 0)
		goto out;
	buf[0] = 0x01;
	if (noise_hmac(o1, temp_key, sizeof(temp_key), buf, 1) < 0)
		goto out;
	memcpy(buf, o1, NOISE_HASH_LEN);
	buf[NOISE_HASH_LEN] = 0x02;
	if (noise_hmac(o2, temp_key, sizeof(temp_key), buf, sizeof(buf)) < 0)
		goto out;
	if (out3) {
		memcpy(buf, o2, NOISE_HASH_LEN);
		buf[NOISE_HASH_LEN] = 0x03;
		if (noise_hmac(o3, temp_key, sizeof(temp_key), buf, sizeof(buf)) < 0)
			goto out;
	}
	/* Outputs are written only on success and last: out1 may alias ck
	 * (MixKey), and a failure must leave ck as it was. */
	memcpy(out1, o1, NOISE_HASH_LEN);
	if (out2)
		memcpy(out2, o2, NOISE_HASH_LEN);
	if (out3)
		memcpy(out3, o3, NOISE_HASH_LEN);
	ret = 0;
out:
	sodium_memzero(o3, sizeof(o3));
	sodium_memzero(temp_key, sizeof(temp_key));
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(o1, sizeof(o1));
	sodium_memzero(o2, sizeof(o2));
	return ret;
}

/* ---- SymmetricState (section 5.2) ---- */

/* Every step below returns 0 or -EIO from libsodium; callers abort the
 * handshake on any error, so a half-mixed state is never used. */
static __attribute__((warn_unused_result)) int mix_hash(struct noise_symmetric *sym,
							const uint8_t *data, size_t len)
{
	return hash2(sym->h, sym->h, NOISE_HASH_LEN, data, len);
}

static __attribute__((warn_unused_result)) int mix_key(struct noise_symmetric *sym,
						       const uint8_t *ikm, size_t len)
{
	uint8_t temp_k[NOISE_HASH_LEN];
	int ret = noise_hkdf(sym->ck, ikm, len, sym->ck, temp_k, NULL);

	if (ret == 0)
		cipher_init_key(&sym->cs, temp_k);
	sodium_memzero(temp_k, sizeof(temp_k));
	return ret;
}

static __attribute__((warn_unused_result)) int mix_key_and_hash(struct noise_symmetric *sym,
								const uint8_t *ikm, size_t len)
{
	uint8_t temp_h[NOISE_HASH_LEN], temp_k[NOISE_HASH_LEN];
	int ret = noise_hkdf(sym->ck, ikm, len, sym->ck, temp_h, temp_k);

	if (ret == 0)
		ret = mix_hash(sym, temp_h, sizeof(temp_h));
	if (ret == 0)
		cipher_init_key(&sym->cs, temp_k);
	sodium_memzero(temp_h, sizeof(temp_h));
	sodium_memzero(temp_k, sizeof(temp_k));
	return ret;
}

/* EncryptAndHash: out receives len (+ tag once a key exists) bytes. */
static int encrypt_and_hash(struct noise_symmetric *sym, const uint8_t *pt, size_t len,
			    uint8_t *out, size_t *out_len)
{
	size_t n = len + (sym->cs.has_key ? NOISE_TAG_LEN : 0);
	int ret = noise_cipher_encrypt(&sym->cs, sym->h, NOISE_HASH_LEN, pt, len, out);

	if (ret == 0)
		ret = mix_hash(sym, out, n);
	if (ret < 0)
		return ret;
	*out_len = n;
	return 0;
}

/* DecryptAndHash: h is updated with the ciphertext only once it verified. */
static int decrypt_and_hash(struct noise_symmetric *sym, const uint8_t *ct, size_t ct_len,
			    uint8_t *out)
{
	int ret = noise_cipher_decrypt(&sym->cs, sym->h, NOISE_HASH_LEN, ct, ct_len, out);

	if (ret < 0)
		return ret;
	return mix_hash(sym, ct, ct_len);
}

static int symmetric_init(struct noise_symmetric *sym, const char *name, size_t len)
{
	/* Section 5.2 InitializeSymmetric: pad a short name, hash a long one. */
	memset(sym, 0, sizeof(*sym));
	if (len <= NOISE_HASH_LEN)
		memcpy(sym->h, name, len);
	else if (crypto_generichash_blake2b(sym->h, NOISE_HASH_LEN, (const uint8_t *)name, len,
					    NULL, 0) != 0)
		return -EIO;
	memcpy(sym->ck, sym->h, NOISE_HASH_LEN);
	return 0;
}

/* ---- protocol name to token table ---- */

static int parse_tokens(const char *s, uint8_t *row, size_t cap)
{
	static const struct {
		const char *word;
		enum token t;
	} words[] = {{"e", T_E},   {"s", T_S},	 {"ee", T_EE},	{"es", T_ES},
		     {"se", T_SE}, {"ss", T_SS}, {"psk", T_PSK}};
	size_t n = 0;

	while (*s) {
		size_t wl = strcspn(s, " ");
		size_t i;

		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i].word) == wl && !strncmp(words[i].word, s, wl))
				break;
		if (i == sizeof(words) / sizeof(words[0]) || n + 1 >= cap)
			return -EINVAL;
		row[n++] = (uint8_t)words[i].t;
		s += wl;
		s += strspn(s, " ");
	}
	row[n] = T_END;
	return (int)n;
}

static int insert_psk(uint8_t *row, bool at_start)
{
	size_t n = strlen((const char *)row);

	if (n + 1 >= NOISE_MAX_TOKENS)
		return -EINVAL;
	if (at_start)
		memmove(row + 1, row, n + 1);
	row[at_start ? 0 : n] = T_PSK;
	row[n + 1] = T_END;
	return 0;
}

/* Modifiers after the pattern name: "psk0", "psk0+psk2", ... (section 8).
 * Returns the number of psk tokens added, or -EPROTONOSUPPORT. */
static int apply_modifiers(struct noise_handshake *hs, const char *mod, size_t len)
{
	unsigned seen = 0;
	int count = 0;

	while (len > 0) {
		size_t wl = 0;
		unsigned long n = 0;

		while (wl < len && mod[wl] != '+')
			wl++;
		/* "psk" and one or two digits, no leading zero. */
		if (wl < 4 || wl > 5 || strncmp(mod, "psk", 3) != 0)
			return -EPROTONOSUPPORT;
		for (size_t i = 3; i < wl; i++) {
			if (mod[i] < '0' || mod[i] > '9')
				return -EPROTONOSUPPORT;
			n = n * 10 + (unsigned long)(mod[i] - '0');
		}
		if ((wl == 5 && mod[3] == '0') || n > hs->n_messages || (seen & (1u << n)))
			return -EPROTONOSUPPORT;
		seen |= 1u << n;
		if (insert_psk(hs->tokens[n == 0 ? 0 : n - 1], n == 0) < 0)
			return -EPROTONOSUPPORT;
		count++;
		mod += wl;
		len -= wl;
		if (len > 0) {
			/* Skip '+', which must be followed by another modifier. */
			mod++;
			len--;
			if (len == 0)
				return -EPROTONOSUPPORT;
		}
	}
	return count;
}

/* Fills hs->tokens, n_messages, n_psks; *pat receives the base pattern. */
static int parse_name(struct noise_handshake *hs, const char *name, const struct pattern **pat)
{
	size_t len = strnlen(name, MAX_NAME_LEN + 1);
	size_t suite_len = sizeof(SUITE) - 1;
	const char *p, *mod;
	size_t plen, i;
	int n;

	if (len > MAX_NAME_LEN || len < 6 + suite_len || strncmp(name, "Noise_", 6) != 0 ||
	    strcmp(name + len - suite_len, SUITE) != 0)
		return -EPROTONOSUPPORT;
	p = name + 6;
	plen = len - 6 - suite_len;
	/* The pattern is the leading upper-case run; modifiers follow. */
	for (i = 0; i < plen && p[i] >= 'A' && p[i] <= 'Z'; i++)
		;
	mod = p + i;
	for (size_t k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++) {
		const struct pattern *pt = &patterns[k];

		if (strlen(pt->name) != i || strncmp(pt->name, p, i) != 0)
			continue;
		for (hs->n_messages = 0;
		     hs->n_messages < NOISE_MAX_MESSAGES && pt->msgs[hs->n_messages];
		     hs->n_messages++)
			if (parse_tokens(pt->msgs[hs->n_messages], hs->tokens[hs->n_messages],
					 NOISE_MAX_TOKENS) < 0)
				return -EPROTONOSUPPORT;
		n = apply_modifiers(hs, mod, plen - i);
		if (n < 0)
			return n;
		hs->n_psks = (uint8_t)n;
		hs->psk_mode = n > 0;
		*pat = pt;
		return 0;
	}
	return -EPROTONOSUPPORT;
}

/* ---- HandshakeState (section 5.3) ---- */

static bool writes_message(const struct noise_handshake *hs, size_t i)
{
	/* Message 0 is the initiator's; they alternate from there. */
	return (i % 2 == 0) == hs->initiator;
}

static bool we_send_static(const struct noise_handshake *hs)
{
	for (size_t m = 0; m < hs->n_messages; m++)
		if (writes_message(hs, m) && strchr((const char *)hs->tokens[m], T_S))
			return true;
	return false;
}

int noise_handshake_init(struct noise_handshake *hs, const char *protocol_name, bool initiator,
			 const uint8_t *prologue, size_t prologue_len, const uint8_t *s_priv,
			 const uint8_t *rs_pub, const uint8_t (*psks)[NOISE_PSK_LEN], size_t n_psks,
			 const uint8_t *fixed_e_priv)
{
	const struct pattern *pat = NULL;
	const char *pre_ours, *pre_theirs;
	int ret;

	memset(hs, 0, sizeof(*hs));
	hs->initiator = initiator;
	ret = parse_name(hs, protocol_name, &pat);
	if (ret < 0)
		goto fail;
	pre_ours = initiator ? pat->pre_i : pat->pre_r;
	pre_theirs = initiator ? pat->pre_r : pat->pre_i;
	ret = -EINVAL;
	if ((*pre_ours || we_send_static(hs)) && !s_priv)
		goto fail;
	if (*pre_theirs && !rs_pub)
		goto fail;
	if (s_priv) {
		memcpy(hs->s_priv, s_priv, NOISE_DH_LEN);
		if (crypto_scalarmult_base(hs->s_pub, hs->s_priv) != 0)
			goto fail;
		hs->has_s = true;
	}
	if (*pre_theirs) {
		/* Section 9: a low-order known key would make its DH output public. */
		uint8_t one[NOISE_DH_LEN] = {9}, out[NOISE_DH_LEN];
		bool low = crypto_scalarmult(out, one, rs_pub) != 0;

		sodium_memzero(out, sizeof(out));
		if (low) {
			ret = -EKEYREJECTED;
			goto fail;
		}
		memcpy(hs->rs, rs_pub, NOISE_DH_LEN);
		hs->has_rs = true;
	}
	if (fixed_e_priv) {
		memcpy(hs->e_priv, fixed_e_priv, NOISE_DH_LEN);
		hs->fixed_e = true;
	}
	if (psks || n_psks) {
		ret = noise_handshake_set_psks(hs, psks, n_psks);
		if (ret < 0)
			goto fail;
	}
	ret = symmetric_init(&hs->sym, protocol_name, strlen(protocol_name));
	if (ret == 0)
		ret = mix_hash(&hs->sym, prologue, prologue_len);
	/* Pre-messages: the initiator's first, then the responder's (section
	 * 7.1); only "s" appears in the supported patterns. */
	if (ret == 0 && *pat->pre_i)
		ret = mix_hash(&hs->sym, initiator ? hs->s_pub : hs->rs, NOISE_DH_LEN);
	if (ret == 0 && *pat->pre_r)
		ret = mix_hash(&hs->sym, initiator ? hs->rs : hs->s_pub, NOISE_DH_LEN);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	noise_handshake_cleanup(hs);
	return ret;
}

int noise_handshake_set_psks(struct noise_handshake *hs, const uint8_t (*psks)[NOISE_PSK_LEN],
			     size_t n_psks)
{
	if (!psks || n_psks != hs->n_psks || hs->psk_next > 0)
		return -EINVAL;
	memcpy(hs->psks, psks, n_psks * NOISE_PSK_LEN);
	hs->psks_set = true;
	return 0;
}

bool noise_handshake_is_complete(const struct noise_handshake *hs)
{
	return !hs->failed && hs->n_messages > 0 && hs->msg_index == hs->n_messages;
}

bool noise_handshake_is_my_turn(const struct noise_handshake *hs)
{
	return !hs->failed && hs->msg_index < hs->n_messages && writes_message(hs, hs->msg_index);
}

/* Bytes the tokens of the current message occupy, and whether a key exists
 * for its payload, found by replaying when the tokens set a key. */
static size_t tokens_len(const struct noise_handshake *hs, bool *payload_keyed)
{
	bool has_key = hs->sym.cs.has_key;
	size_t n = 0;

	for (const uint8_t *t = hs->tokens[hs->msg_index]; *t; t++) {
		switch (*t) {
		case T_E:
			n += NOISE_DH_LEN;
			has_key |= hs->psk_mode;
			break;
		case T_S:
			n += NOISE_DH_LEN + (has_key ? NOISE_TAG_LEN : 0);
			break;
		default:
			has_key = true;
			break;
		}
	}
	*payload_keyed = has_key;
	return n;
}

/* DH for ee/es/se/ss, then MixKey; -EKEYREJECTED for a low-order point
 * (libsodium returns -1 when the shared secret is all zero). */
static int mix_dh(struct noise_handshake *hs, const uint8_t *priv, bool have_priv,
		  const uint8_t *pub, bool have_pub)
{
	uint8_t dh[NOISE_DH_LEN];
	int ret = 0;

	if (!have_priv || !have_pub)
		return -EINVAL;
	if (crypto_scalarmult(dh, priv, pub) != 0)
		ret = -EKEYREJECTED;
	else
		ret = mix_key(&hs->sym, dh, sizeof(dh));
	sodium_memzero(dh, sizeof(dh));
	return ret;
}

static int do_dh_token(struct noise_handshake *hs, enum token t)
{
	bool i = hs->initiator;

	switch (t) {
	case T_EE:
		return mix_dh(hs, hs->e_priv, hs->has_e, hs->re, hs->has_re);
	case T_ES:
		/* Initiator's e with responder's s (section 7.1). */
		return i ? mix_dh(hs, hs->e_priv, hs->has_e, hs->rs, hs->has_rs)
			 : mix_dh(hs, hs->s_priv, hs->has_s, hs->re, hs->has_re);
	case T_SE:
		return i ? mix_dh(hs, hs->s_priv, hs->has_s, hs->re, hs->has_re)
			 : mix_dh(hs, hs->e_priv, hs->has_e, hs->rs, hs->has_rs);
	case T_SS:
		return mix_dh(hs, hs->s_priv, hs->has_s, hs->rs, hs->has_rs);
	case T_PSK:
		if (!hs->psks_set || hs->psk_next >= hs->n_psks)
			return -ENOKEY;
		if (mix_key_and_hash(&hs->sym, hs->psks[hs->psk_next], NOISE_PSK_LEN) < 0)
			return -EIO;
		hs->psk_next++;
		return 0;
	default:
		return -EINVAL;
	}
}

static void fail(struct noise_handshake *hs)
{
	noise_handshake_cleanup(hs);
	hs->failed = true;
}

static int write_token(struct noise_handshake *hs, enum token t, uint8_t *out, size_t *pos)
{
	size_t n;
	int ret;

	switch (t) {
	case T_E:
		if (!hs->fixed_e)
			randombytes_buf(hs->e_priv, NOISE_DH_LEN);
		if (crypto_scalarmult_base(hs->e_pub, hs->e_priv) != 0)
			return -EKEYREJECTED;
		hs->has_e = true;
		memcpy(out + *pos, hs->e_pub, NOISE_DH_LEN);
		*pos += NOISE_DH_LEN;
		ret = mix_hash(&hs->sym, hs->e_pub, NOISE_DH_LEN);
		/* Section 9.2: with psks, e is also a MixKey input. */
		if (ret == 0 && hs->psk_mode)
			ret = mix_key(&hs->sym, hs->e_pub, NOISE_DH_LEN);
		return ret;
	case T_S:
		if (!hs->has_s)
			return -EINVAL;
		ret = encrypt_and_hash(&hs->sym, hs->s_pub, NOISE_DH_LEN, out + *pos, &n);
		if (ret == 0)
			*pos += n;
		return ret;
	default:
		return do_dh_token(hs, t);
	}
}

int noise_write_message(struct noise_handshake *hs, const uint8_t *payload, size_t payload_len,
			uint8_t *out, size_t out_cap, size_t *out_len)
{
	bool keyed;
	size_t need, pos = 0, n;
	int ret;

	if (!noise_handshake_is_my_turn(hs))
		return -EPROTO;
	need = tokens_len(hs, &keyed);
	if (payload_len > NOISE_MAX_MSG_LEN)
		return -EMSGSIZE;
	need += payload_len + (keyed ? NOISE_TAG_LEN : 0);
	if (need > NOISE_MAX_MSG_LEN || need > out_cap)
		return -EMSGSIZE;
	for (const uint8_t *t = hs->tokens[hs->msg_index]; *t; t++) {
		ret = write_token(hs, (enum token) * t, out, &pos);
		if (ret < 0)
			goto fail;
	}
	ret = encrypt_and_hash(&hs->sym, payload, payload_len, out + pos, &n);
	if (ret < 0)
		goto fail;
	*out_len = pos + n;
	hs->msg_index++;
	return 0;
fail:
	fail(hs);
	return ret;
}

static int read_token(struct noise_handshake *hs, enum token t, const uint8_t *msg, size_t *pos)
{
	size_t n;
	int ret;

	switch (t) {
	case T_E:
		memcpy(hs->re, msg + *pos, NOISE_DH_LEN);
		hs->has_re = true;
		*pos += NOISE_DH_LEN;
		ret = mix_hash(&hs->sym, hs->re, NOISE_DH_LEN);
		if (ret == 0 && hs->psk_mode)
			ret = mix_key(&hs->sym, hs->re, NOISE_DH_LEN);
		return ret;
	case T_S:
		n = NOISE_DH_LEN + (hs->sym.cs.has_key ? NOISE_TAG_LEN : 0);
		ret = decrypt_and_hash(&hs->sym, msg + *pos, n, hs->rs);
		if (ret < 0)
			return ret;
		hs->has_rs = true;
		*pos += n;
		return 0;
	default:
		return do_dh_token(hs, t);
	}
}

int noise_read_message(struct noise_handshake *hs, const uint8_t *msg, size_t msg_len,
		       uint8_t *payload_out, size_t payload_cap, size_t *payload_len)
{
	bool keyed;
	size_t need, pos = 0, plen;
	int ret;

	if (hs->failed || hs->msg_index >= hs->n_messages || writes_message(hs, hs->msg_index))
		return -EPROTO;
	/* Lengths are all checked before any key material is touched. */
	need = tokens_len(hs, &keyed) + (keyed ? NOISE_TAG_LEN : 0);
	if (msg_len > NOISE_MAX_MSG_LEN || msg_len < need) {
		ret = -EBADMSG;
		goto fail;
	}
	plen = msg_len - need;
	if (plen > payload_cap) {
		ret = -EMSGSIZE;
		goto fail;
	}
	for (const uint8_t *t = hs->tokens[hs->msg_index]; *t; t++) {
		ret = read_token(hs, (enum token) * t, msg, &pos);
		if (ret < 0)
			goto fail;
	}
	ret = decrypt_and_hash(&hs->sym, msg + pos, msg_len - pos, payload_out);
	if (ret < 0)
		goto fail;
	*payload_len = plen;
	hs->msg_index++;
	return 0;
fail:
	fail(hs);
	return ret;
}

int noise_handshake_split(const struct noise_handshake *hs, struct noise_cipher *i_to_r,
			  struct noise_cipher *r_to_i)
{
	uint8_t k1[NOISE_HASH_LEN], k2[NOISE_HASH_LEN];

	int ret;

	if (!noise_handshake_is_complete(hs))
		return -EINVAL;
	ret = noise_hkdf(hs->sym.ck, NULL, 0, k1, k2, NULL);
	if (ret == 0 && i_to_r)
		cipher_init_key(i_to_r, k1);
	if (ret == 0 && r_to_i)
		cipher_init_key(r_to_i, k2);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	return ret;
}

void noise_handshake_hash(const struct noise_handshake *hs, uint8_t out[NOISE_HASH_LEN])
{
	memcpy(out, hs->sym.h, NOISE_HASH_LEN);
}

bool noise_handshake_remote_static(const struct noise_handshake *hs, uint8_t out[NOISE_DH_LEN])
{
	if (!hs->has_rs)
		return false;
	memcpy(out, hs->rs, NOISE_DH_LEN);
	return true;
}

void noise_handshake_cleanup(struct noise_handshake *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}
