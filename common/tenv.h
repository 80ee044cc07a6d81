/* tenv: the environment, per thread. A process serving many callers (the CNI plugin's
 * `v6pd --serve`) runs each request with that caller's environment: every variable the core
 * reads comes through tenv_get(), and the helpers it starts get tenv_environ(). */
#pragma once

/* Sets this thread's environment (a NULL-terminated "NAME=value" array that outlives its use;
 * NULL: the process's own). */
void tenv_set(char *const *envp);

/* This thread's environment as set, or NULL for the process's own. */
char *const *tenv_current(void);

/* getenv() in this thread's environment. */
const char *tenv_get(const char *name);

/* The array to hand to posix_spawn()/execve(). */
char *const *tenv_environ(void);
