/* noise-vectors FILE...: runs Noise test-vector files (the standard JSON
 * format) through the engine the daemon uses (src/crypto/noise.c) and prints
 * one PASS/FAIL/SKIP line per vector, then "N passed, N failed". Exit 0 only
 * when at least one vector ran and none failed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "support/noise_vectors.h"

int main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct noise_vectors_result r;
		int ret = noise_vectors_run_file(argv[i], stdout, &r);

		passed += r.passed;
		failed += r.failed;
		if (ret < 0) {
			/* A file that cannot be read or parsed counts as a failure. */
			printf("FAIL %s: %s\n", argv[i],
			       ret == -EINVAL ? "not a Noise vector file" : strerror(-ret));
			failed++;
		}
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
