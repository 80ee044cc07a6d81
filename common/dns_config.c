/* A network's "dns" object: parsing, checks, and the JSON form kept in the store. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "dns_int.h"
#include "duration.h"
#include "err.h"
#include "store_int.h"

/* Each getter: 0 when absent (ret untouched), 1 when read, negative on a wrong type. Keys
 * are named "dns.KEY" or "dns.BACKEND.KEY" in messages. */
static int get_string(const json_t *obj, const char *where, const char *key, const char **ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return err_set(-EINVAL, "\"%s.%s\": must be a string", where, key);
	*ret = json_string_value(v);
	return 1;
}

static int get_int(const json_t *obj, const char *where, const char *key, json_int_t min,
		   json_int_t max, json_int_t *ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return err_set(-EINVAL, "\"%s.%s\": must be an integer", where, key);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return err_set(-EINVAL, "\"%s.%s\" %lld: must be %lld..%lld", where, key,
			       (long long)json_integer_value(v), (long long)min, (long long)max);
	*ret = json_integer_value(v);
	return 1;
}

static int get_bool(const json_t *obj, const char *where, const char *key, bool *ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return err_set(-EINVAL, "\"%s.%s\": must be true or false", where, key);
	*ret = json_is_true(v);
	return 1;
}

/* A string that must fit in size and hold no control characters. */
static int get_text(const json_t *obj, const char *where, const char *key, bool required,
		    char *ret, size_t size)
{
	char what[64], q[ERR_QUOTE_BUFLEN];
	const char *s;
	int r = get_string(obj, where, key, &s);

	if (r < 0)
		return r;
	if (r == 0 || !s[0])
		return required ? err_set(-EINVAL, "\"%s.%s\": missing", where, key) : 0;
	(void)snprintf(what, sizeof(what), "\"%s.%s\"", where, key);
	if ((r = store_check_string(what, s, size, true)) < 0)
		return r;
	if (strchr(s, '"') || strchr(s, '\\'))
		return err_set(-EINVAL, "%s \"%s\": no '\"' or '\\' here", what, err_quote(s, q));
	store_copy(ret, size, s);
	return 1;
}

static int get_path(const json_t *obj, const char *where, const char *key, bool required,
		    char *ret, size_t size)
{
	int r = get_text(obj, where, key, required, ret, size);

	if (r > 0 && ret[0] != '/')
		return err_set(-EINVAL, "\"%s.%s\" \"%s\": must be an absolute path", where, key, ret);
	return r;
}

static int get_object(const json_t *obj, const char *key, const json_t **ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return err_set(-EINVAL, "\"dns.%s\": must be an object", key);
	*ret = v;
	return 1;
}

/* Refuses a key of the object w that is none of known (NULL-terminated): an API key or a
 * secret written inline, say, which would otherwise be ignored. The value is never quoted. */
static int known_keys(const json_t *o, const char *w, const char *const *known)
{
	char q[ERR_QUOTE_BUFLEN], list[128] = "";
	const char *k;
	json_t *v;
	int i;

	json_object_foreach((json_t *)o, k, v) {
		for (i = 0; known[i] && strcmp(known[i], k) != 0; i++)
			;
		if (known[i])
			continue;
		for (i = 0; known[i]; i++)
			(void)snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				       i ? ", " : "", known[i]);
		return err_set(-EINVAL, "\"%s.%s\": unknown key (known: %s; secrets come from files "
					"only)",
			       w, err_quote(k, q), list);
	}
	return 0;
}

static int read_pdns(const json_t *o, struct dns_config *c)
{
	static const char w[] = "dns.powerdns";
	static const char *const known[] = { "url", "serverId", "apiKeyFile", NULL };
	char q[ERR_QUOTE_BUFLEN];
	size_t n;
	int r;

	if ((r = known_keys(o, w, known)) < 0 ||
	    (r = get_text(o, w, "url", true, c->pdns_url, sizeof(c->pdns_url))) < 0)
		return r;
	if (strncmp(c->pdns_url, "http://", 7) != 0 && strncmp(c->pdns_url, "https://", 8) != 0)
		return err_set(-EINVAL, "\"%s.url\" \"%s\": must start with http:// or https://", w,
			       err_quote(c->pdns_url, q));
	n = strlen(c->pdns_url);
	while (n > 0 && c->pdns_url[n - 1] == '/')
		c->pdns_url[--n] = '\0';
	store_copy(c->pdns_server_id, sizeof(c->pdns_server_id), "localhost");
	if ((r = get_text(o, w, "serverId", false, c->pdns_server_id,
			  sizeof(c->pdns_server_id))) < 0)
		return r;
	if (strpbrk(c->pdns_server_id, "/?#% "))
		return err_set(-EINVAL, "\"%s.serverId\" \"%s\": no '/', '?', '#', '%%' or spaces",
			       w, err_quote(c->pdns_server_id, q));
	if ((r = get_path(o, w, "apiKeyFile", true, c->pdns_key_file,
			  sizeof(c->pdns_key_file))) < 0)
		return r;
	c->pdns = true;
	return 0;
}

static int read_rfc2136(const json_t *o, struct dns_config *c)
{
	static const char w[] = "dns.rfc2136";
	/* What ldns signs with: 1.8.3 looks hmac-sha384 up as "hmac-shac384." (a typo), so it
	 * either fails or writes a TSIG no server knows; it has no hmac-sha224 at all. */
	static const char *const algs[] = { "hmac-sha256", "hmac-sha512", "hmac-sha1", NULL };
	static const char *const known[] = { "server", "port", "keyFile", "algorithm", NULL };
	json_int_t port = 53;
	int r, i;

	if ((r = known_keys(o, w, known)) < 0 ||
	    (r = get_text(o, w, "server", true, c->rfc2136_server,
			  sizeof(c->rfc2136_server))) < 0 ||
	    (r = get_int(o, w, "port", 1, 65535, &port)) < 0 ||
	    (r = get_path(o, w, "keyFile", true, c->rfc2136_key_file,
			  sizeof(c->rfc2136_key_file))) < 0 ||
	    (r = get_text(o, w, "algorithm", false, c->rfc2136_algorithm,
			  sizeof(c->rfc2136_algorithm))) < 0)
		return r;
	c->rfc2136_port = (unsigned)port;
	if (strpbrk(c->rfc2136_server, " /[]"))
		return err_set(-EINVAL, "\"%s.server\" \"%s\": an address or host name without port "
					"(the port is \"%s.port\")",
			       w, c->rfc2136_server, w);
	for (char *p = c->rfc2136_algorithm; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	for (i = 0; c->rfc2136_algorithm[0] && algs[i]; i++)
		if (strcmp(algs[i], c->rfc2136_algorithm) == 0)
			break;
	if (c->rfc2136_algorithm[0] && !algs[i])
		return err_set(-EINVAL, "\"%s.algorithm\" \"%s\": must be hmac-sha256 (the default), "
					"hmac-sha512 or hmac-sha1 (ldns 1.8.3, which signs the "
					"updates, cannot sign with hmac-sha384 or hmac-sha224)",
			       w, c->rfc2136_algorithm);
	c->rfc2136 = true;
	return 0;
}

static int read_names(const json_t *obj, struct dns_config *c, unsigned slice_len,
		      bool per_container_slice)
{
	char buf[DNS_NAME_MAX], q[ERR_QUOTE_BUFLEN];
	const char *s;
	int r;

	if ((r = get_string(obj, "dns", "zone", &s)) < 0)
		return r;
	if (r == 0)
		return err_set(-EINVAL, "\"dns.zone\": missing (the forward zone, e.g. "
					"\"containers.example.com\")");
	if ((r = dns_name_normalize("\"dns.zone\"", s, c->zone)) < 0)
		return r;
	if ((r = get_string(obj, "dns", "reverseZone", &s)) < 0)
		return r;
	if (r > 0 && s[0]) {
		if ((r = dns_name_normalize("\"dns.reverseZone\"", s, buf)) < 0)
			return r;
		if (!dns_name_in_zone(buf, "ip6.arpa.") || strcmp(buf, "ip6.arpa.") == 0)
			return err_set(-EINVAL, "\"dns.reverseZone\" \"%s\": must be a zone under "
						"ip6.arpa (nibble format, RFC 3596)",
				       err_quote(s, q));
		for (const char *p = buf; p < buf + strlen(buf) - strlen("ip6.arpa."); p += 2)
			if (!strchr("0123456789abcdef", p[0]) || p[1] != '.')
				return err_set(-EINVAL, "\"dns.reverseZone\" \"%s\": labels below "
							"ip6.arpa must be single hex digits (nibbles)",
					       err_quote(s, q));
		store_copy(c->reverse_zone, sizeof(c->reverse_zone), buf);
	}
	if ((r = get_bool(obj, "dns", "ptr", &c->ptr)) < 0)
		return r;
	if (c->ptr && !c->reverse_zone[0] && per_container_slice)
		return err_set(-EINVAL, "\"dns.reverseZone\": needed with \"perContainerSlice\" (each "
					"container's own slice would be its own reverse zone), or set "
					"\"dns.ptr\": false");
	if (c->ptr && !c->reverse_zone[0] && slice_len % 4 != 0)
		return err_set(-EINVAL, "\"dns.reverseZone\": missing, and the default cannot be "
					"derived: the slice length /%u is not a multiple of 4, and ip6.arpa "
					"zones are cut at nibble boundaries (RFC 3596: 4 bits a label); set "
					"\"dns.reverseZone\" to the zone of the /%u that holds the slice, "
					"or \"dns.ptr\": false",
			       slice_len, slice_len / 4 * 4);
	if ((r = get_text(obj, "dns", "name", false, c->name_template,
			  sizeof(c->name_template))) < 0)
		return r;
	return r > 0 ? dns_name_template_check(c->name_template) : 0;
}

static int read_settings(const json_t *obj, struct dns_config *c)
{
	json_int_t ttl = DNS_DEFAULT_TTL;
	int64_t timeout = DNS_DEFAULT_TIMEOUT;
	const char *s = "";
	int r;

	if ((r = get_int(obj, "dns", "ttl", 1, INT32_MAX, &ttl)) < 0)
		return r;
	c->ttl = (uint32_t)ttl;
	if ((r = get_string(obj, "dns", "onRelease", &s)) < 0)
		return r;
	if (r > 0 && strcmp(s, "remove") == 0)
		c->on_release = DNS_RELEASE_REMOVE;
	else if (r > 0 && strcmp(s, "keep") == 0)
		c->on_release = DNS_RELEASE_KEEP;
	else if (r > 0)
		return err_set(-EINVAL, "\"dns.onRelease\" \"%.40s\": must be \"remove\" or \"keep\"",
			       s);
	if ((r = get_bool(obj, "dns", "required", &c->required)) < 0)
		return r;
	if ((r = get_string(obj, "dns", "timeout", &s)) < 0)
		return r;
	if (r > 0 && (r = duration_from_string(s, &timeout)) < 0)
		return err_wrap(r, "\"dns.timeout\"");
	if (timeout < 1 || timeout > 60)
		return err_set(-EINVAL, "\"dns.timeout\" \"%s\": must be 1s..60s", s);
	c->timeout = (unsigned)timeout;
	return 0;
}

/* A list of strings at obj.key, each checked by check(what, s) and copied into a row of
 * rows (size bytes each). 0 when absent. */
static int get_list(const json_t *obj, const char *key, int (*check)(const char *, const char *),
		    char *rows, size_t size, unsigned *ret_n)
{
	char what[48], q[ERR_QUOTE_BUFLEN];
	json_t *v = json_object_get(obj, key), *e;
	size_t i;
	int r;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return err_set(-EINVAL, "\"dns.%s\": must be a list of strings", key);
	if (json_array_size(v) > DNS_CNI_LIST_MAX)
		return err_set(-EINVAL, "\"dns.%s\": %zu entries, at most %d", key,
			       json_array_size(v), DNS_CNI_LIST_MAX);
	json_array_foreach(v, i, e) {
		(void)snprintf(what, sizeof(what), "\"dns.%s\"[%zu]", key, i);
		if (!json_is_string(e))
			return err_set(-EINVAL, "%s: must be a string", what);
		if ((r = check(what, json_string_value(e))) < 0)
			return r;
		if (strlen(json_string_value(e)) >= size)
			return err_set(-EINVAL, "%s \"%s\": longer than %zu bytes", what,
				       err_quote(json_string_value(e), q), size - 1);
		store_copy(rows + i * size, size, json_string_value(e));
	}
	*ret_n = (unsigned)json_array_size(v);
	return 1;
}

static int check_nameserver(const char *what, const char *s)
{
	char q[ERR_QUOTE_BUFLEN];
	unsigned char b[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET6, s, b) == 1 || inet_pton(AF_INET, s, b) == 1)
		return 0;
	return err_set(-EINVAL, "%s \"%s\": not an IPv4 or IPv6 address", what, err_quote(s, q));
}

static int check_domain(const char *what, const char *s)
{
	char buf[DNS_NAME_MAX];

	return dns_name_normalize(what, s, buf);
}

static int check_option(const char *what, const char *s)
{
	char q[ERR_QUOTE_BUFLEN];

	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return err_set(-EINVAL, "%s \"%s\": a resolver option has no spaces or "
						"control characters",
				       what, err_quote(s, q));
	return s[0] ? 0 : err_set(-EINVAL, "%s: empty", what);
}

/* CNI's own keys (SPEC.md "DNS"). */
static int read_cni(const json_t *obj, struct dns_cni *c)
{
	const char *s = "";
	int r;

	if ((r = get_list(obj, "nameservers", check_nameserver, c->nameservers[0],
			  sizeof(c->nameservers[0]), &c->n_nameservers)) < 0 ||
	    (r = get_list(obj, "search", check_domain, c->search[0], sizeof(c->search[0]),
			  &c->n_search)) < 0 ||
	    (r = get_list(obj, "options", check_option, c->options[0], sizeof(c->options[0]),
			  &c->n_options)) < 0 ||
	    (r = get_string(obj, "dns", "domain", &s)) < 0 ||
	    (r > 0 && (r = check_domain("\"dns.domain\"", s)) < 0))
		return r;
	store_copy(c->domain, sizeof(c->domain), s);
	return 0;
}

/* 1 when obj has any of v6pd's publishing keys, 0 when only CNI's (or none); -EINVAL naming
 * a key that is neither. */
static int classify_keys(const json_t *obj)
{
	static const char *const cni[] = { "nameservers", "domain", "search", "options", NULL };
	static const char *const ours[] = { "zone",	"reverseZone", "ptr",	   "ttl",
					    "name",	"onRelease",   "required", "timeout",
					    "hostsDir", "powerdns",    "rfc2136",  NULL };
	char q[ERR_QUOTE_BUFLEN];
	const char *k;
	json_t *v;
	int any = 0, i;

	json_object_foreach((json_t *)obj, k, v) {
		for (i = 0; cni[i] && strcmp(cni[i], k) != 0; i++)
			;
		if (cni[i])
			continue;
		for (i = 0; ours[i] && strcmp(ours[i], k) != 0; i++)
			;
		if (!ours[i])
			return err_set(-EINVAL, "\"dns.%s\": unknown key (CNI's: nameservers, "
						"domain, search, options; v6pd's: zone, reverseZone, "
						"ptr, ttl, name, onRelease, required, timeout, "
						"hostsDir, powerdns, rfc2136)",
				       err_quote(k, q));
		any = 1;
	}
	return any;
}

int dns_config_from_json(const json_t *obj, unsigned slice_len, bool per_container_slice,
			 struct dns_config *ret)
{
	struct dns_config c;
	const json_t *o = NULL;
	int r, ours;

	memset(&c, 0, sizeof(c));
	if (!obj || json_is_null(obj))
		goto done;
	if (!json_is_object(obj))
		return err_set(-EINVAL, "\"dns\": must be an object");
	/* CNI's own "dns" (nameservers, domain, search, options) shares the key: without any
	 * key of v6pd's the object is only that one. */
	if ((ours = classify_keys(obj)) < 0)
		return ours;
	if ((r = read_cni(obj, &c.cni)) < 0)
		return r;
	if (!ours)
		goto done;
	c.ptr = true;
	if ((r = read_names(obj, &c, slice_len, per_container_slice)) < 0 ||
	    (r = read_settings(obj, &c)) < 0)
		return r;
	if ((r = get_path(obj, "dns", "hostsDir", false, c.hosts_dir,
			  sizeof(c.hosts_dir))) < 0)
		return r;
	c.hosts = r > 0;
	if ((r = get_object(obj, "powerdns", &o)) < 0 || (r > 0 && (r = read_pdns(o, &c)) < 0))
		return r;
	if ((r = get_object(obj, "rfc2136", &o)) < 0 || (r > 0 && (r = read_rfc2136(o, &c)) < 0))
		return r;
	c.enabled = true;
done:
	*ret = c;
	return 0;
}

json_t *dns_config_to_json(const struct dns_config *c)
{
	char timeout[DURATION_STRLEN];
	json_t *o = json_pack("{s:s, s:b, s:I, s:s, s:b, s:s}", "zone", c->zone, "ptr", c->ptr,
			      "ttl", (json_int_t)c->ttl, "onRelease",
			      c->on_release == DNS_RELEASE_KEEP ? "keep" : "remove", "required",
			      c->required, "timeout",
			      duration_to_string(c->timeout, timeout, sizeof(timeout)));
	int r = o ? 0 : -1;

	if (r == 0 && c->reverse_zone[0])
		r = json_object_set_new(o, "reverseZone", json_string(c->reverse_zone));
	if (r == 0 && c->name_template[0])
		r = json_object_set_new(o, "name", json_string(c->name_template));
	if (r == 0 && c->hosts)
		r = json_object_set_new(o, "hostsDir", json_string(c->hosts_dir));
	if (r == 0 && c->pdns)
		r = json_object_set_new(o, "powerdns",
					json_pack("{s:s, s:s, s:s}", "url", c->pdns_url, "serverId",
						  c->pdns_server_id, "apiKeyFile", c->pdns_key_file));
	if (r == 0 && c->rfc2136) {
		json_t *b = json_pack("{s:s, s:i, s:s}", "server", c->rfc2136_server, "port",
				      (int)c->rfc2136_port, "keyFile", c->rfc2136_key_file);

		if (b && c->rfc2136_algorithm[0])
			r = json_object_set_new(b, "algorithm", json_string(c->rfc2136_algorithm));
		if (r == 0)
			r = json_object_set_new(o, "rfc2136", b);
	}
	if (r < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void dns_target(const struct dns_config *c, const char *backend, char ret[STORE_DNS_TARGET_MAX])
{
	ret[0] = '\0';
	if (strcmp(backend, DNS_BACKEND_HOSTS) == 0)
		(void)snprintf(ret, STORE_DNS_TARGET_MAX, "%s", c->hosts_dir);
	else if (strcmp(backend, DNS_BACKEND_PDNS) == 0)
		(void)snprintf(ret, STORE_DNS_TARGET_MAX, "%s/api/v1/servers/%s", c->pdns_url,
			       c->pdns_server_id);
	else if (strchr(c->rfc2136_server, ':'))
		(void)snprintf(ret, STORE_DNS_TARGET_MAX, "[%s]:%u", c->rfc2136_server,
			       c->rfc2136_port);
	else
		(void)snprintf(ret, STORE_DNS_TARGET_MAX, "%s:%u", c->rfc2136_server,
			       c->rfc2136_port);
}
