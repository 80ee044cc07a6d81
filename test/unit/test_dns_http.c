/* What both ends of v6pd-dns-http's protocol share (dns_http_sock.c): the lingering helper's
 * socket path (per state directory and network namespace, refused when relative or too long
 * for a unix socket), its idle time from V6PD_DNS_HTTP_IDLE, and the socket I/O's deadlines,
 * size cap and dead peers (no SIGPIPE). Real socketpairs; no root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns_http.h"

static void test_socket_path(void **state)
{
	char buf[DNS_HTTP_SOCKET_MAX], want[DNS_HTTP_SOCKET_MAX], dir[200];
	struct stat st;

	(void)state;
	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	(void)snprintf(want, sizeof(want), "/var/lib/v6pd/dns-http-%llu.sock",
		       (unsigned long long)st.st_ino);
	assert_int_equal(dns_http_socket_path("/var/lib/v6pd", buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	assert_int_equal(dns_http_socket_path("/var/lib/v6pd/", buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	assert_int_equal(dns_http_socket_path("state", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(dns_http_socket_path(NULL, buf, sizeof(buf)), -EINVAL);
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	assert_int_equal(dns_http_socket_path(dir, buf, sizeof(buf)), -ENAMETOOLONG);
}

static void test_idle(void **state)
{
	(void)state;
	assert_int_equal(unsetenv(DNS_HTTP_IDLE_ENV), 0);
	assert_int_equal(dns_http_idle_seconds(), DNS_HTTP_IDLE_DEFAULT);
	assert_int_equal(setenv(DNS_HTTP_IDLE_ENV, "2m", 1), 0);
	assert_int_equal(dns_http_idle_seconds(), 120);
	assert_int_equal(setenv(DNS_HTTP_IDLE_ENV, "0", 1), 0);
	assert_int_equal(dns_http_idle_seconds(), 0);	/* no lingering helper */
	assert_int_equal(setenv(DNS_HTTP_IDLE_ENV, "soon", 1), 0);
	assert_int_equal(dns_http_idle_seconds(), DNS_HTTP_IDLE_DEFAULT);
	assert_int_equal(unsetenv(DNS_HTTP_IDLE_ENV), 0);
}

static void test_stream(void **state)
{
	static char big[100000];
	char *got = NULL;
	size_t len = 0;
	int sv[2];

	(void)state;
	/* to EOF, across many reads */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	memset(big, 'x', sizeof(big));
	if (fork() == 0) {
		(void)close(sv[1]);
		_exit(linger_send_all(sv[0], big, sizeof(big), linger_now_ms() + 5000) ? 1 : 0);
	}
	(void)close(sv[0]);
	assert_int_equal(linger_recv_all(sv[1], 1 << 20, linger_now_ms() + 5000, &got, &len),
			 0);
	assert_int_equal(len, sizeof(big));
	assert_int_equal(got[len], '\0');
	free(got);
	(void)close(sv[1]);
	/* more than max */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(linger_send_all(sv[0], big, 9000, linger_now_ms() + 1000), 0);
	(void)close(sv[0]);
	assert_int_equal(linger_recv_all(sv[1], 8192, linger_now_ms() + 1000, &got, &len),
			 -EMSGSIZE);
	(void)close(sv[1]);
	/* no EOF before the deadline */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(linger_send_all(sv[0], "{", 1, linger_now_ms() + 1000), 0);
	assert_int_equal(linger_recv_all(sv[1], 8192, linger_now_ms() + 100, &got, &len),
			 -ETIMEDOUT);
	/* a peer that is gone: an error, not SIGPIPE */
	(void)close(sv[1]);
	assert_int_equal(linger_send_all(sv[0], "{}", 2, linger_now_ms() + 1000), -EPIPE);
	(void)close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
