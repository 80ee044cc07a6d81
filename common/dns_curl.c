/* Loading libcurl at run time (see dns_curl.h). */
#include "dns_curl.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define CURL_SONAME "libcurl.so.4"

int dns_curl_load(const struct dns_curl **ret)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
#define SYM(f) { "curl_" #f, offsetof(struct dns_curl, f) }
		SYM(easy_init),		 SYM(easy_setopt),	  SYM(easy_getinfo),
		SYM(easy_cleanup),	 SYM(easy_strerror),	  SYM(slist_append),
		SYM(slist_free_all),	 SYM(multi_init),	  SYM(multi_add_handle),
		SYM(multi_remove_handle), SYM(multi_perform),	  SYM(multi_poll),
		SYM(multi_info_read),	 SYM(multi_cleanup),
#undef SYM
	};
	static struct dns_curl c;
	static bool loaded;
	CURLcode (*global_init)(long);
	void *h;

	if (loaded) {
		*ret = &c;
		return 0;
	}
	/* lazy: the functions of libcurl's thirty libraries that a PATCH never calls are never
	 * bound (~0.8 ms less than RTLD_NOW); dlsym() below still checks the ones it calls */
	h = dlopen(CURL_SONAME, RTLD_LAZY | RTLD_LOCAL);
	if (!h)
		return err_set(-ENOENT, "powerdns: cannot load %s (install libcurl4): %s",
			       CURL_SONAME, dlerror());
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(h, syms[i].name);

		if (!f)
			return err_set(-ENOENT, "powerdns: %s has no %s", CURL_SONAME, syms[i].name);
		*(void **)((char *)&c + syms[i].off) = f;
	}
	*(void **)&global_init = dlsym(h, "curl_global_init");
	if (!global_init || global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(-ENOENT, "powerdns: %s failed to initialise", CURL_SONAME);
	loaded = true;
	*ret = &c;
	return 0;
}
