/* The tx batch: TUN -> routing -> encrypt -> UDP (send.c). */
#pragma once
#include "daemon/daemon.h"

/* The buffer of the next tx queue entry: PKT_HEADROOM writable bytes before
 * it, TUN_PACKET_MAX + PKT_TAILROOM after. Build a datagram there (it may
 * start in the headroom) and hand it to send_queue before anything else
 * asks for a slot. */
uint8_t *send_slot(struct daemon *d);
/* Sends the datagram pkt..pkt+len, which must lie in send_slot(d)'s buffer
 * (anything else is refused and logged), over path: UDP ones wait for
 * send_flush (a full batch flushes at once), TCP and relayed ones leave at
 * once (the relay header goes into the headroom in front of pkt). */
void send_queue(struct daemon *d, const struct path *path, uint8_t *pkt, size_t len);
/* Copies a datagram built elsewhere into the next slot and queues it. */
void send_copy(struct daemon *d, const struct path *path, const void *pkt, size_t len);
/* Hands the queued UDP datagrams to the kernel (one sendmmsg). */
void send_flush(struct daemon *d);
/* Encrypts inner for p and queues it over p's path, or stages it and starts
 * a handshake. inner is either send_slot(d) with PKT_TAILROOM behind it
 * (encrypted in place) or any other buffer (copied into the slot first). */
void datapath_send_inner(struct daemon *d, struct peer *p, uint8_t *inner, size_t len,
			 uint64_t now);
void datapath_tun_readable(struct daemon *d);
