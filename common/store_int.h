/* Helpers shared by the store's backends; not for other modules. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

/* Rejects NULL/"" when required, too long, or containing control characters; the message
 * names field and value. */
int store_check_string(const char *field, const char *v, size_t max, bool required);
/* A network name (required) and a key (unless NULL) as a caller passes them to look up. */
int store_check_names(const char *network, const char *key);
int store_check_network(const struct store_network *n);
int store_check_request(const struct lease_request *req);

/* Fills l->slice and l->addr from the base prefix (NULL: unknown, addr_known = false). */
int store_lease_address(struct lease *l, const struct prefix *base, unsigned slice_len);

/* Makes room for element n in the array *pv of *cap elements of size bytes (doubling, 16 at
 * first). -ENOMEM with a message when it cannot. */
int store_grow(void *pv, size_t *cap, size_t n, size_t size);

/* strncpy that always terminates; NULL copies "". */
void store_copy(char *dst, size_t size, const char *src);
