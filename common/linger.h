/* linger: what the lingering servers share (v6pd-dns-http, the CNI plugin's `v6pd --serve`):
 * one process per unix socket, chosen by a lock file beside it; a socket file it alone may
 * replace; clients that are root or its own uid.
 *
 * Who serves: the process that holds the lock (flock: the kernel lets go of it when its
 * holder dies, even by SIGKILL). A new one takes the lock or exits at once, so two started
 * together leave one; the holder alone removes a socket file left by a dead one and binds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* The lock file beside a socket: "x.sock" -> "x.lock". 0 or -ENAMETOOLONG. */
int linger_lock_path(const char *sock_path, char *buf, size_t size);

/* 1: this process now serves sock_path (the lock is held, its fd kept open for life, and the
 * file says our PID, for people); 0: another process does; a negative errno. */
int linger_take_lock(const char *sock_path);

/* Binds and listens on path (SOCK_STREAM, non-blocking, close-on-exec) after removing a
 * socket file left there; anything else at path is not ours to remove (-EEXIST). Returns the
 * fd and the socket file's identity in *ret_st, or a negative errno. */
int linger_listen(const char *path, struct stat *ret_st);

/* Whether the socket file at path is still the one linger_listen() made: a state directory
 * removed (a test's, a node's reset) takes its server with it. */
bool linger_socket_is(const char *path, const struct stat *st);

/* The peer is root or runs as our own uid (SO_PEERCRED); *ret_uid gets its uid (-1 unknown). */
bool linger_peer_allowed(int fd, long *ret_uid);

/* How long a server lingers without a call: the duration in environment variable name (this
 * thread's, tenv.h: "60s", "2m"; "0": no server at all), else dflt. Seconds. */
int64_t linger_idle_seconds(const char *name, int64_t dflt);

/* ---- the stream both ends of a server's protocol use ---- */

/* CLOCK_MONOTONIC in ms: the deadlines below. */
int64_t linger_now_ms(void);
/* Sends all of buf on a socket (MSG_NOSIGNAL: a peer that died cannot raise SIGPIPE) before
 * deadline. 0, -ETIMEDOUT, or a negative errno. No message. */
int linger_send_all(int fd, const char *buf, size_t len, int64_t deadline);
/* Reads to EOF (at most max bytes) before deadline: *ret (free()) gets the bytes, NUL
 * terminated, *ret_len their length. 0, -ETIMEDOUT, -EMSGSIZE, -ENOMEM or a negative errno.
 * No message. */
int linger_recv_all(int fd, size_t max, int64_t deadline, char **ret, size_t *ret_len);
