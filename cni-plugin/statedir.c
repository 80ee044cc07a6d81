/* The state directory a netconf names: the rule front.c applies before handing a call over,
 * and test_quick checks quick.c's reading against. */
#include <string.h>

#include "config.h"
#include "serve.h"

const char *serve_state_dir(json_t *conf)
{
	json_t *c = conf, *ipam = json_object_get(conf, "ipam"), *v;
	const char *type = json_string_value(json_object_get(conf, "type"));

	if (!json_is_object(conf))
		return NULL;
	if (!(type && strcmp(type, "v6pd") == 0) && json_is_object(ipam))
		c = ipam;
	v = json_object_get(c, "stateDir");
	if (!v)
		return CONFIG_DEFAULT_STATE_DIR;
	return json_is_string(v) && json_string_value(v)[0] == '/' ? json_string_value(v) : NULL;
}
