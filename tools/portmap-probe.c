/* portmap-probe: runs the port-mapping engine (portmap/engine.h) over a
 * real UDP socket, for the lab test against miniupnpd and for trying a
 * home router by hand.
 *
 *   portmap-probe GATEWAY PORT [TIMEOUT_S]
 *
 * Binds UDP PORT on every address, asks GATEWAY (an IPv4 or IPv6 address)
 * for a mapping of it and prints one line per event on stdout:
 *   mapped pcp 100.128.77.1:40000      (or nat-pmp ...)
 *   state pcp 100.128.77.1:40000, renews in 3600 s
 *   recv 100.128.77.2:5000 hello       (a datagram from anyone but the gateway)
 *   none none answered (pcp, nat-pmp), again in 300 s
 *   deleted answered | deleted unanswered
 * It keeps the mapping (renewing it) until SIGTERM or SIGINT, or TIMEOUT_S
 * (default 600) seconds, then deletes it and exits 0; it exits 2 when no
 * gateway answered, 1 on a usage or socket error. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "portmap/engine.h"
#include "util/addr.h"
#include "util/time.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static int parse_ip(const char *s, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)out)->sin_addr) == 1)
		out->ss_family = AF_INET;
	else if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)out)->sin6_addr) == 1)
		out->ss_family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

/* Our address towards the gateway, as the kernel would pick it: PCP's
 * client field must be the request's source address (RFC 6887 8.1). */
static int local_addr_to(const struct sockaddr_storage *gw, struct sockaddr_storage *out)
{
	struct sockaddr_storage to = *gw;
	socklen_t len = sizeof(*out);
	int fd = socket(gw->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	addr_set_port(&to, PCP_SERVER_PORT);
	if (connect(fd, (struct sockaddr *)&to, addr_len(&to)) < 0 ||
	    getsockname(fd, (struct sockaddr *)out, &len) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Carries the actions out; returns the exit status when done, else -1. */
static int run_actions(int fd, const struct pm_engine *e, const struct pm_action *a, size_t n)
{
	char text[PM_DESCRIBE_LEN], ext[ADDR_STRLEN];

	for (size_t i = 0; i < n; i++) {
		switch (a[i].type) {
		case PM_ACT_SEND:
			if (sendto(fd, a[i].buf, a[i].len, 0, (const struct sockaddr *)&a[i].to,
				   addr_len(&a[i].to)) < 0)
				fprintf(stderr, "portmap-probe: sendto: %s\n", strerror(errno));
			break;
		case PM_ACT_MAPPED:
			printf("mapped %s %s\n", pm_proto_name(e->proto),
			       addr_format(ext, sizeof(ext), &a[i].external));
			printf("state %s\n", pm_describe(e, time_now_ms(), text, sizeof(text)));
			break;
		case PM_ACT_LOST:
			printf("lost\n");
			break;
		case PM_ACT_NONE:
			printf("none %s\n", pm_describe(e, time_now_ms(), text, sizeof(text)));
			if (e->state == PM_NONE)
				return 2;
			break;
		case PM_ACT_DELETED:
			printf("deleted %s\n", e->delete_answered ? "answered" : "unanswered");
			return 0;
		}
	}
	fflush(stdout);
	return -1;
}

static void on_readable(int fd, struct pm_engine *e, int *status)
{
	uint8_t buf[2048];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	struct pm_action acts[PM_MAX_ACTIONS];
	char who[ADDR_STRLEN];
	ssize_t len =
	    recvfrom(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);

	if (len < 0)
		return;
	addr_unmap_v4(&from);
	if (!addr_equal_host(&from, &e->cfg.gateway)) {
		buf[len] = 0;
		buf[strcspn((char *)buf, "\r\n")] = 0;
		printf("recv %s %s\n", addr_format(who, sizeof(who), &from), buf);
		fflush(stdout);
		return;
	}
	*status = run_actions(fd, e, acts,
			      pm_on_datagram(e, &from, buf, (size_t)len, time_now_ms(), acts));
}

int main(int argc, char **argv)
{
	struct pm_config cfg;
	struct pm_engine e;
	struct sockaddr_storage bind_addr;
	uint64_t give_up;
	int fd, status = -1;
	bool stopping = false;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: portmap-probe GATEWAY PORT [TIMEOUT_S]\n");
		return 1;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (parse_ip(argv[1], &cfg.gateway) < 0 || atoi(argv[2]) <= 0 || atoi(argv[2]) > 65535) {
		fprintf(stderr, "portmap-probe: bad gateway or port\n");
		return 1;
	}
	cfg.internal_port = (uint16_t)atoi(argv[2]);
	cfg.protocol = PCP_PROTO_UDP;
	give_up = time_now_ms() + (argc == 4 ? (uint64_t)atoi(argv[3]) : 600) * 1000;
	if (local_addr_to(&cfg.gateway, &cfg.client) < 0 ||
	    getrandom(cfg.nonce, sizeof(cfg.nonce), 0) != sizeof(cfg.nonce)) {
		fprintf(stderr, "portmap-probe: %s\n", strerror(errno));
		return 1;
	}
	memset(&bind_addr, 0, sizeof(bind_addr));
	bind_addr.ss_family = cfg.gateway.ss_family;
	addr_set_port(&bind_addr, cfg.internal_port);
	fd = socket(cfg.gateway.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&bind_addr, addr_len(&bind_addr)) < 0) {
		fprintf(stderr, "portmap-probe: bind port %u: %s\n", cfg.internal_port,
			strerror(errno));
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	pm_engine_init(&e, &cfg);
	pm_start(&e, time_now_ms());
	while (status < 0) {
		struct pm_action acts[PM_MAX_ACTIONS];
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = time_now_ms(), next;
		int timeout;

		if (!stopping && (stop_requested || now >= give_up)) {
			stopping = true;
			if (!pm_stop(&e, now))
				break;
		}
		status = run_actions(fd, &e, acts, pm_expire(&e, now, acts));
		if (status >= 0)
			break;
		next = pm_next_deadline(&e);
		/* Wake at least every 100 ms to see a stop request. */
		timeout = next <= now ? 0 : next - now > 100 ? 100 : (int)(next - now);
		if (poll(&pfd, 1, timeout) > 0)
			on_readable(fd, &e, &status);
	}
	close(fd);
	return status < 0 ? 0 : status;
}
