/* cni.h's io: stdio and a store per call, unless a server set a request's own. */
#include "cni.h"

static _Thread_local const struct cni_io *cur;

void cni_io_set(const struct cni_io *io)
{
	cur = io;
}

const struct cni_io *cni_io_current(void)
{
	return cur;
}

FILE *cni_io_input(char *buf, size_t len)
{
	/* fmemopen() wants a size of at least 1: an empty stdin reads from /dev/null */
	return len ? fmemopen(buf, len, "r") : fopen("/dev/null", "r");
}

FILE *cni_in(void)
{
	return cur ? cur->in : stdin;
}

FILE *cni_out(void)
{
	return cur ? cur->out : stdout;
}

FILE *cni_err(void)
{
	return cur ? cur->err : stderr;
}

int cni_store_take(const char *state_dir, struct store **ret)
{
	return cur && cur->store_take ? cur->store_take(state_dir, ret)
				      : store_open(state_dir, ret);
}

void cni_store_give(struct store *s)
{
	if (!s)
		return;
	if (cur && cur->store_give)
		cur->store_give(s);
	else
		store_close_detached(s);	/* the runtime has the result: the WAL's upkeep
						 * goes to a worker */
}
