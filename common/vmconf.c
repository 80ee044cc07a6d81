/* vmconf: /etc/v6pd/libvirt.json (see vmconf.h). Moved here from the libvirt hook so that
 * v6pdctl's libvirt verbs read the same file the same way. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "tenv.h"
#include "vmconf.h"

static const char *const match_keys[] = { "network", "bridge", "tap" };

static int read_match(const json_t *e, struct vmconf_entry *ret)
{
	json_t *m = json_object_get(e, "match"), *v;
	const char *key;
	int found = -1;

	if (!json_is_object(m))
		return err_set(-EINVAL, "\"match\": must be an object with one of \"network\", "
					"\"bridge\" or \"tap\"");
	json_object_foreach(m, key, v) {
		int k = -1;

		for (int i = 0; i < 3; i++)
			if (strcmp(key, match_keys[i]) == 0)
				k = i;
		if (k < 0)
			return err_set(-EINVAL, "\"match\": unknown key \"%.40s\" (\"network\", "
						"\"bridge\" or \"tap\")",
				       key);
		if (found >= 0)
			return err_set(-EINVAL, "\"match\": give one of \"network\", \"bridge\" or "
						"\"tap\", not both \"%s\" and \"%s\"",
				       match_keys[found], key);
		if (!json_is_string(v) || !json_string_value(v)[0])
			return err_set(-EINVAL, "\"match\".\"%s\": must be a non-empty string",
				       key);
		if (strlen(json_string_value(v)) >= (k == VMCONF_MATCH_NETWORK ? STORE_NAME_MAX : 16))
			return err_set(-EINVAL, "\"match\".\"%s\" \"%.40s\": too long", key,
				       json_string_value(v));
		found = k;
		ret->match = (enum vmconf_match)k;
		(void)snprintf(ret->pattern, sizeof(ret->pattern), "%s", json_string_value(v));
	}
	if (found < 0)
		return err_set(-EINVAL, "\"match\": must name one of \"network\", \"bridge\" or "
					"\"tap\"");
	return 0;
}

/* The entry's netconf keys, with what the match and the top level imply filled in. */
static int read_entry(const json_t *e, const char *state_dir, struct vmconf_entry *ret)
{
	json_t *obj = NULL, *v;
	const char *name;
	int r;

	if (!json_is_object(e))
		return err_set(-EINVAL, "must be an object");
	v = json_object_get(e, "name");
	if (!json_is_string(v))
		return err_set(-EINVAL, "\"name\": required, the v6pd network's name (a string)");
	name = json_string_value(v);
	if ((r = read_match(e, ret)) < 0)
		return r;
	v = json_object_get(e, "stateDir");
	if (v && !(json_is_string(v) && strcmp(json_string_value(v), state_dir) == 0))
		return err_set(-EINVAL, "\"stateDir\": set it once, at the top level");
	v = json_object_get(e, "mode");
	if (v && json_is_string(v)) {
		const char *mode = json_string_value(v);

		if (ret->match == VMCONF_MATCH_BRIDGE && strcmp(mode, "bridge") != 0)
			return err_set(-EINVAL, "\"mode\" \"%.20s\": a \"bridge\" match is in "
						"\"bridge\" mode",
				       mode);
		if (ret->match == VMCONF_MATCH_TAP && strcmp(mode, "routed") != 0)
			return err_set(-EINVAL, "\"mode\" \"%.20s\": a \"tap\" match is in "
						"\"routed\" mode",
				       mode);
		if (ret->match == VMCONF_MATCH_NETWORK && strcmp(mode, "bridge") != 0)
			return err_set(-EINVAL, "\"mode\" \"%.20s\": a \"network\" match uses "
						"libvirt's own bridge",
				       mode);
	}
	v = json_object_get(e, "bridge");
	if (ret->match == VMCONF_MATCH_BRIDGE && v && json_is_string(v) &&
	    strcmp(json_string_value(v), ret->pattern) != 0)
		return err_set(-EINVAL, "\"bridge\" \"%.20s\": differs from \"match\".\"bridge\" "
					"\"%s\"",
			       json_string_value(v), ret->pattern);

	obj = json_deep_copy(e);
	if (!obj)
		return err_set(-ENOMEM, "out of memory");
	r = json_object_set_new(obj, "stateDir", json_string(state_dir));
	if (r == 0 && ret->match == VMCONF_MATCH_TAP)
		r = json_object_set_new(obj, "mode", json_string("routed"));
	if (r == 0 && ret->match == VMCONF_MATCH_BRIDGE)
		r = json_object_set_new(obj, "bridge", json_string(ret->pattern));
	if (r < 0) {
		json_decref(obj);
		return err_set(-ENOMEM, "out of memory");
	}
	r = config_network_from_json(obj, name, &ret->cfg);
	json_decref(obj);
	return r;
}

static int read_state_dir(const json_t *root, struct vmconf *c)
{
	json_t *v = json_object_get(root, "stateDir");
	const char *s;

	(void)snprintf(c->state_dir, sizeof(c->state_dir), "%s", CONFIG_DEFAULT_STATE_DIR);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return err_set(-EINVAL, "\"stateDir\": must be a string");
	s = json_string_value(v);
	if (s[0] != '/' || strlen(s) >= sizeof(c->state_dir) - 32)
		return err_set(-EINVAL, "\"stateDir\" \"%.60s\": must be an absolute path shorter "
					"than %zu bytes",
			       s, sizeof(c->state_dir) - 32);
	(void)snprintf(c->state_dir, sizeof(c->state_dir), "%s", s);
	return 0;
}

static int read_entries(const json_t *root, struct vmconf *c)
{
	json_t *list = json_object_get(root, "interfaces"), *e;
	size_t i;
	int r;

	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return err_set(-EINVAL, "\"interfaces\": must be a list");
	if (json_array_size(list) > VMCONF_ENTRIES_MAX)
		return err_set(-E2BIG, "\"interfaces\": more than %d entries", VMCONF_ENTRIES_MAX);
	c->entries = calloc(json_array_size(list) + 1, sizeof(*c->entries));
	if (!c->entries)
		return err_set(-ENOMEM, "out of memory");
	json_array_foreach(list, i, e) {
		struct vmconf_entry *he = &c->entries[i];
		const char *name = json_string_value(json_object_get(e, "name"));

		if ((r = read_entry(e, c->state_dir, he)) < 0)
			return name ? err_wrap(r, "\"interfaces\"[%zu] (\"%.40s\")", i, name)
				    : err_wrap(r, "\"interfaces\"[%zu]", i);
		config_fix_name(&he->cfg);
		for (size_t k = 0; k < i; k++) {
			if (strcmp(c->entries[k].cfg.name, he->cfg.name) == 0)
				return err_set(-EINVAL, "\"interfaces\"[%zu]: \"name\" \"%s\" is "
							"already used by \"interfaces\"[%zu]",
					       i, he->cfg.name, k);
			if (c->entries[k].match == he->match &&
			    strcmp(c->entries[k].pattern, he->pattern) == 0)
				return err_set(-EINVAL, "\"interfaces\"[%zu]: the same "
							"\"match\" as \"interfaces\"[%zu]",
					       i, k);
		}
		c->n_entries = i + 1;
	}
	return 0;
}

int vmconf_load(const char *path, struct vmconf *ret)
{
	struct vmconf c = { 0 };
	json_error_t je;
	json_t *root = NULL;
	struct stat st;
	int r;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return err_set(-errno, "%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return err_set(-EINVAL, "%s: not a regular file", path);
	if (st.st_size > (1 << 20))
		return err_set(-EFBIG, "%s: larger than 1 MiB", path);
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return err_set(-EINVAL, "%s: line %d column %d: %s", path, je.line, je.column,
			       je.text);
	(void)snprintf(c.path, sizeof(c.path), "%s", path);
	if (!json_is_object(root)) {
		r = err_set(-EINVAL, "must be a JSON object");
		goto fail;
	}
	if ((r = read_state_dir(root, &c)) < 0 || (r = read_entries(root, &c)) < 0)
		goto fail;
	json_decref(root);
	*ret = c;
	for (size_t i = 0; i < ret->n_entries; i++)
		config_fix_name(&ret->entries[i].cfg);
	return 0;
fail:
	json_decref(root);
	free(c.entries);
	return err_wrap(r, "%s", path);
}

void vmconf_free(struct vmconf *c)
{
	if (!c)
		return;
	free(c->entries);
	c->entries = NULL;
	c->n_entries = 0;
}

const char *vmconf_default_path(void)
{
	const char *p = tenv_get(VMCONF_ENV);

	return p && p[0] ? p : VMCONF_PATH;
}

const struct vmconf_entry *vmconf_find_network(const struct vmconf *c, const char *network)
{
	for (size_t k = 0; c && k < c->n_entries; k++)
		if (c->entries[k].match == VMCONF_MATCH_NETWORK &&
		    strcmp(c->entries[k].pattern, network) == 0)
			return &c->entries[k];
	return NULL;
}
