/* The daemon's one UDP socket (DESIGN.md section 3): everything, STUN,
 * handshakes, data, probes, rendezvous and relay frames, travels through it.
 * It is dual-stack (AF_INET6 with IPV6_V6ONLY off) when the host has IPv6,
 * so IPv4 peers appear as plain AF_INET addresses to callers: the mapping to
 * and from ::ffff:a.b.c.d happens only here. Receives and sends are batched
 * with recvmmsg/sendmmsg so one wake-up moves many datagrams; the buffers
 * belong to the caller, nothing is allocated per packet. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { UDP_BATCH_MAX = 64 };

struct udp_sock {
	int fd;
	int family; /* AF_INET6 (dual-stack) or AF_INET */
	uint16_t port;
};

/* One datagram: data points into a caller-owned buffer of cap bytes; len is
 * the datagram length; addr the peer (AF_INET or AF_INET6, never mapped). */
struct udp_msg {
	uint8_t *data;
	size_t len;
	size_t cap;
	struct sockaddr_storage addr;
};

/* Opens a non-blocking socket bound to port on all addresses (0: any port).
 * Returns 0 or -errno. */
int udp_open(struct udp_sock *s, uint16_t port);
/* Closes the socket; safe on a never-opened or closed one. */
void udp_close(struct udp_sock *s);
/* Receives up to n datagrams into msgs[i].data (cap bytes each). Returns the
 * number received (0 when none is waiting) or -errno. Truncated datagrams
 * are dropped here, so callers never see partial packets. */
int udp_recv_batch(struct udp_sock *s, struct udp_msg *msgs, unsigned n);
/* Sends msgs[0..n) and returns how many were handed to the kernel (a
 * datagram the kernel refuses is counted as sent and dropped, as a lost
 * packet would be), or -errno when nothing could be sent. */
int udp_send_batch(struct udp_sock *s, struct udp_msg *msgs, unsigned n);
/* Sends one datagram. Returns 0 or -errno. */
int udp_send(struct udp_sock *s, const void *data, size_t len, const struct sockaddr_storage *to);
/* The socket's bound port (useful with port 0). */
uint16_t udp_local_port(const struct udp_sock *s);
