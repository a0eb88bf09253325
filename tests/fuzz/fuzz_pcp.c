/* Fuzz harness for the PCP codec (portmap/pcp.h). The input is a response
 * as it would arrive on our socket; it is decoded against a fixed MAP
 * request as MAP and as ANNOUNCE and checked for unsupported versions.
 * Whatever decodes must obey the rules the decoder claims: the length
 * bounds, version 2 with the R bit, our nonce, protocol and port; on
 * refusal the output is untouched and the reason named. The seeds in
 * corpus/pcp/ are responses to that request (success, with options,
 * error, delete answer, ANNOUNCE, NAT-PMP's unsupported version). The
 * input's first octets also become the client address of an ANNOUNCE
 * request, which must encode to a header that does not decode as its own
 * answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "portmap/pcp.h"
#include "util/be.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static struct pcp_map_request request(void)
{
	struct pcp_map_request r;
	struct sockaddr_in *in = (struct sockaddr_in *)&r.client;

	memset(&r, 0, sizeof(r));
	r.lifetime_s = 7200;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(0xc0a8010a); /* 192.168.1.10 */
	for (int i = 0; i < PCP_NONCE_LEN; i++)
		r.nonce[i] = (uint8_t)(i + 1);
	r.protocol = PCP_PROTO_UDP;
	r.internal_port = 51820;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcp_map_request r = request();
	struct pcp_response resp, sentinel;
	enum pcp_drop why;
	uint8_t req[PCP_MAP_LEN];

	memset(&sentinel, 0xa5, sizeof(sentinel));
	resp = sentinel;
	if (pcp_map_decode(data, size, &r, &resp, &why)) {
		check(why == PCP_DROP_NONE);
		check(size >= PCP_MAP_LEN && size <= PCP_MAX_LEN && size % 4 == 0);
		check(data[0] == PCP_VERSION && data[1] == (PCP_R_BIT | PCP_OP_MAP));
		check(memcmp(data + PCP_HEADER_LEN, r.nonce, PCP_NONCE_LEN) == 0);
		check(resp.opcode == PCP_OP_MAP && resp.result == data[3]);
		check(resp.external.ss_family == AF_INET || resp.external.ss_family == AF_INET6);
	} else {
		check(why != PCP_DROP_NONE && memcmp(&resp, &sentinel, sizeof(resp)) == 0);
		check(pcp_drop_name(why) != NULL);
	}
	if (pcp_announce_decode(data, size, &resp, &why))
		check(size >= PCP_HEADER_LEN && resp.opcode == PCP_OP_ANNOUNCE);
	(void)pcp_is_unsupp_version(data, size);
	check(pcp_result_name(size ? data[size - 1] : 0) != NULL);
	/* The request side: any field values encode to 60 octets. */
	if (size >= PCP_NONCE_LEN + 8) {
		memcpy(r.nonce, data, PCP_NONCE_LEN);
		r.protocol = data[12];
		r.internal_port = (uint16_t)(data[13] << 8 | data[14]);
		r.lifetime_s = data[15];
		r.suggested.ss_family = data[16] & 1 ? AF_INET6 : AF_UNSPEC;
		check(pcp_map_encode(&r, req) == PCP_MAP_LEN);
		check(req[0] == PCP_VERSION && req[1] == PCP_OP_MAP);
		/* ANNOUNCE (natcheck's question): 24 octets, lifetime 0, and
		 * never mistaken for the answer to itself. */
		if (data[16] & 2) {
			r.client.ss_family = AF_INET6;
			memcpy(&((struct sockaddr_in6 *)&r.client)->sin6_addr, data, 16);
		} else {
			memcpy(&((struct sockaddr_in *)&r.client)->sin_addr, data, 4);
		}
		check(pcp_announce_encode(&r.client, req) == PCP_HEADER_LEN);
		check(req[0] == PCP_VERSION && req[1] == PCP_OP_ANNOUNCE && be32_get(req + 4) == 0);
		check(!pcp_announce_decode(req, PCP_HEADER_LEN, &resp, &why) &&
		      why == PCP_DROP_NOT_RESPONSE);
	}
	return 0;
}
