/* The CNI_* environment (SPEC.md "Parameters") and CNI_ARGS. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cni.h"
#include "err.h"
#include "prefix.h"
#include "addrgen.h"
#include "tenv.h"

static const struct {
	const char *name;
	enum cni_cmd cmd;
} commands[] = {
	{ "ADD", CNI_ADD },	    { "DEL", CNI_DEL },	      { "CHECK", CNI_CHECK },
	{ "VERSION", CNI_VERSION }, { "STATUS", CNI_STATUS }, { "GC", CNI_GC },
};

int cni_check_container_id(const char *s)
{
	size_t len = strnlen(s, STORE_CID_MAX);

	if (len == 0)
		return err_set(-EINVAL, "CNI_CONTAINERID: must not be empty");
	if (len >= STORE_CID_MAX)
		return err_set(-EINVAL, "CNI_CONTAINERID \"%.40s...\": longer than %d bytes", s,
			       STORE_CID_MAX - 1);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return err_set(-EINVAL, "CNI_CONTAINERID \"%.80s\": must match "
						"[a-zA-Z0-9][a-zA-Z0-9_.-]*",
				       s);
	}
	return 0;
}

int cni_mac_parse(const char *what, const char *s, uint8_t ret[6])
{
	static const uint8_t zero[6];
	int r = addrgen_mac_from_string(s, ret);

	if (r < 0)
		return err_wrap(r, "%s", what);
	/* the kernel refuses these for a veth only after the lease and the host end exist */
	if ((ret[0] & 1) || memcmp(ret, zero, sizeof(zero)) == 0)
		return err_set(-EINVAL, "%s \"%.17s\": not a unicast MAC address", what, s);
	return 0;
}

static int check_ifname(const char *v)
{
	size_t len = strnlen(v, 16);
	bool ctl = false;

	if (len == 0)
		return err_set(-EINVAL, "CNI_IFNAME: must not be empty");
	for (size_t i = 0; i < len; i++)
		ctl = ctl || (unsigned char)v[i] < 0x20 || v[i] == 0x7f;
	/* '%': the kernel would expand a "%d" into a number and name the link otherwise */
	if (len > 15 || strcmp(v, ".") == 0 || strcmp(v, "..") == 0 || strpbrk(v, "/:% ") || ctl)
		return err_set(-EINVAL, "CNI_IFNAME \"%.40s\": not a valid interface name (1-15 "
					"bytes, no '/', ':', '%%', whitespace or control characters)",
			       v);
	return 0;
}

static int check_netns(const char *v)
{
	size_t len = strnlen(v, STORE_NETNS_MAX);

	if (len >= STORE_NETNS_MAX)
		return err_set(-EINVAL, "CNI_NETNS \"%.40s...\": longer than %d bytes", v,
			       STORE_NETNS_MAX - 1);
	if (v[0] != '/')
		return err_set(-EINVAL, "CNI_NETNS \"%s\": must be an absolute path", v);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return err_set(-EINVAL, "CNI_NETNS \"%.60s\": contains a control character",
				       v);
	return 0;
}

/* CNI_ARGS: "K=V;K=V". Values we use are checked; unknown keys are ignored, as
 * IgnoreUnknown=1 asks and as every runtime sends K8S_POD_* regardless. */
static int parse_args(struct cni_env *e, const char *args)
{
	char *save = NULL, *tok;
	size_t len = strlen(args);

	if (len >= sizeof(e->args_buf))
		return err_set(-EINVAL, "CNI_ARGS: longer than %zu bytes", sizeof(e->args_buf) - 1);
	memcpy(e->args_buf, args, len + 1);
	for (tok = strtok_r(e->args_buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(tok, '=');
		const char *k = tok, *v;
		int r;

		if (!eq)
			return err_set(-EINVAL, "CNI_ARGS: \"%.60s\" is not KEY=VALUE", tok);
		*eq = '\0';
		v = eq + 1;
		if (strcmp(k, "K8S_POD_NAMESPACE") == 0) {
			e->k8s_namespace = v;
		} else if (strcmp(k, "K8S_POD_NAME") == 0) {
			e->k8s_name = v;
		} else if (strcmp(k, "IP") == 0) {
			char buf[INET6_ADDRSTRLEN + 8];
			char *slash;

			/* Podman passes a bare address; some runtimes append /len. */
			if (strlen(v) >= sizeof(buf))
				return err_set(-EINVAL, "CNI_ARGS IP=\"%.60s\": not an IPv6 address", v);
			memcpy(buf, v, strlen(v) + 1);
			slash = strchr(buf, '/');
			if (slash)
				*slash = '\0';
			if (strchr(buf, ':') == NULL)
				continue; /* an IPv4 request is for another plugin */
			if ((r = prefix_addr_from_string(buf, &e->ip)) < 0)
				return err_wrap(r, "CNI_ARGS IP");
			e->has_ip = true;
		} else if (strcmp(k, "MAC") == 0) {
			uint8_t mac[6];

			if ((r = cni_mac_parse("CNI_ARGS MAC", v, mac)) < 0)
				return r;
			e->mac = v;
		}
	}
	return 0;
}

static const char *env_or_empty(const char *name)
{
	const char *v = tenv_get(name);

	return v ? v : "";
}

int cni_env_read(struct cni_env *e)
{
	const char *args;
	size_t i;
	int r;

	memset(e, 0, sizeof(*e));
	e->command = tenv_get("CNI_COMMAND");
	if (!e->command || !e->command[0])
		return err_set(-EINVAL, "CNI_COMMAND: not set (ADD, DEL, CHECK, VERSION, STATUS, GC)");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(e->command, commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0]))
		return err_set(-EINVAL, "CNI_COMMAND \"%.20s\": not one of ADD, DEL, CHECK, VERSION, "
					"STATUS, GC",
			       e->command);
	e->cmd = commands[i].cmd;
	e->container_id = env_or_empty("CNI_CONTAINERID");
	e->netns = env_or_empty("CNI_NETNS");
	e->ifname = env_or_empty("CNI_IFNAME");
	/* VERSION, STATUS and GC carry no attachment: Podman's VERSION probe sends
	 * CNI_NETNS=dummy and CNI_IFNAME=dummy, which must not be judged. */
	if (e->cmd == CNI_VERSION || e->cmd == CNI_STATUS || e->cmd == CNI_GC)
		return 0;
	if ((r = cni_check_container_id(e->container_id)) < 0 || (r = check_ifname(e->ifname)) < 0)
		return r;
	if (e->cmd != CNI_DEL && !e->netns[0])
		return err_set(-EINVAL, "CNI_NETNS: not set");
	if (e->netns[0] && (r = check_netns(e->netns)) < 0)
		return r;
	args = tenv_get("CNI_ARGS");
	if (args && (r = parse_args(e, args)) < 0)
		return r;
	return 0;
}
