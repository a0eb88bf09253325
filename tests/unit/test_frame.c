/* TCP stream reassembly (transport/frame.h), SECURITY-NOTES section 6 item
 * 27 without sockets: length prefixes 0, 1, 65535 and the 16-bit edges,
 * frames fed one byte at a time (slowloris), split at every position, many
 * frames in one read, STUN-over-TCP detection on the first bytes, STUN
 * messages that lost their boundaries, and the space/commit contract. Each
 * stream is checked against the frames that built it, byte for byte.
 * frame_peek alone (the rules the rendezvous shares): detection, partial
 * headers, zero and over-long lengths with and without a per-type limit,
 * each STUN violation judged at the byte that proves it, and on random
 * streams a verdict that more bytes never change. */
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

/* ---- frame_peek: the rules alone ------------------------------------------ */

/* A per-type limit as the rendezvous has: type 1 up to 100 bytes, type 2
 * up to 65535, any other refused; records the types it was asked. */
static unsigned asked;
static uint8_t asked_type;

static size_t by_type(void *ctx, uint8_t type)
{
	assert_ptr_equal(ctx, &asked);
	asked++;
	asked_type = type;
	return type == 1 ? 100 : type == 2 ? 65535 : 0;
}

static const struct frame_rules typed = {.stun_max = 1024, .frame_max = by_type, .ctx = &asked};
static const struct frame_rules plain = {.stun_max = FRAME_STUN_HEADER_LEN + FRAME_STUN_MAX};

/* The verdict on buf[0..len) from mode (need -1 when none is set). */
static enum frame_verdict peek(const uint8_t *buf, size_t len, enum frame_mode *mode,
			       const struct frame_rules *rules, size_t *need)
{
	*need = (size_t)-1;
	return frame_peek(buf, len, mode, rules, need);
}

static void test_frame_peek_detect(void **state)
{
	uint8_t buf[28];
	enum frame_mode mode;
	size_t need;

	/* STUN: undecided below 8 bytes (every one of 4..7 matches the
	 * cookie), then the whole message's length. */
	stun_msg(buf, 1);
	for (size_t len = 0; len < 8; len++) {
		mode = FRAME_MODE_DETECT;
		assert_int_equal(peek(buf, len, &mode, &typed, &need), FRAME_MORE);
		assert_int_equal(mode, FRAME_MODE_DETECT);
		assert_int_equal(need, 8);
	}
	for (size_t len = 8; len < 28; len++) {
		mode = FRAME_MODE_DETECT;
		assert_int_equal(peek(buf, len, &mode, &typed, &need), FRAME_MORE);
		assert_int_equal(mode, FRAME_MODE_STUN);
		assert_int_equal(need, 28);
	}
	mode = FRAME_MODE_DETECT;
	assert_int_equal(peek(buf, 28, &mode, &typed, &need), FRAME_WHOLE);
	assert_int_equal(need, 28);
	/* Framed at once on a first byte with a top bit set (a length of
	 * 16384 or more), even with the cookie at 4..7. */
	for (uint8_t top = 0x40; top; top = top == 0x40 ? 0x80 : top == 0x80 ? 0xc0 : 0) {
		buf[0] = top;
		mode = FRAME_MODE_DETECT;
		assert_int_equal(peek(buf, 1, &mode, &plain, &need), FRAME_MORE);
		assert_int_equal(mode, FRAME_MODE_FRAMED);
		assert_int_equal(need, FRAME_PREFIX_LEN);
		mode = FRAME_MODE_DETECT;
		assert_int_equal(peek(buf, 8, &mode, &plain, &need), FRAME_MORE);
		assert_int_equal(mode, FRAME_MODE_FRAMED);
		assert_int_equal(need, FRAME_PREFIX_LEN + ((size_t)top << 8 | 0x01));
	}
	/* Framed at the first of bytes 4..7 that is not the cookie's. */
	for (size_t at = 4; at < 8; at++) {
		stun_msg(buf, 1);
		buf[at] ^= 0x01;
		for (size_t len = 0; len <= at; len++) {
			mode = FRAME_MODE_DETECT;
			(void)peek(buf, len, &mode, &plain, &need);
			assert_int_equal(mode, FRAME_MODE_DETECT);
		}
		mode = FRAME_MODE_DETECT;
		/* buf: length 1, so the frame is 3 bytes and already whole. */
		assert_int_equal(peek(buf, at + 1, &mode, &plain, &need), FRAME_WHOLE);
		assert_int_equal(mode, FRAME_MODE_FRAMED);
		assert_int_equal(need, 3);
	}
	/* A settled mode is not judged again. */
	stun_msg(buf, 1);
	mode = FRAME_MODE_FRAMED;
	assert_int_equal(peek(buf, 28, &mode, &plain, &need), FRAME_WHOLE);
	assert_int_equal(need, FRAME_PREFIX_LEN + 1);
	buf[4] = 0;
	mode = FRAME_MODE_STUN;
	assert_int_equal(peek(buf, 28, &mode, &plain, &need), FRAME_NOT_STUN);
}

static void test_frame_peek_framed_lengths(void **state)
{
	uint8_t buf[FRAME_BUF_SIZE];
	enum frame_mode mode = FRAME_MODE_FRAMED;
	size_t need;

	memset(buf, 0, sizeof(buf));
	/* Partial prefix. */
	assert_int_equal(peek(buf, 0, &mode, &typed, &need), FRAME_MORE);
	assert_int_equal(need, FRAME_PREFIX_LEN);
	assert_int_equal(peek(buf, 1, &mode, &typed, &need), FRAME_MORE);
	assert_int_equal(need, FRAME_PREFIX_LEN);
	/* Zero length: judged on the prefix, with or without a type limit. */
	asked = 0;
	assert_int_equal(peek(buf, 2, &mode, &typed, &need), FRAME_EMPTY);
	assert_int_equal(peek(buf, 2, &mode, &plain, &need), FRAME_EMPTY);
	assert_int_equal(asked, 0);
	/* With a type limit the type byte is waited for, then asked. */
	buf[1] = 100;
	assert_int_equal(peek(buf, 2, &mode, &typed, &need), FRAME_MORE);
	assert_int_equal(need, FRAME_PREFIX_LEN + 1);
	assert_int_equal(asked, 0);
	buf[2] = 1;
	assert_int_equal(peek(buf, 3, &mode, &typed, &need), FRAME_MORE);
	assert_int_equal(need, FRAME_PREFIX_LEN + 100);
	assert_int_equal(asked, 1);
	assert_int_equal(asked_type, 1);
	assert_int_equal(peek(buf, 101, &mode, &typed, &need), FRAME_MORE);
	assert_int_equal(peek(buf, 102, &mode, &typed, &need), FRAME_WHOLE);
	assert_int_equal(need, 102);
	/* One over the type's limit, and a type refused whatever its length. */
	buf[1] = 101;
	assert_int_equal(peek(buf, 3, &mode, &typed, &need), FRAME_TOO_LONG);
	buf[1] = 1;
	buf[2] = 7;
	assert_int_equal(peek(buf, 3, &mode, &typed, &need), FRAME_TOO_LONG);
	assert_int_equal(asked_type, 7);
	/* Without a limit every length up to 65535 is a frame, on the prefix. */
	buf[0] = 0xff;
	buf[1] = 0xff;
	assert_int_equal(peek(buf, 2, &mode, &plain, &need), FRAME_MORE);
	assert_int_equal(need, FRAME_BUF_SIZE);
	assert_int_equal(peek(buf, FRAME_BUF_SIZE - 1, &mode, &plain, &need), FRAME_MORE);
	assert_int_equal(peek(buf, FRAME_BUF_SIZE, &mode, &plain, &need), FRAME_WHOLE);
	buf[2] = 2;
	assert_int_equal(peek(buf, FRAME_BUF_SIZE, &mode, &typed, &need), FRAME_WHOLE);
}

static void test_frame_peek_stun_rules(void **state)
{
	static const struct {
		size_t off;
		uint8_t val;
		enum frame_verdict v;
		size_t at; /* the bytes that prove it */
	} cases[] = {
	    /* 1 */ {0, 0x40, FRAME_NOT_STUN, 1}, /* type's top bits */
	    /* 2 */ {0, 0x80, FRAME_NOT_STUN, 1},
	    /* 3 */ {3, 0x09, FRAME_NOT_STUN, 4},      /* not a multiple of 4 */
	    /* 4 */ {2, 0x04, FRAME_STUN_TOO_LONG, 4}, /* 20 + 0x0408 > 1024 */
	    /* 5 */ {3, 0x0b, FRAME_NOT_STUN, 4},
	    /* 6 */ {4, 0x20, FRAME_NOT_STUN, 8}, /* cookie */
	    /* 7 */ {7, 0x43, FRAME_NOT_STUN, 8},
	};
	uint8_t buf[1100];
	enum frame_mode mode;
	size_t need;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 0, sizeof(buf));
		stun_msg(buf, 1);
		buf[cases[i].off] = cases[i].val;
		for (size_t len = 0; len < sizeof(buf); len++) {
			mode = FRAME_MODE_STUN;
			if (len < cases[i].at) {
				assert_int_equal(peek(buf, len, &mode, &typed, &need), FRAME_MORE);
				assert_true(need > len);
			} else {
				/* More bytes never change a violation. */
				assert_int_equal(peek(buf, len, &mode, &typed, &need), cases[i].v);
			}
		}
	}
	/* stun_max itself is a message; 4 more is too long; a header alone is
	 * whole. */
	memset(buf, 0, sizeof(buf));
	stun_msg(buf, 1);
	buf[2] = (1024 - 20) >> 8;
	buf[3] = (1024 - 20) & 0xff;
	mode = FRAME_MODE_STUN;
	assert_int_equal(peek(buf, 4, &mode, &typed, &need), FRAME_MORE);
	assert_int_equal(need, 1024);
	assert_int_equal(peek(buf, 1024, &mode, &typed, &need), FRAME_WHOLE);
	buf[3] += 4;
	assert_int_equal(peek(buf, 4, &mode, &typed, &need), FRAME_STUN_TOO_LONG);
	buf[2] = 0;
	buf[3] = 0;
	assert_int_equal(peek(buf, 19, &mode, &typed, &need), FRAME_MORE);
	assert_int_equal(need, 20);
	assert_int_equal(peek(buf, 20, &mode, &typed, &need), FRAME_WHOLE);
}

/* Random streams in both rule sets: as bytes come in, the mode settles
 * once and stays, *need stays above what is there while the verdict is
 * MORE, and the first verdict that is not MORE never changes again. */
static void test_frame_peek_prefix_stable(void **state)
{
	static uint8_t buf[1200];

	for (int round = 0; round < 3000; round++) {
		const struct frame_rules *rules = round % 2 ? &typed : &plain;
		enum frame_mode settled = FRAME_MODE_DETECT;
		enum frame_verdict first = FRAME_MORE;
		size_t first_need = 0;

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)rng();
		/* Often a STUN start or a small framed length, so every rule
		 * gets reached. */
		if (round % 3 == 0)
			stun_msg(buf, 1);
		if (round % 5 == 0)
			buf[0] &= 0x03;
		if (round % 7 == 0)
			buf[2] = (uint8_t)(1 + rng() % 2);
		for (size_t len = 0; len <= sizeof(buf); len++) {
			enum frame_mode mode = FRAME_MODE_DETECT;
			size_t need;
			enum frame_verdict v = peek(buf, len, &mode, rules, &need);

			if (settled != FRAME_MODE_DETECT)
				assert_int_equal(mode, settled);
			settled = mode;
			if (first != FRAME_MORE) {
				assert_int_equal(v, first);
				if (v == FRAME_WHOLE)
					assert_int_equal(need, first_need);
				continue;
			}
			if (v == FRAME_MORE) {
				assert_true(need > len);
			} else {
				first = v;
				first_need = need;
				if (v == FRAME_WHOLE)
					assert_true(need <= len);
			}
		}
	}
}

static void test_frame_verdict_str(void **state)
{
	assert_string_equal(frame_verdict_str(FRAME_EMPTY), "empty frame");
	assert_string_equal(frame_verdict_str(FRAME_TOO_LONG), "frame too long for its type");
	assert_string_equal(frame_verdict_str(FRAME_NOT_STUN), "not a STUN message");
	assert_string_equal(frame_verdict_str(FRAME_STUN_TOO_LONG), "STUN message too long");
	assert_string_equal(frame_verdict_str(FRAME_WHOLE), "");
	assert_string_equal(frame_verdict_str(FRAME_MORE), "");
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
	    cmocka_unit_test(test_frame_peek_detect),
	    cmocka_unit_test(test_frame_peek_framed_lengths),
	    cmocka_unit_test(test_frame_peek_stun_rules),
	    cmocka_unit_test(test_frame_peek_prefix_stable),
	    cmocka_unit_test(test_frame_verdict_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
