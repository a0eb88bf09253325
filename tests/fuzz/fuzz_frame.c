/* Fuzz harness for the TCP stream reader (transport/frame.h).
 *
 * Input: byte 0 picks the mode (low 2 bits, mod 3) and how many times the
 * body repeats as one stream (bits 4-5: 1..4, so a few KiB of input make
 * streams that wrap the reader's buffer); byte 1 seeds the chunk sizes; the
 * rest is the body. The stream is fed twice: in the largest pieces that
 * fit, and in pseudo-random chunks (1 byte to 70 KiB) through
 * space/commit. Each run must hand out frames that are exactly the stream's
 * bytes at the position the lengths say (framed: 1..65535 with the prefix
 * before them; STUN: 20 + the length field, with the cookie), stay failed
 * once failed, never hold more than the buffer, and both runs must agree on
 * every frame, the final mode and the final status. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

struct stream {
	const uint8_t *body;
	size_t n, total;
};

static uint8_t at(const struct stream *s, size_t i)
{
	return s->body[i % s->n];
}

struct result {
	size_t frames;
	size_t consumed; /* stream bytes handed out as frames, prefixes included */
	int status;	 /* 0 or -EBADMSG */
	enum frame_mode mode;
	uint32_t hash; /* over frame lengths and positions */
};

/* Checks one frame against the stream and advances res->consumed. */
static void check_frame(const struct stream *s, const struct frame_reader *r, struct result *res,
			const uint8_t *f, size_t len)
{
	size_t pos = res->consumed;

	if (r->mode == FRAME_MODE_FRAMED) {
		check(len >= 1 && len <= FRAME_MAX);
		check(((size_t)at(s, pos) << 8 | at(s, pos + 1)) == len);
		pos += FRAME_PREFIX_LEN;
		res->consumed = pos + len;
	} else {
		check(r->mode == FRAME_MODE_STUN);
		check(len >= FRAME_STUN_HEADER_LEN && len <= FRAME_BUF_SIZE);
		check(len == FRAME_STUN_HEADER_LEN + ((size_t)f[2] << 8 | f[3]));
		check(f[4] == 0x21 && f[5] == 0x12 && f[6] == 0xa4 && f[7] == 0x42);
		res->consumed = pos + len;
	}
	check(res->consumed <= s->total);
	for (size_t j = 0; j < len; j++)
		check(f[j] == at(s, pos + j));
	res->frames++;
	res->hash = (res->hash ^ (uint32_t)len ^ (uint32_t)pos << 7) * 16777619u;
}

/* Takes frames until the reader wants more or fails. */
static void drain(const struct stream *s, struct frame_reader *r, struct result *res, size_t fed)
{
	const uint8_t *f;
	size_t len;
	int ret;

	while ((ret = frame_reader_next(r, &f, &len)) == 1)
		check_frame(s, r, res, f, len);
	check(ret == 0 || ret == -EBADMSG);
	if (ret < 0) {
		check(r->failed);
		check(frame_reader_next(r, &f, &len) == -EBADMSG);
		res->status = ret;
	}
	check(frame_reader_pending(r) <= FRAME_BUF_SIZE);
	check(res->consumed + frame_reader_pending(r) == fed);
	check(r->mode != FRAME_MODE_DETECT || fed < 8);
}

static void run_whole(const struct stream *s, struct frame_reader *r, enum frame_mode mode,
		      struct result *res)
{
	static uint8_t piece[FRAME_BUF_SIZE];
	size_t fed = 0;

	memset(res, 0, sizeof(*res));
	frame_reader_init(r, mode);
	while (fed < s->total && !res->status) {
		size_t n = s->total - fed < sizeof(piece) ? s->total - fed : sizeof(piece), took;

		for (size_t i = 0; i < n; i++)
			piece[i] = at(s, fed + i);
		took = frame_reader_push(r, piece, n);
		check(took >= 1);
		fed += took;
		drain(s, r, res, fed);
	}
	res->mode = r->mode;
}

static uint32_t rng(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void run_chunks(const struct stream *s, struct frame_reader *r, enum frame_mode mode,
		       uint32_t seed, struct result *res)
{
	size_t fed = 0;

	memset(res, 0, sizeof(*res));
	frame_reader_init(r, mode);
	while (fed < s->total && !res->status) {
		size_t room, want;
		uint8_t *space = frame_reader_space(r, &room);
		uint32_t k = rng(&seed);

		check(room >= 1 && room <= FRAME_BUF_SIZE);
		/* Mostly small reads (slowloris and short segments), some big. */
		want = k % 4 ? 1 + (k >> 8) % 16 : 1 + (k >> 8) % 70000;
		want = want < room ? want : room;
		want = want < s->total - fed ? want : s->total - fed;
		for (size_t i = 0; i < want; i++)
			space[i] = at(s, fed + i);
		check(frame_reader_commit(r, want) == 0);
		fed += want;
		drain(s, r, res, fed);
	}
	if (!res->status) {
		size_t room;

		/* Committing more than the space is refused and changes nothing. */
		frame_reader_space(r, &room);
		check(frame_reader_commit(r, room + 1) == -EINVAL);
		check(frame_reader_pending(r) + res->consumed == fed);
	}
	res->mode = r->mode;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frame_reader r;
	struct result whole, chunks;
	struct stream s;
	enum frame_mode mode;

	if (size < 3)
		return 0;
	mode = (enum frame_mode)((data[0] & 3) % 3);
	s.body = data + 2;
	s.n = size - 2;
	s.total = s.n * (1 + (size_t)(data[0] >> 4 & 3));
	run_whole(&s, &r, mode, &whole);
	run_chunks(&s, &r, mode, 0x9e3779b9u ^ data[1] ^ (uint32_t)size << 8, &chunks);
	check(whole.frames == chunks.frames);
	check(whole.consumed == chunks.consumed);
	check(whole.status == chunks.status);
	check(whole.mode == chunks.mode);
	check(whole.hash == chunks.hash);
	return 0;
}
