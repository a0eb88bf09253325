/* SIGHUP: re-read the configuration and move the running interface to it.
 * The new file is validated completely before anything changes; a bad file
 * is logged and the running configuration kept. Peers whose section did not
 * change keep their sessions (cfg_peer_equal); changed peers are rebuilt
 * (keeping the handshake replay state of their public key), removed ones
 * torn down, new ones added. The interface name and control
 * socket cannot change without a restart (the TUN would have to be
 * recreated, dropping every tunnel), so such a change is refused with a
 * warning and the rest applied. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <sodium.h>

#include "daemon/daemon.h"
#include "daemon/offload.h"
#include "daemon/portmap.h"
#include "daemon/peer.h"
#include "daemon/rdv.h"
#include "daemon/reload.h"
#include "util/log.h"
#include "util/time.h"

static struct peer *take_unchanged(struct daemon *d, const struct cfg_peer *want)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		struct peer *p = d->peers[i];
		if (p && cfg_peer_equal(&p->cfg, want)) {
			d->peers[i] = NULL;
			return p;
		}
	}
	return NULL;
}

/* What a rebuilt peer must not forget of its predecessor with the same
 * public key: the greatest TAI64N accepted and when, so a captured
 * initiation is not accepted again after a reload (crypto/handshake.h). */
struct replay_state {
	uint8_t public_key[32];
	uint8_t last_timestamp[HS_TAI64N_LEN];
	uint64_t last_init_ms;
};

static size_t save_replay_state(const struct daemon *d, struct replay_state *out)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_peers; i++) {
		const struct peer *p = d->peers[i];

		if (!p || !p->hs.has_last_init)
			continue;
		memcpy(out[n].public_key, p->cfg.public_key, 32);
		memcpy(out[n].last_timestamp, p->hs.last_timestamp, HS_TAI64N_LEN);
		out[n].last_init_ms = p->hs.last_init_ms;
		n++;
	}
	return n;
}

static void restore_replay_state(struct peer *p, const struct replay_state *saved, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (sodium_memcmp(saved[i].public_key, p->cfg.public_key, 32) != 0)
			continue;
		memcpy(p->hs.last_timestamp, saved[i].last_timestamp, HS_TAI64N_LEN);
		p->hs.last_init_ms = saved[i].last_init_ms;
		p->hs.has_last_init = true;
		return;
	}
}

static int swap_udp(struct daemon *d, uint16_t port)
{
	struct udp_sock s;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 2 /* EV_UDP */ };
	int ret = udp_open(&s, port);

	if (ret < 0)
		return ret;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->udp.fd, NULL);
	udp_close(&d->udp);
	d->udp = s;
	offload_udp_enable(d);
	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->udp.fd, &ev) < 0 ? -errno : 0;
}

static void rebuild_peers(struct daemon *d, struct cfg_daemon *nc, bool identity_changed)
{
	struct peer **next = calloc(nc->n_peers ? nc->n_peers : 1, sizeof(*next));
	struct replay_state *saved = calloc(d->n_peers ? d->n_peers : 1, sizeof(*saved));
	size_t n = 0, kept = 0, added = 0, removed = 0, n_saved;

	if (!next || !saved) {
		log_error("%s: reload: out of memory, peers unchanged", d->cfg.ifname);
		free(next);
		free(saved);
		return;
	}
	for (size_t i = 0; i < nc->n_peers; i++) {
		struct peer *p = identity_changed ? NULL : take_unchanged(d, &nc->peers[i]);
		if (p) {
			sess_timers_set_keepalive(&p->timers, nc->keepalive_s, time_now_ms());
			next[n++] = p;
			kept++;
		}
	}
	/* Peers rebuilt for a changed section (or a new identity) keep the
	 * replay state of the same public key. */
	n_saved = save_replay_state(d, saved);
	/* Tear down what leaves before adding, so a prefix that moves from one
	 * peer to another is free when the new owner claims it. */
	for (size_t i = 0; i < d->n_peers; i++) {
		if (!d->peers[i])
			continue;
		log_info("%s: peer %s removed", d->cfg.ifname, d->peers[i]->name);
		peer_remove_routes(d, d->peers[i]);
		peer_free(d, d->peers[i]);
		removed++;
	}
	free(d->peers);
	d->peers = next;
	d->n_peers = n;
	for (size_t i = 0; i < nc->n_peers; i++) {
		struct peer *p;
		bool present = false;

		for (size_t j = 0; j < kept; j++)
			present |= strcmp(next[j]->name, nc->peers[i].name) == 0;
		if (present)
			continue;
		p = peer_new(d, &nc->peers[i]);
		if (!p) {
			log_error("%s: peer %s: cannot add: %s", d->cfg.ifname, nc->peers[i].name,
				  strerror(errno));
			continue;
		}
		restore_replay_state(p, saved, n_saved);
		next[d->n_peers++] = p;
		if (peer_add_routes(d, p) < 0)
			log_warn("%s: peer %s: routes incomplete", d->cfg.ifname, p->name);
		log_info("%s: peer %s added", d->cfg.ifname, p->name);
		added++;
		if (p->path.kind != PATH_NONE)
			peer_send_initiation(d, p, time_now_ms(), false);
	}
	free(saved);
	log_info("%s: reloaded: %zu peers kept, %zu added, %zu removed", d->cfg.ifname, kept,
		 added, removed);
}

void daemon_reload(struct daemon *d)
{
	struct cfg_errors errs = { 0 };
	struct cfg_daemon nc;
	bool identity_changed, rdv_changed;

	memset(&nc, 0, sizeof(nc));
	if (!cfg_load_daemon(d->config_path, &nc, &errs)) {
		for (size_t i = 0; i < errs.n; i++)
			log_error("%s", errs.msgs[i]);
		log_error("%s: reload failed, keeping the running configuration", d->cfg.ifname);
		cfg_errors_free(&errs);
		return;
	}
	if (strcmp(nc.ifname, d->cfg.ifname) != 0 ||
	    strcmp(nc.control_socket, d->cfg.control_socket) != 0) {
		log_warn("%s: interface name and control socket change only on restart",
			 d->cfg.ifname);
		memcpy(nc.ifname, d->cfg.ifname, sizeof(nc.ifname));
		memcpy(nc.control_socket, d->cfg.control_socket, sizeof(nc.control_socket));
	}
	if (nc.offload != d->cfg.offload) {
		log_warn("%s: offload changes only on restart (the TUN is opened with it)",
			 d->cfg.ifname);
		nc.offload = d->cfg.offload;
	}
	log_set_level(nc.log_level);
	if (nc.listen_port != d->cfg.listen_port) {
		int ret = swap_udp(d, nc.listen_port);
		if (ret < 0) {
			log_error("%s: UDP port %u: %s; keeping port %u", d->cfg.ifname,
				  nc.listen_port, strerror(-ret), d->cfg.listen_port);
			nc.listen_port = d->cfg.listen_port;
		}
	}
	if (nc.mtu != d->cfg.mtu && iface_set_mtu(d, nc.mtu) < 0) {
		log_error("%s: mtu %u refused, keeping %u", d->cfg.ifname, nc.mtu, d->cfg.mtu);
		nc.mtu = d->cfg.mtu;
	}
	(void)iface_apply_addresses(d, &d->cfg, &nc);
	identity_changed = sodium_memcmp(nc.private_key, d->cfg.private_key, 32) != 0;
	if (identity_changed) {
		struct hs_identity id;
		if (hs_identity_init(&id, nc.private_key)) {
			hs_identity_cleanup(&d->id);
			d->id = id;
			sodium_memzero(&id, sizeof(id));
			log_info("%s: private key changed, all sessions restart", d->cfg.ifname);
		}
	}
	rebuild_peers(d, &nc, identity_changed);
	rdv_changed = identity_changed || nc.n_rendezvous != d->cfg.n_rendezvous ||
		      nc.has_rendezvous_key != d->cfg.has_rendezvous_key ||
		      (nc.n_rendezvous &&
		       (!cfg_endpoint_equal(&nc.rendezvous[0], &d->cfg.rendezvous[0]) ||
			memcmp(nc.rendezvous_key, d->cfg.rendezvous_key, 32) != 0));
	cfg_daemon_free(&d->cfg);
	d->cfg = nc;
	/* portmap switched, or listen_port moved: the old mapping is deleted
	 * and a new one asked for. */
	portmap_apply(d, time_now_ms());
	/* A new meeting point (or key) starts its client afresh; otherwise the
	 * registration and its session carry on untouched. */
	if (rdv_changed) {
		rdv_client_stop(d);
		if (rdv_client_start(d) < 0)
			log_error("%s: rendezvous client: cannot start", d->cfg.ifname);
	}
}
