/* libFuzzer harness for the rendezvous's parsers. Every input goes through
 * (1) each signalling decoder of rdvproto/proto.h: what decodes must
 * encode back to the same bytes (the exact part; the rest was zero
 * padding); (2) the STUN responder, on each of its four sockets and over
 * TCP: an answer must parse, echo the request's id, and stay within a few
 * address attributes of the request's size; (3) the engine (core.h) as a
 * datagram from a stranger: it may answer only with a 93-byte handshake
 * response (when the input is a valid initiation for a listed key), and
 * must never relay or send anything else. Any broken invariant aborts. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "rdvproto/proto.h"
#include "rendezvous/core.h"
#include "rendezvous/stun_responder.h"
#include "session/keypair.h"
#include "stun/stun.h"
#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_LEN = 65536 };

/* The server's key for the seeds in corpus/rendezvous/ (initiations there
 * are made to it, from the listed peer's key below, whose private key is 32
 * bytes of 0x03). */
static const char config_text[] = "[rendezvous]\n"
				  "listen = 192.0.2.10:3478\n"
				  "private_key = QJPqpx9fVr9di7MGaYYKIvIxN54fV63hqFD6R2zxZ3A=\n"
				  "open = no\n"
				  "[peer \"seed\"]\n"
				  "public_key = Xf7dO2vUf2+ijuFdlp1bsOpTd01Ii9r53xxuASSz7yI=\n";

static void check(bool ok)
{
	if (!ok)
		abort();
}

static size_t padded(size_t len)
{
	return (len + WIRE_PAD - 1) / WIRE_PAD * WIRE_PAD;
}

/* A decoded message re-encodes to the input's exact part, and the input is
 * that part or that part zero-padded. */
static void same_bytes(const uint8_t *in, size_t in_len, const uint8_t *out, size_t out_len)
{
	check(out_len > 0 && (in_len == out_len || in_len == padded(out_len)));
	check(memcmp(in, out, out_len) == 0);
	for (size_t i = out_len; i < in_len; i++)
		check(in[i] == 0);
}

/* A parsed relay frame: its tag (made by nobody we know) does not verify
 * on a session with the frame's own index; tagged again on that session
 * with the frame's counter, it parses to the same fields and datagram and
 * verifies once, and a second time is a replay. */
static void fuzz_relay_tag(const uint8_t *data, size_t size, const struct rdv_relay_hdr *rh)
{
	static uint8_t frame[MAX_LEN];
	static const uint8_t k1[SESS_KEY_LEN] = {1}, k2[SESS_KEY_LEN] = {2};
	struct sess_keypair snd, rcv;
	struct rdv_relay_hdr h2;
	const uint8_t *inner;
	size_t inner_len;

	if (rh->counter >= SESS_REJECT_AFTER_MESSAGES)
		return;
	sess_keypair_init(&snd, k1, k2, 1, rh->receiver_index, true, 0);
	sess_keypair_init(&rcv, k2, k1, rh->receiver_index, 1, false, 0);
	memcpy(frame, data, size);
	check(rdv_relay_verify(frame, size, rh, &rcv, 0) != 0);
	check(memcmp(frame, data, size) == 0);
	sess_keypair_test_set_send_counter(&snd, rh->counter);
	check(rdv_relay_seal(frame, size, rh->relay_id, &snd, 0) == 0);
	check(rdv_relay_parse(frame, size, &h2, &inner, &inner_len));
	check(h2.relay_id == rh->relay_id && h2.receiver_index == rh->receiver_index &&
	      h2.counter == rh->counter);
	check(memcmp(frame + RDV_RELAY_HEADER_LEN, data + RDV_RELAY_HEADER_LEN,
		     size - RDV_RELAY_HEADER_LEN) == 0);
	check(rdv_relay_verify(frame, size, &h2, &rcv, 0) == 0);
	check(rdv_relay_verify(frame, size, &h2, &rcv, 0) == -EALREADY);
	sess_keypair_wipe(&snd);
	sess_keypair_wipe(&rcv);
}

static void fuzz_proto(const uint8_t *data, size_t size)
{
	static uint8_t out[MAX_LEN];
	struct rdv_register reg;
	struct rdv_introduce intro;
	struct sockaddr_storage ss;
	uint8_t key[32];
	struct rdv_relay_hdr rh;
	uint32_t id;
	const uint8_t *inner;
	size_t inner_len;
	unsigned type = rdv_msg_type_of(data, size);

	check(type == 0 || (type >= RDV_REGISTER && type <= RDV_UNKNOWN_PEER));
	if (rdv_decode_register(data, size, &reg)) {
		check(type == RDV_REGISTER && reg.n_host <= RDV_MAX_HOST);
		same_bytes(data, size, out, rdv_encode_register(&reg, out, sizeof(out)));
	}
	if (rdv_decode_registered(data, size, &id, &ss)) {
		check(type == RDV_REGISTERED && id != 0);
		same_bytes(data, size, out, rdv_encode_registered(id, &ss, out, sizeof(out)));
	}
	if (rdv_decode_connect(data, size, key)) {
		check(type == RDV_CONNECT);
		same_bytes(data, size, out, rdv_encode_connect(key, out, sizeof(out)));
	}
	if (rdv_decode_unknown_peer(data, size, key)) {
		check(type == RDV_UNKNOWN_PEER);
		same_bytes(data, size, out, rdv_encode_unknown_peer(key, out, sizeof(out)));
	}
	if (rdv_decode_introduce(data, size, &intro)) {
		check(type == RDV_INTRODUCE && intro.n_host <= RDV_MAX_HOST && intro.relay_id);
		same_bytes(data, size, out, rdv_encode_introduce(&intro, out, sizeof(out)));
	}
	if (rdv_relay_parse(data, size, &rh, &inner, &inner_len)) {
		check(rh.relay_id != 0 && rh.receiver_index != 0 &&
		      inner == data + RDV_RELAY_HEADER_LEN &&
		      inner_len + RDV_RELAY_HEADER_LEN == size);
		fuzz_relay_tag(data, size, &rh);
	}
}

static void fuzz_stun(const uint8_t *data, size_t size)
{
	struct rdv_stun_server srv;
	struct sockaddr_storage from;
	struct sockaddr_in *sin = (struct sockaddr_in *)&from;
	uint8_t out[RDV_STUN_REPLY_MAX];

	memset(&srv, 0, sizeof(srv));
	memset(&from, 0, sizeof(from));
	((struct sockaddr_in *)&srv.ip[0])->sin_family = AF_INET;
	((struct sockaddr_in *)&srv.ip[0])->sin_addr.s_addr = htonl(0xc000020a);
	((struct sockaddr_in *)&srv.ip[1])->sin_family = AF_INET;
	((struct sockaddr_in *)&srv.ip[1])->sin_addr.s_addr = htonl(0xc0000214);
	srv.port[0] = 3478;
	srv.port[1] = 3479;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	sin->sin_addr.s_addr = htonl(0xc6336405);
	for (unsigned k = 0; k < 2 * RDV_STUN_SOCKS + 1; k++) {
		struct rdv_stun_request req = {.data = data,
					       .len = size,
					       .sock = k % RDV_STUN_SOCKS,
					       .tcp = k == 2 * RDV_STUN_SOCKS,
					       .from = &from};
		struct stun_msg msg;
		unsigned send_sock;
		size_t len;

		srv.has_alternate = k < RDV_STUN_SOCKS;
		if (rdv_stun_answer(&srv, &req, out, sizeof(out), &len, &send_sock) !=
		    RDV_STUN_ANSWERED) {
			check(len == 0);
			continue;
		}
		check(send_sock < RDV_STUN_SOCKS && (srv.has_alternate || send_sock < 2));
		check(!req.tcp || send_sock == req.sock);
		check(stun_msg_parse(&msg, out, len));
		check(memcmp(msg.id, data + 4, STUN_ID_LEN) == 0);
		check(msg.cls == STUN_CLASS_SUCCESS || msg.cls == STUN_CLASS_ERROR);
		/* Bounded answer: five IPv6 addresses, or a 420 listing types
		 * that each took at least four bytes of the request. */
		check(len <= 20 + 5 * 24 + 8 || len <= size + 64);
	}
}

struct engine {
	struct cfg_rendezvous cfg;
	struct rdv_core core;
	size_t sent;
	size_t last_len;
};

static void capture(void *ctx, const struct rdv_channel *ch, uint8_t *pkt, size_t len)
{
	struct engine *e = ctx;

	(void)ch;
	e->sent++;
	e->last_len = len;
}

static struct engine *engine(void)
{
	static struct engine e;
	static bool ready;
	struct cfg_errors errs = {0};

	if (ready)
		return &e;
	check(sodium_init() >= 0);
	check(cfg_load_rendezvous_string("fuzz.conf", config_text, &e.cfg, &errs));
	check(rdv_core_init(&e.core, &e.cfg, 64, capture, &e) == 0);
	ready = true;
	return &e;
}

static void fuzz_engine(const uint8_t *data, size_t size)
{
	static uint8_t buf[MAX_LEN];
	struct engine *e = engine();
	struct rdv_channel ch;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ch.addr;
	size_t before = e->sent;

	memset(&ch, 0, sizeof(ch));
	ch.kind = RDV_CHAN_UDP;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(51820);
	sin->sin_addr.s_addr = htonl(0xcb007101);
	memcpy(buf, data, size);
	/* Each input is a wake-up of the server (the handshake gate's budget). */
	rdv_core_wake(&e->core);
	rdv_core_receive(&e->core, &ch, buf, size, 1000000);
	/* At most one answer, and only to an initiation: its response, or a
	 * cookie reply once the gate is under load. */
	check(e->sent == before ||
	      (e->sent == before + 1 &&
	       (e->last_len == WIRE_RESP_LEN || e->last_len == WIRE_COOKIE_REPLY_LEN) &&
	       wire_type_of(data, size) == WIRE_HANDSHAKE_INIT));
	/* Nothing from this stranger may ever be registered or relayed. */
	check(e->core.reg.n_registered == 0 && e->core.relayed == 0);
	/* Keep the registry small between inputs. */
	(void)rdv_core_expire(&e->core, 1000000 + 2 * RDV_IDLE_MS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_LEN)
		return 0;
	fuzz_proto(data, size);
	fuzz_stun(data, size);
	fuzz_engine(data, size);
	return 0;
}
