/* Fuzz harness for the NAT-PMP codec (portmap/natpmp.h): the input as an
 * answer to the address request and to a fixed UDP mapping request. What
 * decodes must have the length, version, opcode and internal port the
 * decoder promises; a refusal leaves the output untouched. The seeds in
 * corpus/natpmp/ are good answers of each kind and two error answers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portmap/natpmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct natpmp_map_request r = {
	    .opcode = NATPMP_OP_MAP_UDP, .internal_port = 51820, .lifetime_s = 7200};
	struct natpmp_response resp, sentinel;
	enum natpmp_drop why;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	resp = sentinel;
	if (natpmp_addr_decode(data, size, &resp, &why)) {
		check(size == NATPMP_ADDR_RESPONSE_LEN ||
		      (size == NATPMP_ERROR_LEN && resp.result != NATPMP_SUCCESS));
		check(data[0] == 0 && data[1] == 128 && resp.opcode == NATPMP_OP_ADDR);
		check(resp.result != NATPMP_SUCCESS || resp.external.s_addr != 0);
	} else {
		check(why != NATPMP_DROP_NONE && memcmp(&resp, &sentinel, sizeof(resp)) == 0);
	}
	resp = sentinel;
	if (natpmp_map_decode(data, size, &r, &resp, &why)) {
		check(size == NATPMP_MAP_RESPONSE_LEN ||
		      (size == NATPMP_ERROR_LEN && resp.result != NATPMP_SUCCESS));
		check(data[0] == 0 && data[1] == 129);
		check(size != NATPMP_MAP_RESPONSE_LEN || resp.internal_port == r.internal_port);
		check(resp.result != NATPMP_SUCCESS || !resp.lifetime_s || resp.external_port);
	} else {
		check(why != NATPMP_DROP_NONE && memcmp(&resp, &sentinel, sizeof(resp)) == 0);
	}
	check(natpmp_result_name(size ? data[size - 1] : 0) != NULL);
	check(natpmp_drop_name(why) != NULL);
	return 0;
}
