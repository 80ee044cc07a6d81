/* The hand-over to the plugin's server before the C library starts (quick.c).
 *
 * A served call's own process does little: it reads stdin, finds the state directory in the
 * netconf, hands both with its environment to the server (serve.h) and writes out the answer.
 * Yet glibc's start-up costs more than all of that on a virtual machine: it asks CPUID for
 * the CPU's features and caches some 50 times, and each CPUID traps to the hypervisor (6.5 us
 * on the VM bench/cni ran on: 0.35 ms of a static no-op process's 0.75 ms). So the plugin's
 * ELF entry point, v6pd_quick_entry, tries the hand-over first with system calls alone.
 * Whatever it cannot do with certainty it leaves to the normal start: it returns, glibc's
 * _start runs as if nothing had happened, and main() finds here what was done already. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "serve.h"

enum quick_outcome {
	QUICK_UNTRIED,	/* not tried, or given up before any server saw it: cni_front() */
	QUICK_NOBODY,	/* no server at .path: run here, then start one there */
	QUICK_DECLINED,	/* the server at .path declined (another mount namespace): run here */
	QUICK_LOST,	/* the server at .path started it and gave no answer: CNI error 11 */
};

struct quick_state {
	enum quick_outcome outcome;
	char *in;		/* stdin as read so far (NULL: nothing read) */
	size_t in_len;
	bool in_eof;		/* ...and it is all of it */
	char path[SERVE_SOCKET_MAX];
};

/* Set before main() runs; zero when the quick path was not built in or never ran. */
extern struct quick_state quick;
