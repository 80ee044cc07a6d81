/* The CNI plugin's lingering server, `v6pd --serve SOCKET` (serve.c), and its client, the
 * start of every `v6pd` call (front.c).
 *
 * A call in a one-shot process pays for its start every time: the store opened (SQLite reads
 * and parses the schema, rebuilds the WAL index), OpenSSL's algorithm tables built, the
 * binary's pages faulted in. The server keeps all of that between calls. A call connects to
 * it, hands over its environment and stdin, and writes out what comes back; only the
 * kernel's work (the veth, addresses, routes) is left on its path. Without a server (none
 * yet, or it declined) the call runs here, as before, then starts one for the next calls.
 *
 * One server per state directory and host network namespace, like v6pd-dns-http:
 * STATE_DIR/cni-NETNS.sock (0600, root or our uid), its lock beside it (linger.h). It
 * serves callers in its own mount namespace only (paths must mean the same thing), runs each
 * request on a thread of its own with the caller's environment (tenv.h), lends it a store
 * from its pool, and exits after V6PD_SERVE_IDLE (default 60 s) without a request, when its
 * socket or state directory goes, or when the binary it was started from is replaced (its
 * callers then run it themselves until it is gone). V6PD_SERVE_IDLE=0: no server, every call
 * in its own process. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SERVE_IDLE_ENV "V6PD_SERVE_IDLE"
#define SERVE_IDLE_DEFAULT 60
#define SERVE_SOCKET_MAX 108	/* sizeof(sun_path) */

/* The request: this header, env_len bytes of "NAME=value\0" strings, in_len bytes of stdin,
 * then EOF (shutdown). The answer: SERVE_STARTED once the call runs, then its header,
 * out_len bytes of stdout, err_len of stderr; a declined request gets the header alone
 * (status SERVE_DECLINED). A caller runs its call itself only when SERVE_STARTED never came:
 * after it, the call may have run in part, and a missing answer is an error (CNI code 11). */
#define SERVE_MAGIC "v6pdcni1"
#define SERVE_ENV_MAX (256u * 1024)
#define SERVE_IN_MAX (16u * 1024 * 1024)
struct serve_req {
	char magic[8];
	uint32_t env_len, in_len;
	uint64_t mnt_ns;		/* the caller's mount namespace (inode) */
	uint64_t exe_dev, exe_ino;	/* the caller's binary */
	int64_t exe_mtime_ns;
};
#define SERVE_DECLINED (-1)	/* status: not served; run it yourself */
#define SERVE_STARTED "R"	/* one byte: the call runs */
struct serve_ans {
	char magic[8];
	int32_t status;		/* the exit status, or SERVE_DECLINED */
	uint32_t out_len, err_len;
};
/* Whether an answer of len bytes (at least its header a) holds a status and exactly its
 * two outputs. Freestanding, for quick.c too; the magic is the caller's to compare. */
static inline bool serve_ans_whole(const struct serve_ans *a, size_t len)
{
	return a->status >= 0 && a->out_len <= len - sizeof(*a) &&
	       a->err_len == len - sizeof(*a) - a->out_len;
}

/* The state directory the netconf names (the IPAM role's in "ipam"), or the default; NULL
 * when it is not usable (the call itself then says why). statedir.c. */
const char *serve_state_dir(json_t *conf);
/* V6PD_SERVE_IDLE in seconds (this thread's environment); 0: off. */
int64_t serve_idle_seconds(void);
/* STATE_DIR/cni-NETNS.sock for this thread's network namespace. 0 or a negative errno. */
int serve_socket_path(const char *state_dir, char buf[SERVE_SOCKET_MAX]);
/* This process's mount namespace and binary, as a request carries them. 0 or -errno. */
int serve_identity(struct serve_req *h);

/* front.c: asks the server of the call's state directory to run it. in/in_len: stdin, read
 * already. 1: served (*ret_status is the exit status; its stdout and stderr are written);
 * 0: run it here; then, when *ret_start and the call succeeded, start a server at path. */
int cni_front(const char *in, size_t in_len, int *ret_status, bool *ret_start,
	      char path[SERVE_SOCKET_MAX]);
/* Seeds jansson's hashes with one getrandom() (before any JSON is parsed). */
void cni_front_seed(void);
/* The answer of a call the server at path started and never answered (CNI error 11,
 * printed); the exit status. For quick.c's QUICK_LOST. */
int cni_front_lost(const char *in, size_t in_len, const char *path);
/* Starts `v6pd --serve path` detached (its own session, stdio on /dev/null). */
void cni_front_start(const char *path);

/* serve.c: `v6pd --serve path`. The exit status. */
int cni_serve(const char *path);
