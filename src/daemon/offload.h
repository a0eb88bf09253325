/* TUN and UDP segmentation offloads (offload.c). */
#pragma once
#include "daemon/daemon.h"

/* Opens the TUN, with IFF_VNET_HDR and TSO/USO/checksum offloads when
 * cfg.offload allows and the kernel has them, and sets up the merging of
 * received packets. 0 or -errno (as tun_open). */
int offload_tun_open(struct daemon *d);
/* Turns on UDP GSO/GRO on d->udp when cfg.offload allows (start, reload). */
void offload_udp_enable(struct daemon *d);
/* After link up, before the first packet (offload = auto): the self-probes
 * of merged TUN writes and of UDP GSO/GRO, then UDP offloads on (one
 * udp_enable_offload call; a second only to turn off what the kernel took
 * but the probe saw fail, kept off by offload_udp_enable), and the log
 * line. */
void offload_start(struct daemon *d);
/* Sets the merging table up for what the TUN takes. */
void offload_gro_reset(struct daemon *d);
/* "TUN csum tso uso, UDP gso gro", or "off" for either. */
void offload_describe(const struct daemon *d, char *buf, size_t len);
/* Logs once what is on. */
void offload_log(const struct daemon *d);
