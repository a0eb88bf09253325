/* udpbench: what UDP GSO/GRO (transport/udp.h) save on this machine. A
 * sender pushes BYTES of SIZE-byte datagrams through udp_send_batch over
 * loopback to a receiver in a child process; both report wall time and the
 * CPU seconds they used (user + system), and the receiver what arrived.
 *
 *   udpbench [-g] [-r] [-s SIZE] [-b BYTES] [-6]
 *     -g  GSO on the sender     -r  GRO on the receiver
 *     -s  datagram size (1440)  -b  bytes to send (1e9)   -6  over ::1
 *
 * The sender waits for the socket to drain (POLLOUT) rather than drop, but
 * nothing slows it down for the receiver: a slower receiver loses datagrams
 * in its 8 MiB buffer, shown as lost. Loopback only. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "transport/udp.h"

enum { SLOT = 65536, IDLE_MS = 500 };

static uint8_t rx_buf[UDP_BATCH_MAX][SLOT];
static uint8_t tx_buf[UDP_BATCH_MAX][2048];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

struct rx_report {
	uint64_t datagrams, bytes, messages;
	double wall_s, cpu_s;
};

/* Receives until IDLE_MS pass without a datagram after the first one. */
static void receive(struct udp_sock *s, int report_fd)
{
	static struct udp_msg rx[UDP_BATCH_MAX];
	struct rx_report r = {0};
	double t0 = 0, last = 0, c0 = cpu_s();

	for (;;) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		int n;

		if (poll(&p, 1, r.datagrams ? IDLE_MS : 10000) == 0)
			break;
		for (unsigned i = 0; i < UDP_BATCH_MAX; i++) {
			rx[i].data = rx_buf[i];
			rx[i].cap = SLOT;
		}
		n = udp_recv_batch(s, rx, UDP_BATCH_MAX);
		if (n < 0)
			break;
		if (n > 0 && !t0)
			t0 = now_s();
		for (int i = 0; i < n; i++) {
			size_t off = 0, len;
			uint8_t *d;

			r.messages++;
			while (udp_msg_next_segment(&rx[i], &off, &d, &len)) {
				r.datagrams++;
				r.bytes += len;
			}
		}
		if (n > 0)
			last = now_s();
	}
	r.wall_s = last - t0;
	r.cpu_s = cpu_s() - c0;
	if (write(report_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		exit(1);
}

int main(int argc, char **argv)
{
	struct udp_sock tx, rxs;
	struct udp_msg msgs[UDP_BATCH_MAX];
	struct sockaddr_storage to;
	struct rx_report r;
	size_t size = 1440;
	uint64_t bytes = 1000000000, sent = 0;
	bool gso = false, gro = false, v6 = false;
	double t0, c0, wall, cpu;
	int opt, pfd[2], status;
	pid_t pid;

	while ((opt = getopt(argc, argv, "grs:b:6")) != -1) {
		switch (opt) {
		case 'g':
			gso = true;
			break;
		case 'r':
			gro = true;
			break;
		case 's':
			size = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			bytes = strtoull(optarg, NULL, 10);
			break;
		case '6':
			v6 = true;
			break;
		default:
			fprintf(stderr, "usage: udpbench [-g] [-r] [-s SIZE] [-b BYTES] [-6]\n");
			return 1;
		}
	}
	if (size < 1 || size > sizeof(tx_buf[0])) {
		fprintf(stderr, "udpbench: size must be 1..%zu\n", sizeof(tx_buf[0]));
		return 1;
	}
	if (udp_open(&rxs, 0) < 0 || udp_open(&tx, 0) < 0 || pipe(pfd) < 0) {
		perror("udpbench");
		return 1;
	}
	if (gro && !(udp_enable_offload(&rxs, UDP_OFFLOAD_GRO) & UDP_OFFLOAD_GRO))
		fprintf(stderr, "udpbench: GRO not available\n");
	if (gso && !(udp_enable_offload(&tx, UDP_OFFLOAD_GSO) & UDP_OFFLOAD_GSO))
		fprintf(stderr, "udpbench: GSO not available\n");
	pid = fork();
	if (pid == 0) {
		receive(&rxs, pfd[1]);
		_exit(0);
	}
	memset(&to, 0, sizeof(to));
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&to;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(udp_local_port(&rxs));
		s6->sin6_addr = in6addr_loopback;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&to;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(udp_local_port(&rxs));
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	for (unsigned i = 0; i < UDP_BATCH_MAX; i++) {
		memset(tx_buf[i], (int)i, size);
		msgs[i] = (struct udp_msg){.data = tx_buf[i], .len = size, .addr = to};
	}
	usleep(100000); /* let the receiver reach its poll */
	t0 = now_s();
	c0 = cpu_s();
	while (sent < bytes) {
		uint64_t left = (bytes - sent + size - 1) / size;
		unsigned n = left < UDP_BATCH_MAX ? (unsigned)left : UDP_BATCH_MAX;
		int k = udp_send_batch(&tx, msgs, n);

		if (k == -EAGAIN || k == -ENOBUFS) {
			struct pollfd p = {.fd = tx.fd, .events = POLLOUT};

			poll(&p, 1, 100);
			continue;
		}
		if (k < 0) {
			fprintf(stderr, "udpbench: send: %s\n", strerror(-k));
			return 1;
		}
		sent += (uint64_t)k * size;
	}
	wall = now_s() - t0;
	cpu = cpu_s() - c0;
	if (read(pfd[0], &r, sizeof(r)) != (ssize_t)sizeof(r)) {
		fprintf(stderr, "udpbench: no report from the receiver\n");
		return 1;
	}
	waitpid(pid, &status, 0);
	printf("%s gso=%s gro=%s size=%zu: sent %.3f GB in %.2f s (%.0f Mbit/s), sender CPU "
	       "%.2f s (%.2f s/GB), gso_fallbacks %llu\n",
	       v6 ? "ipv6" : "ipv4", gso ? "on" : "off", gro ? "on" : "off", size, sent / 1e9, wall,
	       sent * 8 / wall / 1e6, cpu, cpu / (sent / 1e9),
	       (unsigned long long)tx.gso_fallbacks);
	printf("  receiver: %llu datagrams in %llu messages, %.3f GB in %.2f s, CPU %.2f s, "
	       "lost %.2f%%\n",
	       (unsigned long long)r.datagrams, (unsigned long long)r.messages, r.bytes / 1e9,
	       r.wall_s, r.cpu_s, 100.0 * (1.0 - (double)r.bytes / (double)sent));
	udp_close(&tx);
	udp_close(&rxs);
	return 0;
}
