/* cni-spawn: bench/cni's launcher. Runs one command the way a container runtime runs a CNI
 * plugin (stdin from a file, stdout and stderr to files, the environment as given) and prints
 * what it cost on one line:
 *
 *     STATUS WALL_NS USER_US SYS_US MAXRSS_KB
 *
 * WALL_NS is spawn to reap (CLOCK_MONOTONIC); USER_US, SYS_US and MAXRSS_KB come from wait4(),
 * so they cover the command and the children it waited for (the reference bridge plugin and
 * its host-local). ru_maxrss counts the spawning process's own pages too (the child shares or
 * copies them until exec): this launcher is static and small so that floor stays far below
 * any plugin's figure, and `cni-spawn --noop` measures it.
 *
 *     cni-spawn STDIN_FILE STDOUT_FILE STDERR_FILE PROGRAM [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	struct timespec t0, t1;
	struct rusage ru;
	pid_t pid;
	int st, r;

	if (argc == 2 && strcmp(argv[1], "--noop") == 0)
		return 0;
	if (argc < 5) {
		(void)fprintf(stderr, "usage: cni-spawn STDIN_FILE STDOUT_FILE STDERR_FILE PROGRAM "
				      "[ARG...]\n");
		return 2;
	}
	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 0, argv[1], O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 1, argv[2], O_WRONLY | O_CREAT | O_TRUNC,
					     0600) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 2, argv[3], O_WRONLY | O_CREAT | O_TRUNC,
					     0600) != 0) {
		perror("cni-spawn: file actions");
		return 2;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	r = posix_spawn(&pid, argv[4], &fa, NULL, argv + 4, environ);
	if (r != 0) {
		(void)fprintf(stderr, "cni-spawn: %s: %s\n", argv[4], strerror(r));
		return 2;
	}
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("cni-spawn: wait4");
			return 2;
		}
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	(void)printf("%d %lld %lld %lld %ld\n",
		     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
		     (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec),
		     (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
		     (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec, ru.ru_maxrss);
	return 0;
}
