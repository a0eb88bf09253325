/* The daemon's one UDP socket (DESIGN.md section 3): everything, STUN,
 * handshakes, data, probes, rendezvous and relay frames, travels through it.
 * It is dual-stack (AF_INET6 with IPV6_V6ONLY off) when the host has IPv6,
 * so IPv4 peers appear as plain AF_INET addresses to callers: the mapping to
 * and from ::ffff:a.b.c.d happens only here. Receives and sends are batched
 * with recvmmsg/sendmmsg so one wake-up moves many datagrams; the buffers
 * belong to the caller, nothing is allocated per packet.
 *
 * The rendezvous's sockets come from udp_open_addr: each bound to one
 * address and port (an RFC 5780 answer must leave from the exact address
 * asked for), and on a wildcard address, with UDP_OPEN_PKTINFO, told each
 * datagram's destination (udp_msg.local) and able to answer from it.
 *
 * Offloads (off after udp_open; udp_enable_offload turns them on):
 * - GSO (UDP_SEGMENT): udp_send_batch hands a run of equal-sized datagrams
 *   to one destination to the kernel as one message, segmented further down
 *   (in the NIC or once in software), instead of one trip through the stack
 *   each. Callers see no difference: msgs stay one datagram each.
 * - GRO (UDP_GRO): the kernel may deliver several datagrams of one size from
 *   one sender as one udp_msg (segment != 0); walk them with
 *   udp_msg_next_segment. Only callers that enable it see coalesced
 *   messages. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { UDP_BATCH_MAX = 64 };

enum udp_offload {
	UDP_OFFLOAD_GSO = 1 << 0, /* send: UDP_SEGMENT runs in udp_send_batch */
	UDP_OFFLOAD_GRO = 1 << 1, /* receive: coalesced messages (udp_msg.segment) */
};

enum {
	/* Segments per GSO message: UDP_MAX_SEGMENTS is 64 (1 << 6) on older
	 * kernels and 128 on newer ones; the lower bound works on both. */
	UDP_GSO_SEGMENTS_MAX = 64,
	/* Payload bytes of one GSO message. The kernel takes up to 65507 for
	 * IPv4 (65535 - 20 IP - 8 UDP) and 65527 for IPv6 (65535 payload
	 * length - 8), but a device segments only packets shorter than its
	 * gso_max_size (64 KiB by default, link-layer header included:
	 * gso_features_check in net/core/dev.c); a longer one is cut up in
	 * software first (measured on loopback, Linux 6.18).
	 * Capped so that the packet with an Ethernet header and a VLAN tag
	 * (18 bytes) stays below 65536. */
	UDP_GSO_BYTES_MAX_V4 = 65536 - 1 - 18 - 20 - 8, /* 65489 */
	UDP_GSO_BYTES_MAX_V6 = 65536 - 1 - 18 - 40 - 8, /* 65469 */
	/* The receive buffer a GRO caller must give each udp_msg (cap): one
	 * coalesced message can hold a whole 64 KiB IP packet's payload. */
	UDP_GRO_BUF_MIN = 65535,
};

/* Options of udp_open_addr. */
enum udp_open_flag {
	/* On a wildcard address: learn each datagram's destination (IP_PKTINFO,
	 * IPV6_RECVPKTINFO) for udp_msg.local, and honour udp_msg.local as the
	 * source of a send. Ignored on a specific address (local is then the
	 * bound address, and sends leave from it). */
	UDP_OPEN_PKTINFO = 1 << 0,
};

struct udp_sock;
struct udp_msg;

/* A backend other than the kernel's (a fake network in tests, as
 * wireguard-go's bindtest): each function has the contract of the udp_*
 * function of the same name, addresses as callers see them (never mapped),
 * except that udp_msg.local means nothing to it: a send's local is ignored
 * and a receive may leave it as it was (fakes stand in for udp_open, whose
 * sockets report no local address either).
 * enable_offload may be NULL (no offloads); close releases what the
 * backend holds and is called once. The socket's fd must be pollable for
 * EPOLLIN while datagrams wait; port is what udp_local_port reports. */
struct udp_ops {
	int (*recv_batch)(struct udp_sock *s, struct udp_msg *msgs, unsigned n);
	int (*send_batch)(struct udp_sock *s, struct udp_msg *msgs, unsigned n);
	int (*enable_offload)(struct udp_sock *s, unsigned want);
	void (*close)(struct udp_sock *s);
};

struct udp_sock {
	int fd;
	int family; /* AF_INET6 (dual-stack) or AF_INET */
	uint16_t port;
	unsigned offloads;	/* enum udp_offload bits now on */
	uint64_t gso_fallbacks; /* times the kernel refused GSO and it was turned off */
	const struct udp_ops *ops; /* NULL: the kernel socket fd (udp_open) */
	void *priv;		   /* backend state of a fake */
	/* What udp_msg.local carries (enum udp_local): always UDP_LOCAL_NONE
	 * after udp_open, so the daemon's path parses no control messages. */
	uint8_t local_mode;
	/* The address bound (never mapped); a wildcard after udp_open. */
	struct sockaddr_storage bound;
};

enum udp_local {
	UDP_LOCAL_NONE,	   /* udp_open: local has ss_family 0 on receive, ignored on send */
	UDP_LOCAL_BOUND,   /* a specific address, or a wildcard without UDP_OPEN_PKTINFO */
	UDP_LOCAL_PKTINFO, /* a wildcard with UDP_OPEN_PKTINFO: per datagram */
};

/* One message. data points into a caller-owned buffer of cap bytes; len is
 * its length; addr the peer (AF_INET or AF_INET6, never mapped).
 * Send: one datagram. Receive: one datagram, or with GRO on several. */
struct udp_msg {
	uint8_t *data;
	size_t len;
	size_t cap;
	struct sockaddr_storage addr;
	/* Our side, never mapped (see enum udp_local). Receive: the address
	 * and port the datagram came to on a UDP_OPEN_PKTINFO wildcard socket,
	 * the bound address on any other udp_open_addr socket, ss_family 0
	 * after udp_open. Send: on a UDP_OPEN_PKTINFO wildcard socket the
	 * source address to use (its port is ignored; ss_family 0 lets the
	 * kernel choose), ignored elsewhere. */
	struct sockaddr_storage local;
	/* Receive: 0, or the size of each of the back-to-back datagrams in data
	 * (the last may be shorter), all from addr. Never >= len: a message of
	 * one datagram says 0. Ignored on send. */
	uint16_t segment;
};

/* Opens a non-blocking socket bound to port on all addresses (0: any port),
 * with socket buffers of 8 MiB where permitted (CAP_NET_ADMIN), else 4 MiB,
 * and no offloads. Returns 0 or -errno. */
int udp_open(struct udp_sock *s, uint16_t port);
/* Opens a non-blocking socket bound to exactly *bind (AF_INET or AF_INET6,
 * a specific address or its family's wildcard; port 0: any), with no
 * fallback to another family. [::] is dual-stack (IPV6_V6ONLY off), and
 * with UDP_OPEN_PKTINFO its IPv4 destinations are reported unmapped like
 * peers are. No SO_REUSEADDR, buffers as udp_open, no offloads.
 * flags: enum udp_open_flag bits. Returns 0 or -errno. */
int udp_open_addr(struct udp_sock *s, const struct sockaddr_storage *bind, unsigned flags);
/* Closes the socket; safe on a never-opened or closed one. */
void udp_close(struct udp_sock *s);
/* Turns on the offloads in want (enum udp_offload bits) that this kernel
 * accepts and off those not in want; returns the bits now on (also in
 * s->offloads). With UDP_OFFLOAD_GRO on, every receive buffer (cap) must be
 * at least UDP_GRO_BUF_MIN bytes: a coalesced message that does not fit is
 * truncated by the kernel and dropped whole by udp_recv_batch. */
int udp_enable_offload(struct udp_sock *s, unsigned want);
/* Start-up self-probe for kernels whose offloads are broken rather than
 * missing: over loopback (127.0.0.1), a GSO run of 1200-byte datagrams and
 * a shorter last one goes to a plain socket (the kernel cuts it up in
 * software) and to a GRO socket (it arrives coalesced), and each datagram
 * is checked for order, length and bytes. Returns the bits of want that
 * passed, or -ENETDOWN where loopback is down (nothing could be tried).
 * Blocks up to about timeout_ms; opens and closes its own sockets and
 * allocates 256 KiB for the while. */
int udp_offload_selftest(unsigned want, int timeout_ms);
/* Receives up to n messages into msgs[i].data (cap bytes each) and sets
 * len, addr, local and segment. Returns the number received (0 when none is
 * waiting) or -errno. Truncated messages are dropped here, so callers never
 * see partial packets. */
int udp_recv_batch(struct udp_sock *s, struct udp_msg *msgs, unsigned n);
/* Sends msgs[0..n) (each one datagram, at most UDP_BATCH_MAX) and returns
 * how many were handed to the kernel (a datagram the kernel refuses is
 * counted as sent and dropped, as a lost packet would be), or -errno when
 * nothing could be sent. With GSO on, each run of consecutive datagrams to
 * one address of one length (the last may be shorter) goes as one message;
 * if the kernel refuses GSO (EIO, EINVAL) it is turned off for the socket
 * (gso_fallbacks counts it) and the datagrams go one by one, none lost. */
int udp_send_batch(struct udp_sock *s, struct udp_msg *msgs, unsigned n);
/* Sends one datagram. Returns 0 or -errno. */
int udp_send(struct udp_sock *s, const void *data, size_t len, const struct sockaddr_storage *to);
/* Sends one datagram from local (see udp_msg.local; NULL or ss_family 0:
 * the kernel's choice), as answers to a request that came to local must
 * leave. Returns 0 or -errno (-EAFNOSUPPORT for a to that is neither
 * AF_INET nor AF_INET6). */
int udp_send_from(struct udp_sock *s, const void *data, size_t len,
		  const struct sockaddr_storage *to, const struct sockaddr_storage *local);
/* The socket's bound port (useful with port 0). */
uint16_t udp_local_port(const struct udp_sock *s);

/* Walks the datagrams of a received message: start with *off = 0; each call
 * sets *data and *len to the next one and returns true, or returns false
 * after the last. A message with segment 0 yields itself once (even when
 * empty). */
static inline bool udp_msg_next_segment(const struct udp_msg *m, size_t *off, uint8_t **data,
					size_t *len)
{
	size_t left;

	if (*off > m->len || (*off == m->len && *off != 0))
		return false;
	left = m->len - *off;
	*len = m->segment && m->segment < left ? m->segment : left;
	*data = m->data + *off;
	/* An empty datagram moves off past len so the next call ends. */
	*off += *len ? *len : 1;
	return true;
}
