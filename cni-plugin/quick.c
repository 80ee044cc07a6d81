/* The hand-over to the plugin's server before the C library starts: see quick.h.
 *
 * This file runs before libc is set up, so it calls nothing of libc: system calls are made
 * here, there is no TLS (so no stack protector and no errno), and no FORTIFY. The compiler's
 * own calls to memcpy/memset are kept out by -fno-builtin and
 * -fno-tree-loop-distribute-patterns (cni-plugin/CMakeLists.txt), and the test
 * cni_quick_freestanding fails when the object has an undefined symbol. It gives up (returns
 * to the normal start) on anything it is not certain of:
 *   - options on the command line, CNI_COMMAND unset or VERSION, V6PD_SERVE_IDLE set;
 *   - a netconf it would have to decode: an escape in any key of the objects it reads or in
 *     the values it needs, a duplicate of a key it needs, a value of another type than
 *     expected, nesting deeper than QUICK_DEPTH, anything but one JSON object;
 *   - any failure before the server said it started the call.
 * The normal start (main(), cni_front()) then does it all again with jansson, so the quick
 * path only decides how soon a call is handed over, never what the call does. */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>

#include "config.h"
#include "quick.h"

struct quick_state quick;

#if defined(__x86_64__)

#define QUICK_DEPTH 32
#define SEND_WAIT_MS 5000
#define ANSWER_WAIT_MS (3600 * 1000)
#define ANSWER_MAX (SERVE_IN_MAX + 64 * 1024)
#define REQUEST_MAX (sizeof(struct serve_req) + SERVE_ENV_MAX + SERVE_IN_MAX)
/* One mapping for stdin, the request and the answer, one after the other: pages are made
 * as they are touched, so a call of a few KiB touches one or two. */
#define ARENA_MAX (SERVE_IN_MAX + 1 + 16 + REQUEST_MAX + 16 + ANSWER_MAX)

/* Every constant this file reads, in one object that the linker places first in .rodata
 * (cni-plugin/hot.syms): string literals would sit wherever the binary's other strings are,
 * a page fault each. */
#define K v6pd_quick_k
__attribute__((visibility("hidden"))) extern const struct quick_k {
	char cni_command[sizeof("CNI_COMMAND")], version[sizeof("VERSION")];
	char idle[sizeof(SERVE_IDLE_ENV)], state_dir[sizeof("stateDir")], type[sizeof("type")];
	char cni_version[sizeof("cniVersion")], ipam[sizeof("ipam")], v6pd[sizeof("v6pd")];
	char true_[sizeof("true")], false_[sizeof("false")], null_[sizeof("null")];
	char netns[sizeof("/proc/thread-self/ns/net")], mntns[sizeof("/proc/self/ns/mnt")];
	char exe[sizeof("/proc/self/exe")], default_dir[sizeof(CONFIG_DEFAULT_STATE_DIR)];
	char cni_[sizeof("cni-")], sock[sizeof(".sock")], magic[sizeof(SERVE_MAGIC)];
} K;
const struct quick_k K = {
	"CNI_COMMAND", "VERSION", SERVE_IDLE_ENV, "stateDir", "type", "cniVersion", "ipam",
	"v6pd", "true", "false", "null", "/proc/thread-self/ns/net", "/proc/self/ns/mnt",
	"/proc/self/exe", CONFIG_DEFAULT_STATE_DIR, "cni-", ".sock", SERVE_MAGIC,
};

/* The ELF entry point (-e v6pd_quick_entry): the stack as the kernel (or ld.so) left it goes
 * to v6pd_quick(); when it returns, glibc's _start gets the same stack and %rdx (ld.so's
 * finalizer, 0 from the kernel). */
__asm__(".text\n"
	".globl v6pd_quick_entry\n"
	".type v6pd_quick_entry,@function\n"
	"v6pd_quick_entry:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rdx, %r12\n"
	"	mov %rsp, %rbx\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call v6pd_quick\n"
	"	mov %rbx, %rsp\n"
	"	mov %r12, %rdx\n"
	"	jmp _start\n"
	".size v6pd_quick_entry, .-v6pd_quick_entry\n");

void v6pd_quick(long *sp);

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}

static long sys(long n, long a, long b, long c, long d, long e)
{
	return sys6(n, a, b, c, d, e, 0);
}

/* -errno or the result, as the kernel gives them; EINTR retried (nothing here installs a
 * handler, but a stop and continue can interrupt) */
static long sysr(long n, long a, long b, long c, long d, long e)
{
	long r;

	while ((r = sys(n, a, b, c, d, e)) == -4 /* EINTR */)
		;
	return r;
}

static size_t qlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static void qcopy(char *d, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = s[i];
}

static bool qeq(const char *a, size_t n, const char *b)
{
	size_t i = 0;

	for (; i < n; i++)
		if (b[i] != a[i])
			return false;
	return b[i] == '\0';
}

/* getenv() of envp: the value, or NULL */
static const char *qenv(char **envp, const char *name)
{
	size_t n = qlen(name);

	for (; *envp; envp++) {
		size_t i = 0;

		while (i < n && (*envp)[i] == name[i])
			i++;
		if (i == n && (*envp)[n] == '=')
			return *envp + n + 1;
	}
	return NULL;
}

static void *qmap(size_t n)
{
	long p = sys6(SYS_mmap, 0, (long)n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);

	return p < 0 && p > -4096 ? NULL : (void *)p;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)sys(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0, 0);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------ the netconf */
struct span {
	const char *s;
	size_t n;
	bool set;
};

struct scan {
	const char *p, *end;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* A string: its contents in *ret when it has no escapes (plain is then true). */
static bool string(struct scan *s, struct span *ret, bool *plain)
{
	const char *b;

	*plain = true;
	if (s->p >= s->end || *s->p != '"')
		return false;
	b = ++s->p;
	while (s->p < s->end && *s->p != '"') {
		unsigned char c = (unsigned char)*s->p++;

		if (c < 0x20)
			return false;
		if (c == '\\') {
			*plain = false;
			if (s->p++ >= s->end)
				return false;
		}
	}
	if (s->p >= s->end)
		return false;
	ret->s = b;
	ret->n = (size_t)(s->p - b);
	s->p++;
	return true;
}

static bool literal(struct scan *s, const char *w)
{
	size_t n = qlen(w);

	if ((size_t)(s->end - s->p) < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s->p[i] != w[i])
			return false;
	s->p += n;
	return true;
}

static bool value(struct scan *s, int depth);

/* An object or array after its opening bracket, up to and with its closing one; members of
 * an object only skipped. */
static bool compound(struct scan *s, char close, int depth)
{
	struct span k;
	bool plain;

	if (depth > QUICK_DEPTH)
		return false;
	ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return true;
	}
	for (;;) {
		ws(s);
		if (close == '}') {
			if (!string(s, &k, &plain))
				return false;
			ws(s);
			if (s->p >= s->end || *s->p++ != ':')
				return false;
		}
		if (!value(s, depth + 1))
			return false;
		ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == close) {
			s->p++;
			return true;
		}
		if (*s->p++ != ',')
			return false;
	}
}

static bool value(struct scan *s, int depth)
{
	struct span v;
	bool plain;
	const char *b;

	ws(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '"':
		return string(s, &v, &plain);
	case '{':
		s->p++;
		return compound(s, '}', depth);
	case '[':
		s->p++;
		return compound(s, ']', depth);
	case 't':
		return literal(s, K.true_);
	case 'f':
		return literal(s, K.false_);
	case 'n':
		return literal(s, K.null_);
	}
	b = s->p;
	while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || *s->p == '-' || *s->p == '+' ||
				 *s->p == '.' || *s->p == 'e' || *s->p == 'E'))
		s->p++;
	return s->p > b;
}

/* What the hand-over needs of the netconf. */
struct conf {
	struct span type, version, state_dir, ipam_state_dir;
	bool ipam;
};

/* A plain string value for a key that must appear once. */
static bool keep(struct scan *s, struct span *ret)
{
	bool plain;

	if (ret->set)
		return false;
	ws(s);
	if (!string(s, ret, &plain) || !plain)
		return false;
	ret->set = true;
	return true;
}

/* The members of an object after its '{' (top: the netconf; else "ipam"). */
static bool members(struct scan *s, struct conf *c, bool top)
{
	struct span k;
	bool plain, ok;

	ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return true;
	}
	for (;;) {
		ws(s);
		if (!string(s, &k, &plain) || !plain)
			return false;
		ws(s);
		if (s->p >= s->end || *s->p++ != ':')
			return false;
		if (qeq(k.s, k.n, K.state_dir)) {
			ok = keep(s, top ? &c->state_dir : &c->ipam_state_dir);
		} else if (top && qeq(k.s, k.n, K.type)) {
			ok = keep(s, &c->type);
		} else if (top && qeq(k.s, k.n, K.cni_version)) {
			ok = keep(s, &c->version);
		} else if (top && qeq(k.s, k.n, K.ipam)) {
			ws(s);
			ok = !c->ipam && s->p < s->end && *s->p == '{';
			if (ok) {
				c->ipam = true;
				s->p++;
				ok = members(s, c, false);
			}
		} else {
			ok = value(s, 1);
		}
		if (!ok)
			return false;
		ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == '}') {
			s->p++;
			return true;
		}
		if (*s->p++ != ',')
			return false;
	}
}

/* The state directory, as front.c's state_dir_of() reads it; false: not certain. */
static bool state_dir(const char *in, size_t len, struct span *ret)
{
	struct scan s = { .p = in, .end = in + len };
	struct conf c;

	c.type.set = c.version.set = c.state_dir.set = c.ipam_state_dir.set = c.ipam = false;
	ws(&s);
	if (s.p >= s.end || *s.p++ != '{' || !members(&s, &c, true))
		return false;
	ws(&s);
	if (s.p != s.end)
		return false;
	if (!(c.type.set && qeq(c.type.s, c.type.n, K.v6pd)) && c.ipam)
		c.state_dir = c.ipam_state_dir;
	if (!c.state_dir.set) {
		c.state_dir.s = K.default_dir;
		c.state_dir.n = qlen(K.default_dir);
	}
	*ret = c.state_dir;
	return ret->n > 0 && ret->s[0] == '/';
}

/* ------------------------------------------------------------------------ the hand-over */
static char *utoa(char *p, uint64_t v)
{
	char t[24];
	int n = 0;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = t[--n];
	return p;
}

/* STATE_DIR/cni-NETNS.sock, as serve_socket_path() makes it */
static bool socket_path(const struct span *dir, char *buf)
{
	char tail[48], *e;
	struct stat st;
	size_t n = dir->n, k;

	if (sys(SYS_newfstatat, AT_FDCWD, (long)K.netns, (long)&st, 0, 0) < 0)
		return false;
	e = tail;
	if (dir->s[n - 1] != '/')
		*e++ = '/';
	qcopy(e, K.cni_, 4);
	e = utoa(e + 4, st.st_ino);
	qcopy(e, K.sock, 6);
	k = qlen(tail);
	if (n + k >= SERVE_SOCKET_MAX)
		return false;
	qcopy(buf, dir->s, n);
	qcopy(buf + n, tail, k + 1);
	return true;
}

static bool identity(struct serve_req *h)
{
	struct stat mnt, exe;

	if (sys(SYS_newfstatat, AT_FDCWD, (long)K.mntns, (long)&mnt, 0, 0) < 0 ||
	    sys(SYS_newfstatat, AT_FDCWD, (long)K.exe, (long)&exe, 0, 0) < 0)
		return false;
	h->mnt_ns = mnt.st_ino;
	h->exe_dev = exe.st_dev;
	h->exe_ino = exe.st_ino;
	h->exe_mtime_ns = (int64_t)exe.st_mtim.tv_sec * 1000000000 + exe.st_mtim.tv_nsec;
	return true;
}

/* The request, as front.c's request() makes it, in buf (REQUEST_MAX bytes); false: too
 * big. */
static bool request(char **envp, const char *in, size_t in_len, char *buf, size_t *ret_len)
{
	struct serve_req h;
	size_t env_len = 0, off;

	for (char **e = envp; *e; e++)
		env_len += qlen(*e) + 1;
	if (env_len > SERVE_ENV_MAX || in_len > SERVE_IN_MAX || !identity(&h))
		return false;
	qcopy(h.magic, K.magic, sizeof(h.magic));
	h.env_len = (uint32_t)env_len;
	h.in_len = (uint32_t)in_len;
	qcopy(buf, (const char *)&h, sizeof(h));
	off = sizeof(h);
	for (char **e = envp; *e; e++) {
		size_t n = qlen(*e) + 1;

		qcopy(buf + off, *e, n);
		off += n;
	}
	qcopy(buf + off, in, in_len);
	*ret_len = off + in_len;
	return true;
}

/* After EAGAIN: waits until fd is ready, at most wait_ms from the first wait on (one clock
 * reading per wait); 0 when ready, -ETIMEDOUT, or another -errno. */
static long await(int fd, short events, int64_t *deadline, int64_t wait_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t now = now_ms(), left;
	long k;

	if (!*deadline)
		*deadline = now + wait_ms;
	left = *deadline - now;
	if (left <= 0)
		return -110;	/* ETIMEDOUT */
	k = sysr(SYS_poll, (long)&p, 1, left > 0x7fffffff ? 0x7fffffff : (long)left, 0, 0);
	return k < 0 ? k : k == 0 ? -110 : 0;
}

static long send_all(int fd, const char *p, size_t n)
{
	int64_t deadline = 0;

	while (n) {
		long k = sysr(SYS_sendto, fd, (long)p, (long)n, MSG_DONTWAIT | MSG_NOSIGNAL, 0);

		if (k == -11 /* EAGAIN */) {
			if ((k = await(fd, POLLOUT, &deadline, SEND_WAIT_MS)) < 0)
				return k;
			continue;
		}
		if (k <= 0)
			return k < 0 ? k : -32;	/* EPIPE */
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Everything until EOF, at most max bytes; 0 or -errno (what came is in *ret_len). */
static long recv_all(int fd, char *buf, size_t max, size_t *ret_len)
{
	int64_t deadline = 0;

	*ret_len = 0;
	for (;;) {
		long k;

		if (*ret_len == max)
			return -90;	/* EMSGSIZE */
		k = sysr(SYS_recvfrom, fd, (long)(buf + *ret_len), (long)(max - *ret_len),
			 MSG_DONTWAIT, 0);
		if (k == 0)
			return 0;
		if (k == -11 /* EAGAIN */) {
			if ((k = await(fd, POLLIN, &deadline, ANSWER_WAIT_MS)) < 0)
				return k;
			continue;
		}
		if (k < 0)
			return k;
		*ret_len += (size_t)k;
	}
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		long k = sysr(SYS_write, fd, (long)p, (long)n, 0, 0);

		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

/* The answer written out and the process ended with its status; or returns (not one). */
static void answer(const char *buf, size_t len)
{
	struct serve_ans a;

	if (len < sizeof(a))
		return;
	qcopy((char *)&a, buf, sizeof(a));
	for (size_t i = 0; i < sizeof(a.magic); i++)
		if (a.magic[i] != K.magic[i])
			return;
	if (!serve_ans_whole(&a, len))
		return;
	write_all(1, buf + sizeof(a), a.out_len);
	write_all(2, buf + sizeof(a) + a.out_len, a.err_len);
	for (;;)
		(void)sys(SYS_exit_group, a.status, 0, 0, 0, 0);
}

/* stdin, whole, into st->in (at most SERVE_IN_MAX bytes: a bigger one is read on by
 * main()). */
static bool read_stdin(struct quick_state *st)
{
	for (;;) {
		long k = sysr(SYS_read, 0, (long)(st->in + st->in_len),
			      (long)(SERVE_IN_MAX + 1 - st->in_len), 0, 0);

		if (k < 0)
			return false;
		if (k == 0) {
			st->in_eof = true;
			return true;
		}
		st->in_len += (size_t)k;
		if (st->in_len > SERVE_IN_MAX)
			return false;
	}
}

static size_t align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

static bool peer_trusted(int fd)
{
	struct ucred cr;
	socklen_t n = sizeof(cr);

	if (sys(SYS_getsockopt, fd, SOL_SOCKET, SO_PEERCRED, (long)&cr, (long)&n) < 0 ||
	    n != sizeof(cr))
		return false;
	return cr.uid == 0 || cr.uid == (uid_t)sys(SYS_geteuid, 0, 0, 0, 0, 0);
}

/* What main() must know, left there when the call is not served here (quick.h). Until
 * then it is kept on the stack: a write to .bss is a page fault of its own. */
static void leave(const struct quick_state *st)
{
	qcopy((char *)&quick, (const char *)st, sizeof(*st));
}

void v6pd_quick(long *sp)
{
	long argc = sp[0], fd, r;
	char **envp = (char **)(sp + 1 + argc + 1);
	const char *cmd = qenv(envp, K.cni_command);
	struct quick_state st;
	struct sockaddr_un sa;
	struct span dir;
	char *req, *ans;
	size_t req_len, ans_len;

	if (argc != 1 || !cmd || qeq(cmd, qlen(cmd), K.version) || qenv(envp, K.idle))
		return;
	st.outcome = QUICK_UNTRIED;
	st.in_len = 0;
	st.in_eof = false;
	if (!(st.in = qmap(ARENA_MAX)))
		return;
	req = NULL;
	if (read_stdin(&st) && state_dir(st.in, st.in_len, &dir) && socket_path(&dir, st.path))
		req = st.in + align16(st.in_len);
	if (!req || !request(envp, st.in, st.in_len, req, &req_len)) {
		leave(&st);
		return;
	}
	ans = req + align16(req_len);
	fd = sys(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, 0, 0);
	if (fd < 0) {
		leave(&st);
		return;
	}
	sa.sun_family = AF_UNIX;
	qcopy(sa.sun_path, st.path, qlen(st.path) + 1);
	r = sysr(SYS_connect, fd, (long)&sa, sizeof(sa), 0, 0);
	if (r == -2 /* ENOENT */ || r == -111 /* ECONNREFUSED */)
		st.outcome = QUICK_NOBODY;
	if (r < 0 || !peer_trusted(fd) || send_all(fd, req, req_len) < 0 ||
	    sys(SYS_shutdown, fd, SHUT_WR, 0, 0, 0) < 0)
		goto out;
	r = recv_all(fd, ans, ANSWER_MAX, &ans_len);
	if (ans_len >= 1 && ans[0] == SERVE_STARTED[0]) {
		answer(ans + 1, ans_len - 1);
		st.outcome = QUICK_LOST;
	} else if (r == 0) {
		answer(ans, ans_len);
		st.outcome = QUICK_DECLINED;
	} else if (r == -110) {
		st.outcome = QUICK_LOST;	/* an hour: it is running there */
	}
out:
	(void)sys(SYS_close, fd, 0, 0, 0, 0);
	leave(&st);
}

#endif
