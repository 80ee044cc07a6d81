/* What both ends of v6pd-dns-http's protocol share (dns_http.h): where the lingering helper
 * listens and how long it lingers (the socket I/O with deadlines is linger.h's). */
#include "dns_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


int dns_http_socket_path(const char *state_dir, char *buf, size_t size)
{
	struct stat st;
	int n;

	if (!state_dir || state_dir[0] != '/')
		return -EINVAL;
	/* thread-self: the main thread may be inside a container's namespace meanwhile */
	if (stat("/proc/thread-self/ns/net", &st) < 0)
		return -errno;
	n = snprintf(buf, size, "%s%sdns-http-%llu.sock", state_dir,
		     state_dir[strlen(state_dir) - 1] == '/' ? "" : "/",
		     (unsigned long long)st.st_ino);
	if (n < 0 || (size_t)n >= size || (size_t)n >= DNS_HTTP_SOCKET_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int64_t dns_http_idle_seconds(void)
{
	return linger_idle_seconds(DNS_HTTP_IDLE_ENV, DNS_HTTP_IDLE_DEFAULT);
}
