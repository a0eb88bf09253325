/* The daemon's side of the control socket: `show` (interface and peers, in
 * the key=value format of control/control.h) and `explain` (per-peer path
 * diagnosis). Only public keys leave the process. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/keys.h"
#include "daemon/daemon.h"
#include "util/time.h"

static void show_peer(const struct peer *p, uint64_t now, FILE *out)
{
	char key[KEY_B64_LEN + 1];
	const char *state = peer_state(p, now);

	key_to_base64(p->cfg.public_key, key);
	fprintf(out, "peer=%s\npublic_key=%s\nstate=%s\n", p->name, key, state);
	fprintf(out, "path=%s\n", strcmp(state, "up") == 0 ? "udp-direct" : "none");
	fprintf(out, "endpoint=%s\n", p->has_endpoint ? addr_str(&p->endpoint) : "");
	if (p->rtt_us)
		fprintf(out, "rtt_ms=%.2f\n", (double)p->rtt_us / 1000.0);
	else
		fprintf(out, "rtt_ms=\n");
	if (p->last_handshake_ms)
		fprintf(out, "last_handshake_ms=%llu\n",
			(unsigned long long)(now - p->last_handshake_ms));
	else
		fprintf(out, "last_handshake_ms=\n");
	fprintf(out, "rx_bytes=%llu\ntx_bytes=%llu\n", (unsigned long long)p->rx_bytes,
		(unsigned long long)p->tx_bytes);
}

static int show(struct daemon *d, FILE *out)
{
	char key[KEY_B64_LEN + 1];
	uint64_t now = time_now_ms();

	key_to_base64(d->cfg.public_key, key);
	fprintf(out, "interface=%s\npublic_key=%s\nlisten_port=%u\nreflexive_address=\n",
		d->cfg.ifname, key, udp_local_port(&d->udp));
	for (unsigned i = 0; i < DROP_REASON_MAX; i++)
		if (d->drops[i])
			fprintf(out, "drop_%s=%llu\n", drop_reason_str(i),
				(unsigned long long)d->drops[i]);
	for (size_t i = 0; i < d->n_peers; i++)
		show_peer(d->peers[i], now, out);
	return 0;
}

static int explain(struct daemon *d, const struct ctl_request *req, FILE *out)
{
	const char *name = ctl_request_get(req, "peer");
	uint64_t now = time_now_ms();

	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < d->n_peers; i++) {
		struct peer *p = d->peers[i];
		if (strcmp(p->name, name) != 0)
			continue;
		show_peer(p, now, out);
		fprintf(out, "candidates=%s\n",
			p->cfg.has_endpoint ? "configured endpoint" : "none (no rendezvous yet)");
		return 0;
	}
	return -ENOENT;
}

int daemon_control(void *ctx, const struct ctl_request *req, FILE *reply)
{
	struct daemon *d = ctx;

	if (strcmp(req->command, "show") == 0)
		return show(d, reply);
	if (strcmp(req->command, "explain") == 0)
		return explain(d, req, reply);
	return -EOPNOTSUPP;
}
