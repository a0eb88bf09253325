/* rdv-intro: a peer that registers with a p2pvpn-rendezvous with host
 * candidates of its choosing and keeps asking to be introduced to one
 * target, so that the target is introduced, again and again, to whatever
 * addresses this peer named. It is the attacker of tests/lab/
 * test_punch_bounds.sh: it holds a key the target knows (a configured peer
 * gone rogue), answers nothing the target sends, and lets the test count
 * what the target's punching sends to the named addresses.
 *
 *   rdv-intro -s IP:PORT -k RDV_PUBKEY -K PRIVKEY -t TARGET_PUBKEY
 *             [-H IP:PORT]... [-i MS] [-d SECONDS] [-b PORT]
 *
 *   -H   a host candidate to register (at most RDV_MAX_HOST)
 *   -i   CONNECT interval in ms (default 1000; 0: one CONNECT only)
 *   -d   run time (default 30 s); -b the local UDP port (default any)
 *
 * It prints the CONNECTs sent and the INTRODUCE and UNKNOWN_PEER answers;
 * exit status 0 when registration worked, 1 otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "config/parse.h"
#include "crypto/keys.h"
#include "rdvproto/proto.h"
#include "support/rdv_sim.h"
#include "util/time.h"
#include "wire/wire.h"

enum {
	REGISTER_MS = 5000, /* p2pvpnd's REGISTER interval */
	RETRY_MS = 1000,
	BUF = 2048,
};

struct rogue {
	struct rdv_sim sim;
	struct sockaddr_storage server;
	int fd;
	bool session, registered;
	struct rdv_register reg;
	uint8_t target[32];
	unsigned long connects, intros, unknown;
};

static socklen_t alen(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static void send_sealed(struct rogue *r, const uint8_t *msg, size_t len, uint64_t now)
{
	uint8_t pkt[BUF];
	size_t plen;

	if (rdv_sim_seal(&r->sim, msg, len, pkt, sizeof(pkt), &plen, now) == 0)
		(void)sendto(r->fd, pkt, plen, 0, (struct sockaddr *)&r->server, alen(&r->server));
}

static void send_init(struct rogue *r)
{
	uint8_t init[WIRE_INIT_LEN];

	if (rdv_sim_initiation(&r->sim, init) == 0)
		(void)sendto(r->fd, init, sizeof(init), 0, (struct sockaddr *)&r->server,
			     alen(&r->server));
}

static void send_register(struct rogue *r, uint64_t now)
{
	uint8_t msg[RDV_REGISTER_LEN + RDV_MAX_HOST * RDV_ADDR_LEN];
	size_t len = rdv_encode_register(&r->reg, msg, sizeof(msg));

	if (len)
		send_sealed(r, msg, len, now);
}

static void send_connect(struct rogue *r, uint64_t now)
{
	uint8_t msg[RDV_CONNECT_LEN];
	size_t len = rdv_encode_connect(r->target, msg, sizeof(msg));

	if (len) {
		send_sealed(r, msg, len, now);
		r->connects++;
	}
}

static void receive(struct rogue *r, uint64_t now)
{
	uint8_t buf[BUF], *inner;
	size_t inner_len;
	ssize_t n;

	while ((n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if (!r->session && n == WIRE_COOKIE_REPLY_LEN) {
			if (rdv_sim_cookie(&r->sim, buf, (size_t)n, now) == 0)
				send_init(r);
		} else if (!r->session && n == WIRE_RESP_LEN) {
			if (rdv_sim_response(&r->sim, buf, (size_t)n, now) == 0) {
				r->session = true;
				send_register(r, now);
			}
		} else if (r->session &&
			   rdv_sim_open(&r->sim, buf, (size_t)n, now, &inner, &inner_len) == 0) {
			switch (rdv_msg_type_of(inner, inner_len)) {
			case RDV_REGISTERED:
				r->registered = true;
				break;
			case RDV_INTRODUCE:
				r->intros++;
				break;
			case RDV_UNKNOWN_PEER:
				r->unknown++;
				break;
			default:
				break;
			}
		}
	}
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: rdv-intro -s IP:PORT -k RDV_PUBKEY -K PRIVKEY -t TARGET_PUBKEY\n"
		     "                 [-H IP:PORT]... [-i MS] [-d SECONDS] [-b PORT]\n");
}

int main(int argc, char **argv)
{
	struct rogue r = {.reg = {.nat_mapping = RDV_MAPPING_INDEPENDENT}};
	const char *server = NULL, *rdv_pub = NULL, *priv_b64 = NULL, *target = NULL;
	unsigned long interval_ms = 1000, duration_s = 30, bind_port = 0;
	uint8_t priv[32], server_pub[32];
	struct sockaddr_storage any;
	uint64_t start, last_init = 0, last_reg = 0, last_connect = 0;
	int c;

	while ((c = getopt(argc, argv, "s:k:K:t:H:i:d:b:h")) != -1) {
		switch (c) {
		case 's':
			server = optarg;
			break;
		case 'k':
			rdv_pub = optarg;
			break;
		case 'K':
			priv_b64 = optarg;
			break;
		case 't':
			target = optarg;
			break;
		case 'H':
			if (r.reg.n_host >= RDV_MAX_HOST ||
			    !cfg_parse_endpoint(optarg, &r.reg.host[r.reg.n_host])) {
				fprintf(stderr, "rdv-intro: bad or too many -H %s\n", optarg);
				return 2;
			}
			r.reg.n_host++;
			break;
		case 'i':
			interval_ms = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			duration_s = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			bind_port = strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!server || !rdv_pub || !priv_b64 || !target || bind_port > 65535 || sodium_init() < 0) {
		usage(stderr);
		return 2;
	}
	if (!cfg_parse_endpoint(server, &r.server) || !key_from_base64(rdv_pub, server_pub) ||
	    !key_from_base64(priv_b64, priv) || !key_from_base64(target, r.target)) {
		fprintf(stderr, "rdv-intro: bad address or key\n");
		return 2;
	}
	if (rdv_sim_init(&r.sim, priv, server_pub) < 0)
		return 2;
	sodium_memzero(priv, sizeof(priv));
	memset(&any, 0, sizeof(any));
	any.ss_family = r.server.ss_family;
	if (any.ss_family == AF_INET)
		((struct sockaddr_in *)&any)->sin_port = htons((uint16_t)bind_port);
	else
		((struct sockaddr_in6 *)&any)->sin6_port = htons((uint16_t)bind_port);
	r.fd = socket(r.server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r.fd < 0 || bind(r.fd, (struct sockaddr *)&any, alen(&any)) < 0) {
		fprintf(stderr, "rdv-intro: socket: %s\n", strerror(errno));
		return 2;
	}
	start = time_now_ms();
	for (;;) {
		struct pollfd pfd = {.fd = r.fd, .events = POLLIN};
		uint64_t now = time_now_ms();

		if (now - start >= duration_s * 1000)
			break;
		if (!r.session && now - last_init >= RETRY_MS) {
			send_init(&r);
			last_init = now;
		}
		if (r.session && now - last_reg >= (r.registered ? REGISTER_MS : RETRY_MS)) {
			send_register(&r, now);
			last_reg = now;
		}
		if (r.registered &&
		    (!last_connect || (interval_ms && now - last_connect >= interval_ms))) {
			send_connect(&r, now);
			last_connect = now;
		}
		if (poll(&pfd, 1, 50) > 0)
			receive(&r, time_now_ms());
	}
	printf("rdv-intro: registered=%s connects=%lu introduce=%lu unknown_peer=%lu\n",
	       r.registered ? "yes" : "no", r.connects, r.intros, r.unknown);
	close(r.fd);
	rdv_sim_cleanup(&r.sim);
	return r.registered ? 0 : 1;
}
