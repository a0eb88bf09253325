/* TCP stream reassembly (transport/frame.h), SECURITY-NOTES section 6 item
 * 27 without sockets: length prefixes 0, 1, 65535 and the 16-bit edges,
 * frames fed one byte at a time (slowloris), split at every position, many
 * frames in one read, STUN-over-TCP detection on the first bytes, STUN
 * messages that lost their boundaries, and the space/commit contract. Each
 * stream is checked against the frames that built it, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "transport/frame.h"

static struct frame_reader rd; /* 64 KiB: not on the stack */

/* A stream buffer large enough for several maximum frames. */
static uint8_t stream[4 * FRAME_BUF_SIZE];

/* Frame i of a test stream: length lens[i], byte j is (i * 31 + j) & 0xff. */
static size_t build(const size_t *lens, size_t n, uint8_t *out)
{
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		assert_int_equal(frame_encode_header(out + off, lens[i]), FRAME_PREFIX_LEN);
		off += FRAME_PREFIX_LEN;
		for (size_t j = 0; j < lens[i]; j++)
			out[off + j] = (uint8_t)(i * 31 + j);
		off += lens[i];
	}
	return off;
}

static void check_frame(size_t i, const uint8_t *f, size_t len, size_t want)
{
	assert_int_equal(len, want);
	for (size_t j = 0; j < len; j++)
		if (f[j] != (uint8_t)(i * 31 + j))
			fail_msg("frame %zu byte %zu: %02x", i, j, f[j]);
}

/* Feeds stream[0..len) in chunks of `chunk` bytes through space/commit and
 * checks that exactly the frames of lens[] come out. */
static void feed_chunks(const size_t *lens, size_t n, size_t len, size_t chunk)
{
	size_t off = 0, got = 0;

	frame_reader_init(&rd, FRAME_MODE_FRAMED);
	while (off < len) {
		const uint8_t *f;
		size_t room, take, flen;
		uint8_t *space = frame_reader_space(&rd, &room);
		int r;

		assert_true(room >= 1);
		take = len - off < chunk ? len - off : chunk;
		take = take < room ? take : room;
		memcpy(space, stream + off, take);
		assert_int_equal(frame_reader_commit(&rd, take), 0);
		off += take;
		while ((r = frame_reader_next(&rd, &f, &flen)) == 1) {
			assert_true(got < n);
			check_frame(got, f, flen, lens[got]);
			got++;
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(got, n);
	assert_int_equal(frame_reader_pending(&rd), 0);
	assert_int_equal(rd.frames, n);
}

static void test_frame_encode_header_limits(void **state)
{
	static const struct {
		size_t len;
		size_t ret;
		uint8_t hdr[2];
	} cases[] = {
	    /* 1 */ {0, 0, {0xee, 0xee}}, /* empty frames do not exist */
	    /* 2 */ {1, 2, {0x00, 0x01}},
	    /* 3 */ {255, 2, {0x00, 0xff}},
	    /* 4 */ {256, 2, {0x01, 0x00}},
	    /* 5 */ {1420, 2, {0x05, 0x8c}},
	    /* 6 */ {65535, 2, {0xff, 0xff}},
	    /* 7 */ {65536, 0, {0xee, 0xee}}, /* does not fit 16 bits: refused, not wrapped */
	    /* 8 */ {(size_t)-1, 0, {0xee, 0xee}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t hdr[2] = {0xee, 0xee};

		assert_int_equal(frame_encode_header(hdr, cases[i].len), cases[i].ret);
		assert_memory_equal(hdr, cases[i].hdr, 2);
	}
}

static void test_frame_reader_next_lengths(void **state)
{
	static const size_t lens[] = {1, 2, 255, 256, 1420, 65534, 65535};
	const uint8_t *f;
	size_t flen;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = build(&lens[i], 1, stream);

		frame_reader_init(&rd, FRAME_MODE_FRAMED);
		assert_int_equal(frame_reader_push(&rd, stream, len), len);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 1);
		check_frame(0, f, flen, lens[i]);
		assert_ptr_equal(f, rd.buf + FRAME_PREFIX_LEN); /* in place, no copy */
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 0);
		/* One byte short of the frame: nothing yet. */
		frame_reader_init(&rd, FRAME_MODE_FRAMED);
		assert_int_equal(frame_reader_push(&rd, stream, len - 1), len - 1);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 0);
		assert_int_equal(frame_reader_pending(&rd), len - 1);
	}
}

static void test_frame_reader_next_zero_length(void **state)
{
	const uint8_t bad[] = {0x00, 0x01, 0xaa, 0x00, 0x00, 0x00, 0x01, 0xbb};
	size_t lens[] = {3};
	const uint8_t *f;
	size_t flen, len;

	/* A good frame, then length 0: the good one is delivered, then the
	 * violation, and the reader stays failed even when valid bytes follow. */
	frame_reader_init(&rd, FRAME_MODE_FRAMED);
	assert_int_equal(frame_reader_push(&rd, bad, sizeof(bad)), sizeof(bad));
	assert_int_equal(frame_reader_next(&rd, &f, &flen), 1);
	assert_int_equal(flen, 1);
	assert_int_equal(f[0], 0xaa);
	assert_int_equal(frame_reader_next(&rd, &f, &flen), -EBADMSG);
	assert_int_equal(frame_reader_next(&rd, &f, &flen), -EBADMSG);
	len = build(lens, 1, stream);
	frame_reader_push(&rd, stream, len);
	assert_int_equal(frame_reader_next(&rd, &f, &flen), -EBADMSG);
	assert_int_equal(rd.frames, 1);
	/* Length 0 as the very first bytes, and in detect mode. */
	for (int mode = FRAME_MODE_DETECT; mode <= FRAME_MODE_FRAMED; mode++) {
		const uint8_t zero[] = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00};

		frame_reader_init(&rd, (enum frame_mode)mode);
		frame_reader_push(&rd, zero, sizeof(zero));
		assert_int_equal(frame_reader_next(&rd, &f, &flen), -EBADMSG);
	}
}

static void test_frame_reader_next_byte_by_byte(void **state)
{
	/* Slowloris: every byte in its own read. No frame comes out early, each
	 * comes out on its last byte, and the buffer never holds more than one
	 * frame. */
	static const size_t lens[] = {1, 300, 65535, 7, 65535};
	const size_t n = sizeof(lens) / sizeof(lens[0]);
	size_t len = build(lens, n, stream), got = 0, frame_end = FRAME_PREFIX_LEN + lens[0];

	frame_reader_init(&rd, FRAME_MODE_FRAMED);
	for (size_t off = 0; off < len; off++) {
		const uint8_t *f;
		size_t room, flen;
		uint8_t *space = frame_reader_space(&rd, &room);
		int r;

		assert_true(room >= 1);
		*space = stream[off];
		assert_int_equal(frame_reader_commit(&rd, 1), 0);
		r = frame_reader_next(&rd, &f, &flen);
		if (off + 1 < frame_end) {
			assert_int_equal(r, 0);
			assert_true(frame_reader_pending(&rd) <= FRAME_BUF_SIZE);
			continue;
		}
		assert_int_equal(r, 1);
		check_frame(got, f, flen, lens[got]);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 0);
		assert_int_equal(frame_reader_pending(&rd), 0);
		if (++got < n)
			frame_end += FRAME_PREFIX_LEN + lens[got];
	}
	assert_int_equal(got, n);
}

static void test_frame_reader_next_chunk_sizes(void **state)
{
	static const size_t lens[] = {65535, 1, 2, 1420, 65535, 3, 40000};
	const size_t n = sizeof(lens) / sizeof(lens[0]);
	static const size_t chunks[] = {2, 3, 7, 1000, 4096, 65536, 65537, 200000};
	size_t len = build(lens, n, stream);

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		feed_chunks(lens, n, len, chunks[i]);
}

static void test_frame_reader_next_split_everywhere(void **state)
{
	/* Two small frames split in two reads at every position. */
	static const size_t lens[] = {5, 9};
	size_t len = build(lens, 2, stream);

	for (size_t cut = 0; cut <= len; cut++) {
		const uint8_t *f;
		size_t flen, got = 0;
		int r;

		frame_reader_init(&rd, FRAME_MODE_FRAMED);
		assert_int_equal(frame_reader_push(&rd, stream, cut), cut);
		while ((r = frame_reader_next(&rd, &f, &flen)) == 1)
			check_frame(got, f, flen, lens[got]), got++;
		assert_int_equal(r, 0);
		assert_int_equal(frame_reader_push(&rd, stream + cut, len - cut), len - cut);
		while ((r = frame_reader_next(&rd, &f, &flen)) == 1)
			check_frame(got, f, flen, lens[got]), got++;
		assert_int_equal(r, 0);
		assert_int_equal(got, 2);
	}
}

static void test_frame_reader_next_many_in_one_read(void **state)
{
	static size_t lens[2000];
	const uint8_t *f;
	size_t flen, len, got = 0;

	for (size_t i = 0; i < 2000; i++)
		lens[i] = 1 + i % 29; /* 2000 frames, 32 KiB: one read */
	len = build(lens, 2000, stream);
	assert_true(len <= FRAME_BUF_SIZE);
	frame_reader_init(&rd, FRAME_MODE_FRAMED);
	assert_int_equal(frame_reader_push(&rd, stream, len), len);
	while (frame_reader_next(&rd, &f, &flen) == 1) {
		check_frame(got, f, flen, lens[got]);
		got++;
	}
	assert_int_equal(got, 2000);
	assert_int_equal(frame_reader_pending(&rd), 0);
}

static void test_frame_reader_space_full_buffer(void **state)
{
	static const size_t lens[] = {65535, 10};
	const uint8_t *f;
	size_t flen, room, len = build(lens, 2, stream);

	/* A maximal frame fills the buffer exactly; push takes no more. */
	frame_reader_init(&rd, FRAME_MODE_FRAMED);
	assert_int_equal(frame_reader_push(&rd, stream, len), FRAME_BUF_SIZE);
	frame_reader_space(&rd, &room);
	assert_int_equal(room, 0);
	assert_int_equal(frame_reader_commit(&rd, 1), -EINVAL);
	assert_int_equal(frame_reader_next(&rd, &f, &flen), 1);
	check_frame(0, f, flen, 65535);
	assert_int_equal(frame_reader_next(&rd, &f, &flen), 0);
	frame_reader_space(&rd, &room);
	assert_int_equal(room, FRAME_BUF_SIZE);
	assert_int_equal(frame_reader_commit(&rd, room + 1), -EINVAL);
	assert_int_equal(frame_reader_push(&rd, stream + FRAME_BUF_SIZE, len - FRAME_BUF_SIZE),
			 len - FRAME_BUF_SIZE);
	assert_int_equal(frame_reader_next(&rd, &f, &flen), 1);
	check_frame(1, f, flen, 10);
	/* A partial frame is moved to the front when space is asked for. */
	frame_reader_init(&rd, FRAME_MODE_FRAMED);
	frame_reader_push(&rd, stream + FRAME_BUF_SIZE, 5); /* 2 + 3 of 10 */
	assert_int_equal(frame_reader_next(&rd, &f, &flen), 0);
	frame_reader_space(&rd, &room);
	assert_int_equal(room, FRAME_BUF_SIZE - 5);
}

/* A STUN Binding request: 20-byte header and one 8-byte attribute. */
static size_t stun_msg(uint8_t *out, uint8_t id)
{
	const uint8_t m[28] = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, id, 1,
			       2,    3,	   4,	 5,    6,    7,	   8,	 9,    10, 11,
			       0x80, 0x22, 0x00, 0x04, 't',  'e',  's',	 't'};

	memcpy(out, m, sizeof(m));
	return sizeof(m);
}

static void test_frame_reader_detect_stun(void **state)
{
	uint8_t buf[56];
	const uint8_t *f;
	size_t flen, len = stun_msg(buf, 1);

	len += stun_msg(buf + len, 2);
	/* Byte by byte: undecided until the cookie is complete at byte 8. */
	frame_reader_init(&rd, FRAME_MODE_DETECT);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(rd.mode, FRAME_MODE_DETECT);
		frame_reader_push(&rd, buf + i, 1);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 0);
	}
	assert_int_equal(rd.mode, FRAME_MODE_STUN);
	frame_reader_push(&rd, buf + 8, len - 8);
	for (uint8_t id = 1; id <= 2; id++) {
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 1);
		assert_int_equal(flen, 28); /* whole message, header included */
		assert_memory_equal(f, buf + (id - 1) * 28, 28);
	}
	assert_int_equal(frame_reader_next(&rd, &f, &flen), 0);
	/* A header-only message (length 0) is a whole message. */
	frame_reader_init(&rd, FRAME_MODE_STUN);
	buf[3] = 0;
	frame_reader_push(&rd, buf, 20);
	assert_int_equal(frame_reader_next(&rd, &f, &flen), 1);
	assert_int_equal(flen, 20);
}

static void test_frame_reader_detect_framed(void **state)
{
	/* A p2pvpn frame: length, then type and reserved zeros where STUN has
	 * the cookie. Bytes 4..7 are compared as they come, so the reader
	 * settles at the first one that differs. */
	static const struct {
		uint8_t bytes[8];
		size_t decided_at; /* bytes needed before the mode is FRAMED */
	} cases[] = {
	    /* 1 */ {{0x00, 0x06, 0x04, 0x00, 0x00, 0x00, 0xaa, 0xbb}, 5},
	    /* 2 */ {{0x00, 0x06, 0x04, 0x00, 0x21, 0x00, 0xaa, 0xbb}, 6},
	    /* 3 */ {{0x00, 0x06, 0x04, 0x00, 0x21, 0x12, 0xa4, 0xbb}, 8},
	    /* 4 */ {{0x00, 0x06, 0x21, 0x12, 0xa4, 0x42, 0x00, 0x00}, 5}, /* cookie at 2 */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *f;
		size_t flen;

		frame_reader_init(&rd, FRAME_MODE_DETECT);
		for (size_t b = 0; b < 8; b++) {
			frame_reader_push(&rd, cases[i].bytes + b, 1);
			assert_int_equal(frame_reader_next(&rd, &f, &flen), b + 1 == 8);
			assert_int_equal(rd.mode, b + 1 >= cases[i].decided_at ? FRAME_MODE_FRAMED
									       : FRAME_MODE_DETECT);
		}
		assert_int_equal(flen, 6);
		assert_memory_equal(f, cases[i].bytes + 2, 6);
	}
	/* A one-byte first frame stays undecided until byte 4 arrives. */
	{
		const uint8_t two[] = {0x00, 0x01, 0x07, 0x00, 0x01, 0x08};
		const uint8_t *f;
		size_t flen;

		frame_reader_init(&rd, FRAME_MODE_DETECT);
		frame_reader_push(&rd, two, 3);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 0);
		frame_reader_push(&rd, two + 3, 3);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 1);
		assert_int_equal(f[0], 0x07);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 1);
		assert_int_equal(f[0], 0x08);
	}
}

static void test_frame_reader_stun_lost_boundaries(void **state)
{
	/* Each mutation of the second message must close the stream after the
	 * first message was delivered. */
	static const struct {
		size_t off;
		uint8_t val;
	} cases[] = {
	    /* 1 */ {0, 0x40}, /* top bits of the type not 00 */
	    /* 2 */ {0, 0x80},
	    /* 3 */ {3, 0x09}, /* length not a multiple of 4 */
	    /* 4 */ {3, 0x0a},
	    /* 5 */ {4, 0x20}, /* cookie */
	    /* 6 */ {7, 0x43},
	    /* 7 */ {2, 0xff}, /* with byte 3 set to 0xf0 below: 0xfff0, over FRAME_STUN_MAX */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[56];
		const uint8_t *f;
		size_t flen, len = stun_msg(buf, 1);

		len += stun_msg(buf + len, 2);
		buf[28 + cases[i].off] = cases[i].val;
		if (cases[i].off == 2)
			buf[28 + 3] = 0xf0;
		frame_reader_init(&rd, FRAME_MODE_DETECT);
		frame_reader_push(&rd, buf, len);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 1);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), -EBADMSG);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), -EBADMSG);
	}
	/* The largest length that fits is accepted and waited for. */
	{
		uint8_t hdr[28];
		const uint8_t *f;
		size_t flen;

		stun_msg(hdr, 3); /* only its 20-byte header is used */
		hdr[2] = FRAME_STUN_MAX >> 8;
		hdr[3] = FRAME_STUN_MAX & 0xff;
		frame_reader_init(&rd, FRAME_MODE_STUN);
		frame_reader_push(&rd, hdr, 20);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 0);
		memset(stream, 0, FRAME_STUN_MAX);
		assert_int_equal(frame_reader_push(&rd, stream, FRAME_STUN_MAX), FRAME_STUN_MAX);
		assert_int_equal(frame_reader_next(&rd, &f, &flen), 1);
		assert_int_equal(flen, 20 + FRAME_STUN_MAX);
	}
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_frame_reader_next_garbage(void **state)
{
	/* Random bytes in random chunks: whatever comes out must be exactly
	 * what a walk of the length prefixes over the same bytes gives, and
	 * the first zero length must end it. */
	for (int round = 0; round < 200; round++) {
		size_t len = 1 + rng() % (2 * FRAME_BUF_SIZE), off = 0, walk = 0;
		bool dead = false;

		for (size_t i = 0; i < len; i++)
			stream[i] = (uint8_t)rng();
		if (round % 2) /* short lengths, so many frames and zeros come up */
			for (size_t i = 0; i < len; i += 1 + rng() % 64)
				stream[i] = 0;
		frame_reader_init(&rd, FRAME_MODE_FRAMED);
		while (off < len && !dead) {
			size_t take = 1 + rng() % 9000, flen;
			const uint8_t *f;
			int r;

			take = take < len - off ? take : len - off;
			off += frame_reader_push(&rd, stream + off, take);
			while ((r = frame_reader_next(&rd, &f, &flen)) == 1) {
				size_t want = (size_t)stream[walk] << 8 | stream[walk + 1];

				assert_int_equal(flen, want);
				assert_ptr_not_equal(f, NULL);
				assert_memory_equal(f, stream + walk + 2, flen);
				walk += 2 + want;
			}
			if (r < 0) {
				assert_int_equal(r, -EBADMSG);
				assert_int_equal(stream[walk] | stream[walk + 1], 0);
				dead = true;
			}
		}
		if (!dead)
			assert_int_equal(frame_reader_pending(&rd), len - walk);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_encode_header_limits),
	    cmocka_unit_test(test_frame_reader_next_lengths),
	    cmocka_unit_test(test_frame_reader_next_zero_length),
	    cmocka_unit_test(test_frame_reader_next_byte_by_byte),
	    cmocka_unit_test(test_frame_reader_next_chunk_sizes),
	    cmocka_unit_test(test_frame_reader_next_split_everywhere),
	    cmocka_unit_test(test_frame_reader_next_many_in_one_read),
	    cmocka_unit_test(test_frame_reader_space_full_buffer),
	    cmocka_unit_test(test_frame_reader_detect_stun),
	    cmocka_unit_test(test_frame_reader_detect_framed),
	    cmocka_unit_test(test_frame_reader_stun_lost_boundaries),
	    cmocka_unit_test(test_frame_reader_next_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
