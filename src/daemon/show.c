/* The daemon's side of the control socket: `show` (interface and peers, in
 * the key=value format of control/control.h) and `explain` (per-peer path
 * diagnosis). Only public keys leave the process. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/keys.h"
#include "daemon/daemon.h"
#include "daemon/offload.h"
#include "daemon/path.h"
#include "daemon/peer.h"
#include "daemon/portmap.h"
#include "daemon/rdv.h"
#include "daemon/receive.h"
#include "daemon/show.h"
#include "rdvproto/proto.h"
#include "util/time.h"

static void show_peer(const struct peer *p, uint64_t now, FILE *out, bool with_path)
{
	char key[KEY_B64_LEN + 1];
	const char *state = peer_state(p, now);

	key_to_base64(p->cfg.public_key, key);
	fprintf(out, "peer=%s\npublic_key=%s\nstate=%s\n", p->name, key, state);
	if (with_path)
		fprintf(out, "path=%s\n",
			strcmp(state, "up") == 0 ? path_kind_str(p->path.kind) : "none");
	fprintf(out, "endpoint=%s\n",
		p->path.kind == PATH_UDP || p->path.kind == PATH_TCP ? addr_str(&p->path.addr).s : "");
	/* The data cipher of the keys we send with, once a session is up. */
	fprintf(out, "cipher=%s\n",
		p->sess.current && p->sess.current->valid ? sess_cipher_name(p->sess.current->cipher)
							  : "");
	/* Heartbeat round trips on the path in use, else the handshake's;
	 * explain prints the engine's own figures instead. */
	if (with_path) {
		/* The engine counts whole milliseconds; below one, the
		 * handshake's microsecond figure says more. */
		if (p->punch.has_rtt && p->punch.rtt_ms > 0)
			fprintf(out, "rtt_ms=%u\n", p->punch.rtt_ms);
		else if (p->rtt_us)
			fprintf(out, "rtt_ms=%.2f\n", (double)p->rtt_us / 1000.0);
		else if (p->punch.has_rtt)
			fprintf(out, "rtt_ms=%u\n", p->punch.rtt_ms);
		else
			fprintf(out, "rtt_ms=\n");
	}
	if (p->last_handshake_ms)
		fprintf(out, "last_handshake_ms=%llu\n",
			(unsigned long long)(now - p->last_handshake_ms));
	else
		fprintf(out, "last_handshake_ms=\n");
	fprintf(out, "rx_bytes=%llu\ntx_bytes=%llu\n", (unsigned long long)p->rx_bytes,
		(unsigned long long)p->tx_bytes);
}

/* The port mapping: its address (empty without one) and state in words. */
static void show_portmap(const struct daemon *d, uint64_t now, FILE *out)
{
	const struct sockaddr_storage *mapped = portmap_external(d);
	char text[PM_DESCRIBE_LEN];

	fprintf(out, "port_mapping=%s\n", portmap_describe(d, now, text, sizeof(text)));
	fprintf(out, "port_mapping_address=%s\n", mapped ? addr_str(mapped).s : "");
}

static int show(struct daemon *d, FILE *out)
{
	char key[KEY_B64_LEN + 1];
	uint64_t now = time_now_ms();
	char offloads[64];

	key_to_base64(d->cfg.public_key, key);
	fprintf(out, "interface=%s\npublic_key=%s\nlisten_port=%u\n", d->cfg.ifname, key,
		udp_local_port(&d->udp));
	offload_describe(d, offloads, sizeof(offloads));
	fprintf(out, "offloads=%s\n", offloads);
	fprintf(out, "reflexive_address=%s\n",
		d->rc.eng.have_reflexive ? addr_str(&d->rc.eng.reflexive).s : "");
	show_portmap(d, now, out);
	fprintf(out, "under_load=%s\nunder_load_entered=%llu\ncookie_replies_sent=%llu\n",
		hsgate_under_load(&d->gate, now) ? "yes" : "no",
		(unsigned long long)d->gate.under_load_entered,
		(unsigned long long)d->gate.cookie_replies_sent);
	/* Memory bounds in use: staged packets dropped for want of room, and
	 * receiver indexes allocated (of INDEX_TABLE_MAX). */
	fprintf(out, "staged_dropped=%llu\nreceiver_indexes=%zu\n",
		(unsigned long long)d->staged_dropped, d->index.count);
	for (unsigned i = 0; i < DROP_REASON_MAX; i++)
		if (d->drops[i])
			fprintf(out, "drop_%s=%llu\n", drop_reason_str(i),
				(unsigned long long)d->drops[i]);
	for (size_t i = 0; i < d->n_peers; i++)
		show_peer(d->peers[i], now, out, true);
	return 0;
}

static int explain(struct daemon *d, const struct ctl_request *req, FILE *out)
{
	const char *name = ctl_request_get(req, "peer");
	uint64_t now = time_now_ms();
	struct rdv_register reg;

	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < d->n_peers; i++) {
		struct peer *p = d->peers[i];
		if (strcmp(p->name, name) != 0)
			continue;
		show_peer(p, now, out, false);
		if (p->path.kind != PATH_NONE && p->path_since_ms)
			fprintf(out, "path_in_use_since_s=%llu\n",
				(unsigned long long)((now - p->path_since_ms) / 1000));
		/* What we offer (host candidates and what the rendezvous saw),
		 * what we measured of our own NAT, then the engine's view of
		 * the peer's candidates and the pairs tried. */
		rdv_client_host_candidates(d, &reg);
		for (size_t k = 0; k < reg.n_host; k++)
			fprintf(out, "our_candidate_%zu=%s udp %s\n", k,
				portmap_external(d) && addr_equal(&reg.host[k], portmap_external(d))
				    ? "mapped"
				    : "host",
				addr_str(&reg.host[k]).s);
		show_portmap(d, now, out);
		if (d->rc.eng.tcp_state == RDVC_TCP_UP)
			fprintf(out, "our_rendezvous_channel=tcp (UDP got no answer)\n");
		fprintf(out, "our_reflexive_address=%s\n",
			d->rc.eng.have_reflexive ? addr_str(&d->rc.eng.reflexive).s : "");
		fprintf(out, "our_nat_mapping=%s\n",
			d->rc.eng.nat_mapping == RDV_MAPPING_INDEPENDENT ? "endpoint-independent"
			: d->rc.eng.nat_mapping == RDV_MAPPING_DEPENDENT ? "address-and-port-dependent"
								      : "unknown");
		if (d->rc.eng.port_step)
			fprintf(out, "our_port_step=%d\n", d->rc.eng.port_step);
		fprintf(out, "rendezvous=%s\n",
			!d->rdv ? "none configured"
			: d->rc.eng.registered_ms ? "registered"
					      : "not registered");
		punch_explain(&p->punch, out, now);
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
