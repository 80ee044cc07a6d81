/* libcurl, loaded when the PowerDNS backend first needs it (dns_pdns.c only). Linked, its
 * thirty shared libraries would cost every v6pd call ~7 ms of loading, DNS or not; and
 * Debian's libcurl.a cannot be linked statically (its GSS-API, LDAP, RTMP dependencies ship
 * no archives), while the CNI plugin is linked statically. */
#pragma once

#include <curl/curl.h>

struct dns_curl {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
};

/* Loads libcurl.so.4 once and initialises it; *ret is borrowed for the process's life.
 * -ENOENT with a message when the library is missing or lacks a function. */
int dns_curl_load(const struct dns_curl **ret);
