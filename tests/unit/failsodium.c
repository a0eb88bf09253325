/* LD_PRELOAD shim for test_init: a libsodium whose sodium_init() fails, so
 * the real p2pvpnd, p2pvpn-rendezvous and p2pvpnctl binaries can be run
 * against the failure they must refuse to start on. Nothing of the project
 * is replaced, only the library call. */
int sodium_init(void);

int sodium_init(void)
{
	return -1;
}
