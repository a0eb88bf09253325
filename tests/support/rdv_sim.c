/* A minimal initiator: the same handshake and session code as p2pvpnd,
 * with no index table (the single session's indexes are drawn at random
 * and looked up in the peer's own three keypairs). */
#include "support/rdv_sim.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto/keys.h"

int rdv_sim_init(struct rdv_sim *sim, const uint8_t priv[32], const uint8_t server_pub[32])
{
	uint8_t key[32];
	bool ok;

	memset(sim, 0, sizeof(*sim));
	if (priv)
		memcpy(key, priv, sizeof(key));
	else
		key_generate(key);
	ok = hs_identity_init(&sim->id, key) && hs_peer_init(&sim->hs, &sim->id, server_pub, NULL);
	sodium_memzero(key, sizeof(key));
	if (!ok) {
		rdv_sim_cleanup(sim);
		return -EINVAL;
	}
	sess_peer_init(&sim->sess, NULL, sim);
	cookie_maker_init(&sim->cookie, server_pub);
	return 0;
}

void rdv_sim_cleanup(struct rdv_sim *sim)
{
	sess_peer_clear(&sim->sess);
	cookie_maker_cleanup(&sim->cookie);
	hs_peer_cleanup(&sim->hs);
	hs_identity_cleanup(&sim->id);
	sodium_memzero(sim, sizeof(*sim));
}

int rdv_sim_initiation(struct rdv_sim *sim, uint8_t out[WIRE_INIT_LEN])
{
	uint8_t ts[HS_TAI64N_LEN];
	struct wire_init msg;
	int ret;

	do
		randombytes_buf(&sim->hs_index, sizeof(sim->hs_index));
	while (!sim->hs_index);
	hs_tai64n_now(ts);
	ret = hs_create_initiation(&sim->id, &sim->hs, sim->hs_index, ts, &msg);
	/* Stamped as of the cookie's own time: a cookie is used as long as
	 * the sim runs (tests and tools/rdv-load live far less than 115 s
	 * past one). */
	if (ret == 0)
		ret = cookie_maker_stamp(&sim->cookie, (uint8_t *)&msg, sizeof(msg),
					 sim->cookie.cookie_birth_ms);
	if (ret == 0)
		memcpy(out, &msg, sizeof(msg));
	return ret;
}

int rdv_sim_cookie(struct rdv_sim *sim, const uint8_t *msg, size_t len, uint64_t now_ms)
{
	return cookie_reply_consume(&sim->cookie, msg, len, now_ms);
}

int rdv_sim_response(struct rdv_sim *sim, const uint8_t *msg, size_t len, uint64_t now_ms)
{
	uint8_t send_key[HS_KEY_LEN], recv_key[HS_KEY_LEN];
	uint32_t remote;
	bool initiator;
	int ret = hs_consume_response(&sim->id, &sim->hs, msg, len);

	if (ret < 0)
		return ret;
	remote = sim->hs.remote_index;
	ret = hs_peer_derive_keys(&sim->hs, send_key, recv_key, &initiator);
	if (ret == 0)
		ret = sess_peer_install(&sim->sess, send_key, recv_key, sim->hs_index, remote,
					initiator, now_ms);
	sodium_memzero(send_key, sizeof(send_key));
	sodium_memzero(recv_key, sizeof(recv_key));
	return ret;
}

int rdv_sim_seal(struct rdv_sim *sim, const uint8_t *msg, size_t len, uint8_t *out, size_t cap,
		 size_t *out_len, uint64_t now_ms)
{
	struct sess_keypair *kp = sess_peer_send_keypair(&sim->sess, now_ms);

	if (!kp)
		return -ENOKEY;
	if (cap < SESS_HEADROOM + len + SESS_TAILROOM)
		return -ENOSPC;
	if (len)
		memmove(out + SESS_HEADROOM, msg, len);
	return sess_encrypt(kp, out + SESS_HEADROOM, len, now_ms, out_len);
}

int rdv_sim_open(struct rdv_sim *sim, uint8_t *pkt, size_t len, uint64_t now_ms, uint8_t **inner,
		 size_t *inner_len)
{
	struct sess_keypair *kp;
	uint32_t idx;
	int ret;

	if (!sess_data_parse_index(pkt, len, &idx))
		return -EINVAL;
	kp = sess_peer_find(&sim->sess, idx);
	if (!kp)
		return -ENOKEY;
	ret = sess_decrypt(kp, pkt, len, now_ms, inner, inner_len);
	if (ret == 0)
		(void)sess_peer_on_received(&sim->sess, kp);
	return ret;
}
