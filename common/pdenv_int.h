/* pdenv's internals, shared by pdenv.c and pdenv_networkd.c only. */
#pragma once

#include <stdint.h>

#include "pdenv.h"

/* The value of NAME in envp, or NULL. */
const char *pdenv_get(const char *const *envp, const char *name);
/* A decimal uint32; -EINVAL naming the variable. */
int pdenv_u32(const char *name, const char *v, uint32_t *ret);
/* addr ("ADDR", or "ADDR/LEN" when it has a '/') with len as a prefix, host bits refused;
 * messages name the variable. */
int pdenv_prefix_from(const char *name, const char *addr, unsigned len, struct prefix *ret);
/* The networkd-dispatcher environment: $IFACE and networkctl's JSON. */
int pdenv_networkd(const char *const *envp, uint64_t now_boot_usec, struct pdenv *ret);
