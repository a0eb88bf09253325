/* Fuzz harness for data packets (session/keypair.h). Any input is first
 * handed to sess_decrypt() as a received datagram for a fixed responder
 * keypair: it must never crash, must succeed only on a consistent result,
 * and must leave the keypair untouched on every error (state changes only
 * after the tag verified). The same bytes are then read as an 8-byte LE send
 * counter and a plaintext, sealed with sess_encrypt() and opened again: the
 * round trip must hold for every counter below the limit and be refused at
 * and above it. The seeds in corpus/data/ are valid packets under these keys. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session/keypair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	LOCAL_INDEX = 0x04030201, /* the receiver's index: seeds carry 01 02 03 04 */
	REMOTE_INDEX = 0x0d0c0b0a,
	NOW_MS = 60000,
	MAX_LEN = 65536,
};

/* Initiator -> responder key (what the seeds are sealed with), and back. */
static const uint8_t key_ir[SESS_KEY_LEN] = "p2pvpn fuzz key: initiator->resp";
static const uint8_t key_ri[SESS_KEY_LEN] = "p2pvpn fuzz key: responder->init";

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void fuzz_decrypt(const uint8_t *data, size_t size)
{
	static struct sess_keypair kp, before;
	static uint8_t buf[MAX_LEN];
	uint8_t *inner = NULL;
	size_t inner_len = 0;
	uint32_t index = 0;
	bool parsed;
	int ret;

	sess_keypair_init(&kp, key_ri, key_ir, LOCAL_INDEX, REMOTE_INDEX, false, 0);
	before = kp;
	memcpy(buf, data, size);
	parsed = sess_data_parse_index(data, size, &index);
	ret = sess_decrypt(&kp, buf, size, NOW_MS, &inner, &inner_len);
	if (ret != 0) {
		check(ret == -EINVAL || ret == -ENOKEY || ret == -EALREADY || ret == -EBADMSG);
		check(parsed == (ret != -EINVAL));
		check(memcmp(&kp, &before, sizeof(kp)) == 0);
		return;
	}
	check(parsed && index == LOCAL_INDEX);
	check(inner == buf + WIRE_DATA_HEADER_LEN && inner_len == size - WIRE_DATA_MIN_LEN);
	check(kp.can_send);
	/* The same datagram again is a replay. */
	memcpy(buf, data, size);
	check(sess_decrypt(&kp, buf, size, NOW_MS, &inner, &inner_len) == -EALREADY);
}

static void fuzz_round_trip(const uint8_t *data, size_t size)
{
	static struct sess_keypair tx, rx;
	static uint8_t buf[SESS_HEADROOM + MAX_LEN + SESS_TAILROOM];
	uint8_t *inner = buf + SESS_HEADROOM, *out = NULL;
	size_t len, pkt_len = 0, out_len = 0;
	uint64_t counter = 0;
	int ret;

	if (size < 8)
		return;
	for (int i = 7; i >= 0; i--)
		counter = counter << 8 | data[i];
	len = size - 8;
	sess_keypair_init(&tx, key_ir, key_ri, REMOTE_INDEX, LOCAL_INDEX, true, 0);
	sess_keypair_init(&rx, key_ri, key_ir, LOCAL_INDEX, REMOTE_INDEX, false, 0);
	sess_keypair_test_set_send_counter(&tx, counter);
	memcpy(inner, data + 8, len);

	ret = sess_encrypt(&tx, inner, len, NOW_MS, &pkt_len);
	if (counter >= SESS_REJECT_AFTER_MESSAGES) {
		check(ret == -EKEYEXPIRED && tx.send_counter == counter);
		return;
	}
	check(ret == 0 && tx.send_counter == counter + 1);
	check(pkt_len % WIRE_PAD == 0 && pkt_len >= WIRE_DATA_MIN_LEN + len);
	check(sess_decrypt(&rx, buf, pkt_len, NOW_MS, &out, &out_len) == 0);
	check(out == inner && out_len == pkt_len - WIRE_DATA_MIN_LEN);
	check(memcmp(out, data + 8, len) == 0);
	for (size_t i = len; i < out_len; i++)
		check(out[i] == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_LEN)
		return 0;
	fuzz_decrypt(data, size);
	fuzz_round_trip(data, size);
	return 0;
}
