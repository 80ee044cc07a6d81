/* The hook's stdin: libvirt's live domain XML, or <hookData> with a network and a port.
 *
 * Input from outside: parsed without network access, without loading or expanding entities,
 * and a document with a DTD (which libvirt never sends) is refused, so neither XXE nor
 * entity expansion bombs can happen.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "addrgen.h"
#include "err.h"
#include "hook.h"

static void xml_silent(void *ctx, const char *msg, ...)
{
}

/* SAX: a <!DOCTYPE> stops the parser before any declaration in it is read. */
static void on_doctype(void *data, const xmlChar *name, const xmlChar *ext_id,
		       const xmlChar *sys_id)
{
	xmlParserCtxtPtr ctxt = data;

	ctxt->_private = ctxt;
	xmlStopParser(ctxt);
}

static int xml_read(const char *buf, size_t len, xmlDocPtr *ret)
{
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	int r = 0;

	if (len > HOOK_STDIN_MAX)
		return err_set(-EFBIG, "XML on stdin: larger than %u MiB", HOOK_STDIN_MAX >> 20);
	xmlSetGenericErrorFunc(NULL, xml_silent);
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return err_set(-ENOMEM, "out of memory");
	ctxt->sax->internalSubset = on_doctype;
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, "stdin", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (ctxt->_private || (doc && (doc->intSubset || doc->extSubset))) {
		r = err_set(-EINVAL, "XML on stdin: a <!DOCTYPE> is not accepted");
	} else if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char msg[160] = "empty input";

		if (e && e->message) {
			(void)snprintf(msg, sizeof(msg), "%s", e->message);
			msg[strcspn(msg, "\r\n")] = '\0';
		}
		r = err_set(-EINVAL, "XML on stdin is not well-formed: line %d: %s",
			    e ? e->line : 0, msg);
	}
	xmlFreeParserCtxt(ctxt);
	if (r < 0) {
		xmlFreeDoc(doc);
		return r;
	}
	*ret = doc;
	return 0;
}

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child(const xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/* 1 copied, 0 absent, -ENAMETOOLONG when it does not fit (ret is then ""). */
static int copy_prop(const xmlNode *n, const char *attr, char *ret, size_t size)
{
	xmlChar *v = n ? xmlGetNoNsProp(n, (const xmlChar *)attr) : NULL;
	int r = 0;

	ret[0] = '\0';
	if (!v)
		return 0;
	if (strlen((const char *)v) >= size)
		r = -ENAMETOOLONG;
	else if ((r = 1))
		memcpy(ret, v, strlen((const char *)v) + 1);
	xmlFree(v);
	return r;
}

/* The text of element `name` under n, trimmed. */
static int copy_text(const xmlNode *n, const char *name, char *ret, size_t size)
{
	xmlNode *c = child(n, name);
	xmlChar *v = c ? xmlNodeGetContent(c) : NULL;
	const char *s, *end;
	int r = 0;

	ret[0] = '\0';
	if (!v)
		return 0;
	for (s = (const char *)v; isspace((unsigned char)*s); s++)
		;
	for (end = s + strlen(s); end > s && isspace((unsigned char)end[-1]); end--)
		;
	if ((size_t)(end - s) >= size) {
		r = -ENAMETOOLONG;
	} else {
		memcpy(ret, s, (size_t)(end - s));
		ret[end - s] = '\0';
		r = 1;
	}
	xmlFree(v);
	return r;
}

/* <uuid> under n, lower case, into ret; "" when there is none. */
static int read_uuid(const xmlNode *n, const char *what, char ret[HOOK_UUID_LEN + 1])
{
	int r = copy_text(n, "uuid", ret, HOOK_UUID_LEN + 1);
	bool ok = r == 0 || (r > 0 && strlen(ret) == HOOK_UUID_LEN);

	for (int i = 0; r > 0 && ok && i < HOOK_UUID_LEN; i++) {
		ret[i] = (char)tolower((unsigned char)ret[i]);
		ok = (i == 8 || i == 13 || i == 18 || i == 23) ? ret[i] == '-'
							       : isxdigit((unsigned char)ret[i]);
	}
	if (!ok)
		return err_set(-EINVAL, "%s: not a UUID", what);
	return 0;
}

static int read_mac(const xmlNode *iface, char ret[STORE_MAC_MAX])
{
	char raw[64];
	uint8_t m[6];
	int r = copy_prop(child(iface, "mac"), "address", raw, sizeof(raw));

	ret[0] = '\0';
	if (r == 0)
		return 0;
	if (r < 0 || addrgen_mac_from_string(raw, m) < 0)
		return err_set(-EINVAL, "<mac address='%.40s'>: not a MAC address", raw);
	(void)snprintf(ret, STORE_MAC_MAX, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		       m[4], m[5]);
	return 0;
}

static int read_iface(const xmlNode *n, struct dom_iface *ret)
{
	const xmlNode *src = child(n, "source"), *tgt = child(n, "target");
	int r;

	memset(ret, 0, sizeof(*ret));
	(void)copy_prop(n, "type", ret->type, sizeof(ret->type));
	if ((r = read_mac(n, ret->mac)) < 0)
		return r;
	/* Names too long for a network or a link cannot match anything: left "". */
	(void)copy_prop(src, "network", ret->network, sizeof(ret->network));
	(void)copy_prop(src, "bridge", ret->bridge, sizeof(ret->bridge));
	(void)copy_prop(tgt, "dev", ret->target, sizeof(ret->target));
	return 0;
}

int xml_domain_parse(const char *buf, size_t len, struct dom *ret)
{
	struct dom d = { 0 };
	xmlDocPtr doc = NULL;
	xmlNode *root, *devs;
	int r;

	if ((r = xml_read(buf, len, &doc)) < 0)
		return r;
	root = xmlDocGetRootElement(doc);
	if (!is(root, "domain")) {
		r = err_set(-EINVAL, "XML on stdin: the root element is <%.40s>, not <domain>",
			    root ? (const char *)root->name : "");
		goto out;
	}
	r = copy_text(root, "name", d.name, sizeof(d.name));
	if (r <= 0 || !d.name[0]) {
		r = err_set(-EINVAL, "<domain>: %s <name>", r < 0 ? "too long a" : "no");
		goto out;
	}
	if ((r = read_uuid(root, "<domain><uuid>", d.uuid)) < 0)
		goto out;
	devs = child(root, "devices");
	for (xmlNode *c = devs ? devs->children : NULL; c; c = c->next) {
		if (!is(c, "interface"))
			continue;
		if (d.n_ifs == HOOK_IFACES_MAX) {
			r = err_set(-E2BIG, "<domain>: more than %d interfaces", HOOK_IFACES_MAX);
			goto out;
		}
		if (!d.ifs && !(d.ifs = calloc(HOOK_IFACES_MAX, sizeof(*d.ifs)))) {
			r = err_set(-ENOMEM, "out of memory");
			goto out;
		}
		if ((r = read_iface(c, &d.ifs[d.n_ifs])) < 0) {
			r = err_wrap(r, "<interface> %zu", d.n_ifs + 1);
			goto out;
		}
		d.n_ifs++;
	}
	r = 0;
	*ret = d;
	d.ifs = NULL;
out:
	free(d.ifs);
	xmlFreeDoc(doc);
	return r;
}

void xml_domain_free(struct dom *d)
{
	if (!d)
		return;
	free(d->ifs);
	d->ifs = NULL;
	d->n_ifs = 0;
}

int xml_port_parse(const char *buf, size_t len, struct net_port *ret)
{
	struct net_port p = { 0 };
	xmlDocPtr doc = NULL;
	xmlNode *root, *port, *owner;
	int r;

	if ((r = xml_read(buf, len, &doc)) < 0)
		return r;
	root = xmlDocGetRootElement(doc);
	if (!is(root, "hookData") || !child(root, "network")) {
		r = err_set(-EINVAL, "XML on stdin: expected <hookData> with a <network>, found "
				     "<%.40s>",
			    root ? (const char *)root->name : "");
		goto out;
	}
	r = copy_text(child(root, "network"), "name", p.network, sizeof(p.network));
	if (r <= 0 || !p.network[0]) {
		r = err_set(-EINVAL, "<network>: %s <name>", r < 0 ? "too long a" : "no");
		goto out;
	}
	/* a name too long for a link matches no bridge: left "" */
	(void)copy_prop(child(child(root, "network"), "bridge"), "name", p.bridge,
			sizeof(p.bridge));
	port = child(root, "networkport");
	r = 0;
	if (!port)
		goto done;
	owner = child(port, "owner");
	if (!owner) {
		r = err_set(-EINVAL, "<networkport>: no <owner>");
		goto out;
	}
	r = copy_text(owner, "name", p.owner_name, sizeof(p.owner_name));
	if (r <= 0 || !p.owner_name[0]) {
		r = err_set(-EINVAL, "<networkport><owner>: %s <name>",
			    r < 0 ? "too long a" : "no");
		goto out;
	}
	if ((r = read_uuid(owner, "<networkport><owner><uuid>", p.owner_uuid)) < 0)
		goto out;
	if ((r = read_mac(port, p.mac)) < 0) {
		r = err_wrap(r, "<networkport>");
		goto out;
	}
	if (!p.mac[0]) {
		r = err_set(-EINVAL, "<networkport>: no <mac address>");
		goto out;
	}
	r = 0;
done:
	*ret = p;
out:
	xmlFreeDoc(doc);
	return r;
}
