/* netxml: v6pd's parts of a libvirt network's XML (see netxml.h). */
#include "netxml.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "err.h"

#define XML_MAX (16u << 20)

static void xml_silent(void *ctx, const char *msg, ...)
{
}

/* libvirt's own output, but parsed as carefully as anything else: no network, no DTD. */
static int parse_as(const char *xml, const char *root_name, xmlDocPtr *ret)
{
	size_t len = xml ? strlen(xml) : 0;
	xmlDocPtr doc;
	xmlNode *root;

	if (len == 0)
		return err_set(-EINVAL, "%s XML: empty", root_name);
	if (len > XML_MAX)
		return err_set(-EFBIG, "%s XML: larger than %u MiB", root_name, XML_MAX >> 20);
	xmlSetGenericErrorFunc(NULL, xml_silent);
	doc = xmlReadMemory(xml, (int)len, "network.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
				    XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlGetLastError();
		char msg[160] = "not well-formed";

		if (e && e->message) {
			(void)snprintf(msg, sizeof(msg), "%s", e->message);
			msg[strcspn(msg, "\r\n")] = '\0';
		}
		return err_set(-EINVAL, "%s XML: line %d: %s", root_name, e ? e->line : 0, msg);
	}
	if (doc->intSubset || doc->extSubset) {
		xmlFreeDoc(doc);
		return err_set(-EINVAL, "%s XML: a <!DOCTYPE> is not accepted", root_name);
	}
	root = xmlDocGetRootElement(doc);
	if (!root || root->ns || strcmp((const char *)root->name, root_name) != 0) {
		xmlFreeDoc(doc);
		return err_set(-EINVAL, "%s XML: the root element is not <%s>", root_name,
			       root_name);
	}
	*ret = doc;
	return 0;
}

static int parse(const char *xml, xmlDocPtr *ret)
{
	return parse_as(xml, "network", ret);
}

static int dump(xmlDocPtr doc, char **ret)
{
	xmlBufferPtr b = xmlBufferCreate();
	char *s;

	if (!b)
		return err_set(-ENOMEM, "out of memory");
	if (xmlNodeDump(b, doc, xmlDocGetRootElement(doc), 0, 1) < 0) {
		xmlBufferFree(b);
		return err_set(-ENOMEM, "network XML: cannot serialise it");
	}
	s = malloc((size_t)xmlBufferLength(b) + 2);
	if (!s) {
		xmlBufferFree(b);
		return err_set(-ENOMEM, "out of memory");
	}
	(void)snprintf(s, (size_t)xmlBufferLength(b) + 2, "%s\n",
		       (const char *)xmlBufferContent(b));
	xmlBufferFree(b);
	*ret = s;
	return 0;
}

/* ---- small readers ---- */

/* An element of libvirt's own (no namespace) named name. */
static bool is_el(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !n->ns &&
	       strcmp((const char *)n->name, name) == 0;
}

static bool is_dnsmasq(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       strcmp((const char *)n->ns->href, NETXML_DNSMASQ_NS) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

static size_t n_elements(const xmlNode *n)
{
	size_t k = 0;

	for (const xmlNode *c = n->children; c; c = c->next)
		k += c->type == XML_ELEMENT_NODE;
	return k;
}

static xmlNode *first_el(const xmlNode *n, const char *name)
{
	for (xmlNode *c = n->children; c; c = c->next)
		if (is_el(c, name))
			return c;
	return NULL;
}

/* The attribute's value copied into buf ("" when absent or too long). */
static const char *attr(const xmlNode *n, const char *name, char *buf, size_t size)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);

	buf[0] = '\0';
	if (v && strlen((const char *)v) < size)
		(void)snprintf(buf, size, "%s", (const char *)v);
	xmlFree(v);
	return buf;
}

static bool attr_is(const xmlNode *n, const char *name, const char *want)
{
	char buf[NETXML_TEXT_MAX];

	return strcmp(attr(n, name, buf, sizeof(buf)), want) == 0;
}

static bool addr_eq(const char *a, const char *b)
{
	struct in6_addr x, y;

	return inet_pton(AF_INET6, a, &x) == 1 && inet_pton(AF_INET6, b, &y) == 1 &&
	       memcmp(&x, &y, sizeof(x)) == 0;
}

/* Whether a lies in want's address / prefix. */
static bool in_slice(const char *a, const struct netxml_want *w)
{
	struct in6_addr x, s;
	unsigned len = w->prefix > 128 ? 128 : w->prefix;

	if (inet_pton(AF_INET6, a, &x) != 1 || inet_pton(AF_INET6, w->address, &s) != 1)
		return false;
	for (unsigned i = 0; i < len; i++) {
		unsigned byte = i / 8, bit = 7 - i % 8;

		if (((x.s6_addr[byte] >> bit) & 1) != ((s.s6_addr[byte] >> bit) & 1))
			return false;
	}
	return true;
}

static bool parse_uint(const char *s, unsigned long *ret)
{
	char *end;

	if (!s[0] || s[0] == '-')
		return false;
	errno = 0;
	*ret = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* ---- v6pd's parts ---- */

static bool ip_is_v6(const xmlNode *ip)
{
	char fam[16], a[NETXML_TEXT_MAX];

	return attr_is(ip, "family", "ipv6") ||
	       (!attr(ip, "family", fam, sizeof(fam))[0] &&
		strchr(attr(ip, "address", a, sizeof(a)), ':'));
}

static bool ip_is_ours(const xmlNode *ip, const struct netxml_want *w)
{
	char a[NETXML_TEXT_MAX];

	if (!is_el(ip, "ip") || !ip_is_v6(ip))
		return false;
	return first_el(ip, "dhcp") || in_slice(attr(ip, "address", a, sizeof(a)), w);
}

/* Exactly the wanted <ip>: address, prefix, and a <dhcp> with the placeholder <host> only. */
static bool ip_matches(const xmlNode *ip, const struct netxml_want *w)
{
	char a[NETXML_TEXT_MAX], p[16], id[NETXML_TEXT_MAX], hip[NETXML_TEXT_MAX];
	const xmlNode *dhcp = first_el(ip, "dhcp"), *host;
	unsigned long pl;

	if (!addr_eq(attr(ip, "address", a, sizeof(a)), w->address) ||
	    !parse_uint(attr(ip, "prefix", p, sizeof(p)), &pl) || pl != w->prefix ||
	    n_elements(ip) != 1 || !dhcp || n_elements(dhcp) != 1 ||
	    !(host = first_el(dhcp, "host")) || n_elements(host) != 0)
		return false;
	return strcasecmp(attr(host, "id", id, sizeof(id)), w->host_id) == 0 &&
	       addr_eq(attr(host, "ip", hip, sizeof(hip)), w->address) &&
	       !xmlHasProp(host, (const xmlChar *)"name") && !xmlHasProp(host, (const xmlChar *)"mac");
}

static bool wanted(const char *v, const struct netxml_want *w)
{
	for (size_t i = 0; i < w->n_options; i++)
		if (strcmp(v, w->options[i]) == 0)
			return true;
	return false;
}

static bool opt_is_ours(const char *v, const struct netxml_want *w)
{
	static const char hd[] = "dhcp-hostsdir=";
	size_t n = strlen(v), sl = w->hosts_suffix ? strlen(w->hosts_suffix) : 0;

	if (wanted(v, w))
		return true;
	if (sl && strncmp(v, hd, sizeof(hd) - 1) == 0 && n >= sl &&
	    strcmp(v + n - sl, w->hosts_suffix) == 0)
		return true;
	return strncmp(v, "ra-param=*,", 11) == 0 || strncmp(v, "dhcp-lease-max=", 15) == 0;
}

static xmlNode *options_el(const xmlNode *root)
{
	for (xmlNode *c = root->children; c; c = c->next)
		if (is_dnsmasq(c, "options"))
			return c;
	return NULL;
}

static void note_removed(struct netxml_info *info, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note_removed(struct netxml_info *info, const char *fmt, ...)
{
	va_list ap;

	if (info->n_removed >= NETXML_REMOVED_MAX) {
		info->n_removed_more++;
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(info->removed[info->n_removed++], NETXML_TEXT_MAX, fmt, ap);
	va_end(ap);
}

static bool forward_has_dnsmasq(const char *mode)
{
	return !mode[0] || strcmp(mode, "nat") == 0 || strcmp(mode, "route") == 0 ||
	       strcmp(mode, "open") == 0;
}

/* The addresses of an IPv4 <ip>'s DHCP ranges: libvirt counts them into dnsmasq's
 * dhcp-lease-max. */
static unsigned long ipv4_ranges(const xmlNode *ip)
{
	const xmlNode *dhcp = first_el(ip, "dhcp");
	unsigned long n = 0;

	for (const xmlNode *c = dhcp ? dhcp->children : NULL; c; c = c->next) {
		char s[64], e[64];
		struct in_addr a, b;

		if (!is_el(c, "range") || inet_pton(AF_INET, attr(c, "start", s, sizeof(s)), &a) != 1 ||
		    inet_pton(AF_INET, attr(c, "end", e, sizeof(e)), &b) != 1 ||
		    ntohl(b.s_addr) < ntohl(a.s_addr))
			continue;
		n += (unsigned long)(ntohl(b.s_addr) - ntohl(a.s_addr)) + 1;
	}
	return n;
}

static void read_info(const xmlNode *root, const struct netxml_want *w, struct netxml_info *ret)
{
	const xmlNode *fwd = first_el(root, "forward"), *br = first_el(root, "bridge");
	const xmlNode *opts = options_el(root), *ours_ip = NULL;
	size_t n_ours_ip = 0, k = 0;
	bool opts_ok = true;

	memset(ret, 0, sizeof(*ret));
	if (fwd && !attr(fwd, "mode", ret->forward, sizeof(ret->forward))[0])
		(void)snprintf(ret->forward, sizeof(ret->forward), "nat");
	if (br)
		attr(br, "name", ret->bridge, sizeof(ret->bridge));
	for (const xmlNode *c = root->children; c; c = c->next) {
		if (ip_is_ours(c, w)) {
			n_ours_ip++;
			ours_ip = c;
		} else if (is_el(c, "ip") && !ip_is_v6(c)) {
			ret->ipv4_range_size += ipv4_ranges(c);
		}
	}
	for (const xmlNode *c = opts ? opts->children : NULL; c; c = c->next) {
		char v[NETXML_TEXT_MAX * 4];

		if (!is_dnsmasq(c, "option") || !opt_is_ours(attr(c, "value", v, sizeof(v)), w))
			continue;
		if (k >= w->n_options || strcmp(v, w->options[k]) != 0)
			opts_ok = false;
		k++;
	}
	ret->up_to_date = n_ours_ip == 1 && ip_matches(ours_ip, w) && opts_ok &&
			  k == w->n_options;
}

int netxml_inspect(const char *xml, const struct netxml_want *w, struct netxml_info *ret)
{
	xmlDocPtr doc;
	int r;

	if ((r = parse(xml, &doc)) < 0)
		return r;
	read_info(xmlDocGetRootElement(doc), w, ret);
	xmlFreeDoc(doc);
	return 0;
}

static xmlNode *new_el(xmlNode *parent, const char *name)
{
	return xmlNewChild(parent, NULL, (const xmlChar *)name, NULL);
}

static bool set(xmlNode *n, const char *name, const char *value)
{
	return n && xmlSetProp(n, (const xmlChar *)name, (const xmlChar *)value);
}

/* The wanted <ip>, not yet in the tree. */
static xmlNode *make_ip(const struct netxml_want *w)
{
	xmlNode *ip = xmlNewNode(NULL, (const xmlChar *)"ip"), *dhcp, *host;
	char p[16];

	(void)snprintf(p, sizeof(p), "%u", w->prefix);
	if (!set(ip, "family", "ipv6") || !set(ip, "address", w->address) ||
	    !set(ip, "prefix", p) || !(dhcp = new_el(ip, "dhcp")) ||
	    !(host = new_el(dhcp, "host")) || !set(host, "id", w->host_id) ||
	    !set(host, "ip", w->address)) {
		xmlFreeNode(ip);
		return NULL;
	}
	return ip;
}

/* Where the new <ip> goes: after the last <ip>, else before the first of <route> and the
 * namespaced elements (libvirt writes them last), else at the end. */
static xmlNode *insert_ip(xmlNode *root, xmlNode *ip)
{
	xmlNode *last_ip = NULL, *before = NULL;

	for (xmlNode *c = root->children; c; c = c->next) {
		if (is_el(c, "ip"))
			last_ip = c;
		else if (!before && c->type == XML_ELEMENT_NODE && (c->ns || is_el(c, "route")))
			before = c;
	}
	if (last_ip)
		return xmlAddNextSibling(last_ip, ip);
	if (before)
		return xmlAddPrevSibling(before, ip);
	return xmlAddChild(root, ip);
}

static xmlNode *ensure_options(xmlNode *root)
{
	xmlNode *opts = options_el(root);
	xmlNsPtr ns;

	if (opts)
		return opts;
	ns = xmlSearchNsByHref(root->doc, root, (const xmlChar *)NETXML_DNSMASQ_NS);
	if (!ns)
		ns = xmlNewNs(root, (const xmlChar *)NETXML_DNSMASQ_NS, (const xmlChar *)"dnsmasq");
	if (!ns)	/* the prefix "dnsmasq" means something else here */
		ns = xmlNewNs(root, (const xmlChar *)NETXML_DNSMASQ_NS, (const xmlChar *)"v6pddm");
	if (!ns)
		return NULL;
	return xmlNewChild(root, ns, (const xmlChar *)"options", NULL);
}

static int check_forward(const xmlNode *root, const struct netxml_info *info)
{
	char name[NETXML_TEXT_MAX] = "?";
	const xmlNode *n = first_el(root, "name");
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;

	if (forward_has_dnsmasq(info->forward)) {
		xmlFree(t);
		return 0;
	}
	if (t)
		(void)snprintf(name, sizeof(name), "%s", (const char *)t);
	xmlFree(t);
	return err_set(-EOPNOTSUPP, "libvirt network \"%s\" has <forward mode='%s'>: libvirt runs "
				    "no dnsmasq and takes no <ip> for it (give its bridge a "
				    "{\"bridge\": ...} entry instead)",
		       name, info->forward);
}

static int edit(xmlNode *root, const struct netxml_want *w, struct netxml_info *info)
{
	xmlNode *opts = options_el(root), *next, *ip;
	char a[NETXML_TEXT_MAX], p[16];

	for (xmlNode *c = root->children; c; c = next) {
		next = c->next;
		if (!ip_is_ours(c, w))
			continue;
		attr(c, "prefix", p, sizeof(p));
		attr(c, "address", a, sizeof(a));
		if (ip_matches(c, w))
			;	/* put back as it was: not worth a word */
		else if (first_el(c, "dhcp"))
			note_removed(info, "<ip> %s/%s (DHCPv6)", a, p);
		else
			note_removed(info, "<ip> %s/%s", a, p);
		xmlUnlinkNode(c);
		xmlFreeNode(c);
	}
	for (xmlNode *c = opts ? opts->children : NULL; c; c = next) {
		char v[NETXML_TEXT_MAX * 4];

		next = c->next;
		if (!is_dnsmasq(c, "option") || !opt_is_ours(attr(c, "value", v, sizeof(v)), w))
			continue;
		if (!wanted(v, w))
			note_removed(info, "<dnsmasq:option> %s", v);
		xmlUnlinkNode(c);
		xmlFreeNode(c);
	}
	if (!(ip = make_ip(w)))
		return err_set(-ENOMEM, "out of memory");
	if (!insert_ip(root, ip)) {
		xmlFreeNode(ip);
		return err_set(-ENOMEM, "out of memory");
	}
	if (!(opts = ensure_options(root)))
		return err_set(-ENOMEM, "out of memory");
	for (size_t i = 0; i < w->n_options; i++) {
		xmlNode *o = xmlNewChild(opts, opts->ns, (const xmlChar *)"option", NULL);

		if (!set(o, "value", w->options[i]))
			return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

int netxml_edit(const char *xml, const struct netxml_want *w, char **ret_xml,
		struct netxml_info *ret)
{
	xmlDocPtr doc;
	xmlNode *root;
	int r;

	if ((r = parse(xml, &doc)) < 0)
		return r;
	root = xmlDocGetRootElement(doc);
	read_info(root, w, ret);
	if ((r = check_forward(root, ret)) < 0)
		goto out;
	if (ret->up_to_date) {
		*ret_xml = strdup(xml);
		r = *ret_xml ? 0 : err_set(-ENOMEM, "out of memory");
		goto out;
	}
	if ((r = edit(root, w, ret)) == 0)
		r = dump(doc, ret_xml);
out:
	xmlFreeDoc(doc);
	return r;
}

int netxml_new(const char *name, char **ret)
{
	xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNode *root = doc ? xmlNewNode(NULL, (const xmlChar *)"network") : NULL, *fwd;
	int r;

	if (!root) {
		xmlFreeDoc(doc);
		return err_set(-ENOMEM, "out of memory");
	}
	(void)xmlDocSetRootElement(doc, root);
	if (!xmlNewTextChild(root, NULL, (const xmlChar *)"name", (const xmlChar *)name) ||
	    !(fwd = new_el(root, "forward")) || !set(fwd, "mode", "route")) {
		xmlFreeDoc(doc);
		return err_set(-ENOMEM, "out of memory");
	}
	r = dump(doc, ret);
	xmlFreeDoc(doc);
	return r;
}

int netxml_domain_taps(const char *xml, const char *network, char (*ret)[16], size_t max)
{
	const xmlNode *devs;
	xmlDocPtr doc;
	size_t n = 0;
	int r;

	if ((r = parse_as(xml, "domain", &doc)) < 0)
		return r;
	devs = first_el(xmlDocGetRootElement(doc), "devices");
	for (const xmlNode *c = devs ? devs->children : NULL; c && n < max; c = c->next) {
		const xmlNode *src = is_el(c, "interface") ? first_el(c, "source") : NULL;
		const xmlNode *tgt = src ? first_el(c, "target") : NULL;
		char v[NETXML_TEXT_MAX];

		if (!tgt || !attr_is(c, "type", "network") || !attr_is(src, "network", network) ||
		    !attr(tgt, "dev", v, sizeof(v))[0] || strlen(v) >= 16)
			continue;
		memcpy(ret[n++], v, strlen(v) + 1);	/* shorter than 16, checked above */
	}
	xmlFreeDoc(doc);
	return (int)n;
}
