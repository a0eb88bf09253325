/* The rendezvous's UDP sockets. Unlike transport/udp.h (one wildcard socket
 * per daemon), the rendezvous binds each socket to one address and port, so
 * that an RFC 5780 answer leaves from the exact address the client asked
 * for. A socket bound to a wildcard address learns each datagram's
 * destination (IP_PKTINFO / IPV6_PKTINFO) and answers from it. IPv4 peers
 * of a dual-stack socket appear as AF_INET, never as ::ffff:a.b.c.d. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { RDV_SOCK_BATCH = 32 };

struct rdv_sock {
	int fd;
	int family; /* of the socket: AF_INET or AF_INET6 (dual-stack when wildcard) */
	bool wildcard;
	struct sockaddr_storage bound;
};

/* One received datagram in a caller's buffer of cap bytes. */
struct rdv_dgram {
	uint8_t *data;
	size_t len;
	size_t cap;
	struct sockaddr_storage from;
	struct sockaddr_storage local; /* its destination address and port */
};

/* Opens a non-blocking UDP socket bound to addr (a specific address, or the
 * wildcard of its family): 0 or -errno. */
int rdv_sock_open(struct rdv_sock *s, const struct sockaddr_storage *addr);
/* Closes it; safe on a closed socket (fd -1). */
void rdv_sock_close(struct rdv_sock *s);
/* Receives up to n (<= RDV_SOCK_BATCH) datagrams: how many, 0 when none is
 * waiting, or -errno. Datagrams longer than cap are dropped, not cut. */
int rdv_sock_recv(struct rdv_sock *s, struct rdv_dgram *d, unsigned n);
/* Sends one datagram to to, from the address local when the socket is a
 * wildcard one and local is not NULL: 0 or -errno. */
int rdv_sock_send(struct rdv_sock *s, const void *data, size_t len,
		  const struct sockaddr_storage *to, const struct sockaddr_storage *local);
