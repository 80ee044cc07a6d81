/* Running the PowerDNS backend in the dynamically linked v6pdctl (dns.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns.h"
#include "err.h"
#include "store.h"

extern char **environ;

/* v6pdctl beside this binary (a build tree, or both in one bin dir), else where the install
 * target puts it. */
static int find_v6pdctl(char *buf, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(buf, size, "%s/v6pdctl", self) < size &&
			    access(buf, X_OK) == 0)
				return 0;
		}
	}
	(void)snprintf(buf, size, "%s/v6pdctl", V6PD_SBINDIR);
	if (access(buf, X_OK) == 0)
		return 0;
	return err_set(-ENOENT, "powerdns: v6pdctl is neither beside v6pd nor in %s", V6PD_SBINDIR);
}

/* The PowerDNS backend needs libcurl, which this statically linked plugin must not load
 * (dns.h): the dynamically linked v6pdctl does the work from the store. Its stdout must not
 * reach the runtime (it would corrupt the CNI result); its stderr becomes our message. */
int dns_pdns_via_v6pdctl(struct store *s, const char *network)
{
	char ctl[PATH_MAX], msg[512] = "";
	char *argv[] = { ctl, "--state-dir", (char *)store_state_dir(s), "dns", "sync", "--network",
			 (char *)network, NULL };
	posix_spawn_file_actions_t fa;
	int pipefd[2] = { -1, -1 }, status = 0, r;
	size_t got = 0;
	ssize_t k;
	pid_t pid;

	if ((r = find_v6pdctl(ctl, sizeof(ctl))) < 0)
		return r;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return err_set(-errno, "powerdns: pipe: %s", strerror(errno));
	if ((r = posix_spawn_file_actions_init(&fa)) != 0) {
		(void)close(pipefd[0]);
		(void)close(pipefd[1]);
		return err_set(-r, "powerdns: %s", strerror(r));
	}
	(void)posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	(void)posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	(void)posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	r = posix_spawn(&pid, ctl, &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(pipefd[1]);
	if (r != 0) {
		(void)close(pipefd[0]);
		return err_set(-r, "powerdns: running %s: %s", ctl, strerror(r));
	}
	while (got < sizeof(msg) - 1 &&
	       ((k = read(pipefd[0], msg + got, sizeof(msg) - 1 - got)) > 0 || (k < 0 && errno == EINTR)))
		if (k > 0)
			got += (size_t)k;
	msg[got] = '\0';
	(void)close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_set(-errno, "powerdns: waiting for %s: %s", ctl, strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	msg[strcspn(msg, "\n")] = '\0';
	return err_set(-EIO, "%s", msg[0] ? msg : "powerdns: v6pdctl dns sync failed");
}
