#include "hostconf.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "err.h"
#include "pdenv.h"
#include "tenv.h"

const char *hostconf_default_path(void)
{
	const char *p = tenv_get(HOSTCONF_ENV);

	return p && p[0] ? p : HOSTCONF_PATH;
}

static int read_keys(const json_t *o, struct hostconf *c)
{
	json_t *v;
	int r;

	if (!json_is_object(o))
		return err_set(-EINVAL, "must be a JSON object");
	if ((v = json_object_get(o, "renumberGrace")) && !json_is_null(v)) {
		if (!json_is_string(v))
			return err_set(-EINVAL, "\"renumberGrace\": must be a string such as \"10m\"");
		if ((r = duration_from_string(json_string_value(v), &c->renumber_grace)) < 0)
			return err_wrap(r, "\"renumberGrace\"");
	}
	if ((v = json_object_get(o, "pdInterface")) && !json_is_null(v)) {
		const char *s = json_string_value(v);

		if (!s || strlen(s) >= sizeof(c->pd_interface))
			return err_set(-EINVAL, "\"pdInterface\": must be an interface name");
		(void)snprintf(c->pd_interface, sizeof(c->pd_interface), "%s", s);
	}
	if ((v = json_object_get(o, "pdIaid")) && !json_is_null(v)) {
		char buf[24];

		if (json_is_integer(v))
			(void)snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		else if (json_is_string(v))
			(void)snprintf(buf, sizeof(buf), "%s", json_string_value(v));
		else
			return err_set(-EINVAL, "\"pdIaid\": must be a string or a number");
		if ((r = pdenv_iaid_from_string(buf, &c->pd_iaid)) < 0)
			return err_wrap(r, "\"pdIaid\"");
		c->has_pd_iaid = true;
	}
	return 0;
}

int hostconf_load(const char *path, struct hostconf *ret)
{
	struct hostconf c = { .renumber_grace = HOSTCONF_DEFAULT_GRACE };
	json_error_t jerr;
	json_t *o;
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		if (errno != ENOENT)
			return err_set(-errno, "%s: %s", path, strerror(errno));
		*ret = c;
		return 0;
	}
	o = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	(void)fclose(f);
	if (!o)
		return err_set(-EINVAL, "%s: line %d: %s", path, jerr.line, jerr.text);
	(void)snprintf(c.path, sizeof(c.path), "%s", path);
	r = read_keys(o, &c);
	json_decref(o);
	if (r < 0)
		return err_wrap(r, "%s", path);
	*ret = c;
	return 0;
}
