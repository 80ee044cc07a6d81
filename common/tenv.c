/* tenv.h: a thread-local pointer to the environment a request brought. */
#include "tenv.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

static _Thread_local char *const *cur;

void tenv_set(char *const *envp)
{
	cur = envp;
}

char *const *tenv_current(void)
{
	return cur;
}

const char *tenv_get(const char *name)
{
	size_t n = strlen(name);

	if (!cur)
		return getenv(name);
	for (char *const *e = cur; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

char *const *tenv_environ(void)
{
	return cur ? cur : environ;
}
