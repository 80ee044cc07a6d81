/* v6pd-dns-http: the PowerDNS backend's HTTP exchanges for the statically linked v6pd and
 * v6pd-libvirt-hook, which cannot load libcurl themselves (common/dns.h). Linked
 * dynamically; started by common/dns_spawn.c, never by hand. Two ways:
 *
 *   v6pd-dns-http --serve SOCKET   lingers: serves every client of SOCKET (serve.c) until
 *                                  it has been idle for V6PD_DNS_HTTP_IDLE (60 s)
 *   v6pd-dns-http                  one request on stdin, one answer on stdout (a socketpair)
 *
 * The protocol: common/dns_http.h. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "dns_http.h"
#include "err.h"
#include "helper.h"

/* The requests carry the API key: jansson's copies of it are wiped when freed. */
static void wiping_free(void *p)
{
	if (p)
		explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* Writes the answer and ends at once: the parent reads to EOF, and exit()'s clean-up of
 * libcurl's libraries (OpenSSL's atexit handler among them) would cost it ~1 ms. */
static int once(void)
{
	struct dns_http_session *s = NULL;
	char *request = NULL, *answer;
	size_t len = 0;
	int r;

	/* The parent is still busy: the ~5 ms of loading libcurl's libraries overlap its work. */
	if ((r = dns_http_session_new(&s)) < 0)
		answer = helper_error_answer(err_msg(r));
	else if ((r = linger_recv_all(STDIN_FILENO, DNS_HTTP_REQUEST_MAX, INT64_MAX, &request,
					&len)) < 0)
		answer = helper_error_answer(err_msg(err_set(r, "powerdns: %s: reading the "
							      "request: %s", DNS_HTTP_HELPER,
							      strerror(-r))));
	else
		answer = helper_exchange(s, request);
	if (request)
		explicit_bzero(request, len);
	r = answer && linger_send_all(STDOUT_FILENO, answer, strlen(answer), INT64_MAX) == 0;
	_exit(r ? 0 : 1);
}

/* Leaves the caller behind: a session of its own (a runtime's kill of its process group
 * misses it), no descriptor of the caller's (which could hold a runtime's pipe open), /dev/null
 * for the standard ones, / as the working directory, no core dumps (the API keys). */
static int serve(const char *path)
{
	int null;

	(void)close_range(3, ~0U, 0);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return 1;
	for (int fd = 0; fd < 3; fd++)
		if (dup2(null, fd) < 0)
			return 1;
	if (null > 2)
		(void)close(null);
	(void)setsid();
	if (chdir("/") < 0)
		return 1;
	(void)umask(0177);	/* the socket: 0600 */
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	_exit(helper_serve(path, dns_http_idle_seconds()));
}

int main(int argc, char **argv)
{
	json_set_alloc_funcs(malloc, wiping_free);
	json_object_seed(0);	/* before any thread: the seed is set once */
	if (argc == 3 && strcmp(argv[1], "--serve") == 0 && argv[2][0] == '/')
		return serve(argv[2]);
	if (argc > 1 || isatty(STDIN_FILENO)) {
		(void)fprintf(stderr, "%s: a helper of v6pd (the PowerDNS API through libcurl); "
				      "not meant to be run by hand\n", DNS_HTTP_HELPER);
		return 2;
	}
	return once();
}
