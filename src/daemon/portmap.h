/* Port mapping (portmap = yes): the daemon's glue to the portmap engine
 * (portmap/engine.h). It asks the IPv4 default gateway to map listen_port
 * for UDP, sending from the daemon's own UDP socket (the mapping's internal
 * port is that socket's), hands the gateway's answers to the engine, and
 * offers the mapped address to peers as our first host candidate (rdv.c).
 * A changed listen_port or a reload that turns the key off deletes the old
 * mapping while the new one is asked for; the exit deletes it before the
 * socket closes. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "portmap/engine.h"

struct daemon;
struct rx_pkt;

struct portmap {
	struct pm_engine eng;	   /* the mapping of the current listen_port */
	struct pm_engine retiring; /* a former one being deleted, PM_OFF when none */
	bool mapped;		   /* eng holds a mapping: external is ours */
	struct sockaddr_storage external;
	/* Why no engine runs ("off", "no IPv4 default gateway"). */
	char idle_reason[128];
	uint64_t gateway_retry_ms; /* look for a gateway again then; UINT64_MAX: no */
	bool none_logged;	   /* "no port mapping" said since the last start */
	/* The gateway to ask instead of the default route's (daemon_io). */
	struct sockaddr_storage gateway_override;
};

/* Starts asking when d->cfg.portmap is on (and the gateway is known);
 * turns off (deleting a held mapping) when it is not. Called at start and
 * after every reload: a changed listen_port asks anew. */
void portmap_apply(struct daemon *d, uint64_t now);

/* A datagram from the gateway's port 5351: given to the engines; true when
 * it was (nothing else may take it), false for every other datagram. */
bool portmap_receive(struct daemon *d, const struct rx_pkt *m, uint64_t now);

/* Runs the engines' timers; returns their next deadline (UINT64_MAX: none). */
uint64_t portmap_tick(struct daemon *d, uint64_t now);

/* At exit, with the UDP socket still open: deletes a held mapping, waiting
 * for the gateway's answer as long as the engine's schedule allows (1.75 s
 * unanswered; one round trip otherwise). */
void portmap_shutdown(struct daemon *d);

/* A first answer is awaited (asking, not yet mapped, refused or given
 * up): the rendezvous client holds its first REGISTER a little for it. */
bool portmap_pending(const struct daemon *d);

/* The mapped address, or NULL. */
const struct sockaddr_storage *portmap_external(const struct daemon *d);

/* For show and explain: "pcp 198.51.100.2:51820, renews in 3599 s",
 * "off", "no IPv4 default gateway", ... */
const char *portmap_describe(const struct daemon *d, uint64_t now, char *buf, size_t size);
