/* netlink's internals, shared by netlink.c and netlink_route.c only: the context and the one
 * translation of libnl errors. */
#pragma once

#include <netlink/handlers.h>
#include <netlink/netlink.h>

#include "netlink.h"

#define NL_DUMP_TRIES 5		/* dumps the kernel interrupts (NLE_DUMP_INTR) are retried */

struct nl_ctx {
	struct nl_sock *sk;
	int kernel_err;		/* errno of the last NLMSG_ERROR; 0: none */
	char extack[160];	/* its NLMSGERR_ATTR_MSG; "" when none */
};

/* The errno behind a libnl result: the kernel's own when it sent one (libnl folds many
 * into NLE_FAILURE, ENOTCONN among them), else libnl's code mapped back. */
int nl_ctx_errno(const struct nl_ctx *ctx, int nle);
/* The one place a libnl failure becomes -errno plus a message: "<what>: <strerror>". */
int nl_ctx_fail(const struct nl_ctx *ctx, int nle, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Forgets the last kernel error, before a request whose result nl_ctx_errno() reads. */
void nl_ctx_reset(struct nl_ctx *ctx);
/* Sends msg (borrowed), waits for the ACK. 0 or -NLE_*; the kernel's errno is in ctx. */
int nl_ctx_call(struct nl_ctx *ctx, struct nl_msg *msg);
/* nl_ctx_call() for a delete request: 1 when something went, 0 when the kernel answered
 * with errno absent or absent2 (it was not there), else the -NLE_* for nl_ctx_fail(). */
int nl_ctx_call_delete(struct nl_ctx *ctx, struct nl_msg *msg, int absent, int absent2);
/* Sends the dump request msg (borrowed) and hands every reply to fn. 0 or -NLE_*. */
int nl_ctx_dump(struct nl_ctx *ctx, struct nl_msg *msg, nl_recvmsg_msg_cb_t fn, void *arg);
