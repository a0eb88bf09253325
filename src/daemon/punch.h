/* The path engine's glue: introductions, probes, TCP, relay (punch.c). */
#pragma once
#include "daemon/daemon.h"

void peer_on_introduce(struct daemon *d, struct peer *p, const struct rdv_introduce *intro,
		       uint64_t now);
void handle_relay(struct daemon *d, struct rx_pkt *m, uint64_t now);
void handle_probe(struct daemon *d, struct rx_pkt *m, uint64_t now);
/* Sets up the peer's path engine and probe key; false for a key that gives
 * no probe key (low-order). */
bool peer_punch_init(struct daemon *d, struct peer *p);
/* Runs the peer's path engine and carries out what it asks. */
void peer_run_punch(struct daemon *d, struct peer *p, uint64_t now);
