/* v6pdctl prefix set (its renumbering), prefix from-dhcp-env, renumber, and what prefix show
 * says about a renumbering. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "err.h"
#include "hostconf.h"
#include "pdenv.h"
#include "renumber.h"

extern char **environ;

static int load_hostconf(struct hostconf *hc)
{
	return hostconf_load(hostconf_default_path(), hc);
}

static json_t *report_json(const struct renumber_report *r)
{
	json_t *notes = json_array();

	for (unsigned i = 0; i < r->n_notes; i++)
		(void)json_array_append_new(notes, json_string(r->notes[i]));
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:o}", "pending", r->pending,
			 "moved", r->moved, "interfaces", r->interfaces, "hostObjects", r->host,
			 "gone", r->gone, "failed", r->failed, "dnsFailed", r->dns_failed, "notes",
			 notes);
}

static void report_text(const struct renumber_report *r)
{
	(void)printf("renumbered %u of %u lease%s: %u interface%s, %u host object%s", r->moved,
		     r->pending, r->pending == 1 ? "" : "s", r->interfaces,
		     r->interfaces == 1 ? "" : "s", r->host, r->host == 1 ? "" : "s");
	if (r->gone)
		(void)printf(", %u gone", r->gone);
	if (r->failed)
		(void)printf(", %u left for the next run", r->failed);
	(void)printf("\n");
	for (unsigned i = 0; i < r->n_notes; i++)
		(void)fprintf(stderr, "v6pdctl: note: %s\n", r->notes[i]);
}

int ctl_prefix_apply(struct ctl *c, const struct prefix *p, const char *why)
{
	char a[PREFIX_STRLEN], b[PREFIX_STRLEN];
	struct renumber_report rep = { 0 };
	struct renumber_opts o = { .now = c->now };
	struct hostconf hc;
	struct prefix old, cur;
	bool changed, had_old, has_cur;
	int r, k;

	if ((r = load_hostconf(&hc)) < 0)
		return r;
	has_cur = store_prefix_get(c->store, &cur, NULL) == 0;
	err_clear();
	o.grace = hc.renumber_grace;
	/* first what drained by now, so that a renumbering back to a prefix finds it gone */
	if ((k = renumber_drain(c->store, c->now)) < 0)
		(void)fprintf(stderr, "v6pdctl: draining: %s\n", err_msg(k));
	if ((r = store_prefix_set(c->store, p, c->now, &changed, &old, &had_old)) < 0) {
		if (r == -EINVAL && why)
			return err_wrap(r, "%s: the delegated prefix %s is refused (v6pd keeps %s, "
					   "nothing changed)",
					why, prefix_to_string(p, a, sizeof(a)),
					has_cur ? prefix_to_string(&cur, b, sizeof(b)) : "none");
		return r;
	}
	/* also when unchanged: a run that died half-way is finished here */
	r = renumber_run(c->store, &o, &rep);
	(void)prefix_to_string(p, a, sizeof(a));
	if (c->json) {
		json_t *j = json_pack("{s:s, s:o, s:b}", "prefix", a, "previous",
				      had_old ? json_string(prefix_to_string(&old, b, sizeof(b)))
					      : json_null(),
				      "changed", changed);

		if (rep.pending)
			(void)json_object_set_new(j, "renumbered", report_json(&rep));
		if (why)
			(void)json_object_set_new(j, "source", json_string(why));
		out_json(j);
		return r;
	}
	/* a DHCP client's every renewal: nothing to say when nothing happened */
	if (why && !changed && !rep.pending)
		return r;
	if (why)
		(void)printf("%s: ", why);
	if (!changed)
		(void)printf("prefix %s unchanged\n", a);
	else if (had_old)
		(void)printf("prefix %s (was %s)\n", a, prefix_to_string(&old, b, sizeof(b)));
	else
		(void)printf("prefix %s\n", a);
	if (rep.pending)
		report_text(&rep);
	return r;
}

/* ---- from-dhcp-env ---- */

static int filter_of(struct ctl *c, const struct hostconf *hc, struct pdenv_filter *f)
{
	int r;

	memset(f, 0, sizeof(*f));
	f->interface = c->pd_interface ? c->pd_interface : hc->pd_interface;
	if (c->pd_iaid) {
		if ((r = pdenv_iaid_from_string(c->pd_iaid, &f->iaid)) < 0)
			return err_wrap(r, "--pd-iaid");
		f->has_iaid = true;
	} else if (hc->has_pd_iaid) {
		f->iaid = hc->pd_iaid;
		f->has_iaid = true;
	}
	return 0;
}

static uint64_t boottime_usec(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The known prefixes with ev applied; *ret_chosen the one to use (1), or none (0). */
static int known_update(struct ctl *c, const struct pdenv *ev, const struct prefix *cur,
			struct prefix *ret_chosen)
{
	struct pdenv_known known[PDENV_KNOWN_MAX], *stored = NULL;
	size_t n = 0;
	int r;

	if ((r = store_pd_load(c->store, &stored, &n)) < 0)
		return r;
	if (n)
		memcpy(known, stored, n * sizeof(*known));
	free(stored);
	pdenv_merge(known, &n, ev, c->now);
	if ((r = store_pd_save(c->store, known, n)) < 0)
		return r;
	return pdenv_choose(known, n, cur, c->now, ret_chosen);
}

int cmd_prefix_from_dhcp_env(struct ctl *c)
{
	char why[96], a[PREFIX_STRLEN];
	struct pdenv ev;
	struct pdenv_filter f;
	struct hostconf hc;
	struct prefix cur, chosen;
	bool has_cur;
	int r, k;

	if ((r = pdenv_parse((const char *const *)environ, boottime_usec(), &ev)) < 0)
		return r;
	if ((r = load_hostconf(&hc)) < 0 || (r = filter_of(c, &hc, &f)) < 0)
		return r;
	(void)snprintf(why, sizeof(why), "%s %s on %s", pdenv_client_to_string(ev.client),
		       ev.reason, ev.interface[0] ? ev.interface : "?");
	if (!pdenv_filter_apply(&ev, &f) || ev.kind == PDENV_IGNORE) {
		if ((k = renumber_drain(c->store, c->now)) < 0)
			(void)fprintf(stderr, "v6pdctl: draining: %s\n", err_msg(k));
		if (!c->json)
			(void)printf("%s: nothing for v6pd\n", why);
		else
			out_json(json_pack("{s:s, s:b}", "source", why, "ignored", 1));
		return 0;
	}
	r = store_prefix_get(c->store, &cur, NULL);
	if (r < 0 && r != -ENOENT)
		return r;
	err_clear();
	has_cur = r == 0;
	if ((r = known_update(c, &ev, has_cur ? &cur : NULL, &chosen)) < 0)
		return r;
	if (r > 0)
		return ctl_prefix_apply(c, &chosen, why);
	/* RFC 8415 18.2.10.1: a withdrawn prefix is not used for new addresses; v6pd has no
	 * other, so it changes nothing: live addresses stay until their lifetimes run out. */
	if ((k = renumber_drain(c->store, c->now)) < 0)
		(void)fprintf(stderr, "v6pdctl: draining: %s\n", err_msg(k));
	if (c->json)
		out_json(json_pack("{s:s, s:o, s:b}", "source", why, "prefix",
				   has_cur ? json_string(prefix_to_string(&cur, a, sizeof(a)))
					   : json_null(),
				   "changed", 0));
	else if (has_cur)
		(void)fprintf(stderr, "v6pdctl: %s: no delegated prefix is valid now; v6pd keeps %s "
				      "and changes nothing (addresses stay until their lifetimes "
				      "run out)\n",
			      why, prefix_to_string(&cur, a, sizeof(a)));
	else
		(void)fprintf(stderr, "v6pdctl: %s: no delegated prefix yet\n", why);
	return 0;
}

/* ---- drain and status ---- */

int cmd_renumber(struct ctl *c)
{
	struct renumber_report rep = { 0 };
	struct renumber_opts o = { .now = c->now };
	struct hostconf hc;
	int r, drained;

	if ((r = load_hostconf(&hc)) < 0)
		return r;
	o.grace = hc.renumber_grace;
	if ((drained = renumber_drain(c->store, c->now)) < 0)
		return drained;
	r = renumber_run(c->store, &o, &rep);
	if (c->json) {
		out_json(json_pack("{s:i, s:o}", "drained", drained, "renumbered", report_json(&rep)));
		return r;
	}
	(void)printf("drained %d entr%s\n", drained, drained == 1 ? "y" : "ies");
	report_text(&rep);
	return r;
}

static json_t *drain_json(const struct store_drain *d, int64_t now)
{
	char w[PREFIX_STRLEN], o[PREFIX_STRLEN], t[32];

	return json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:b}", "kind",
			 store_drain_kind_to_string(d->kind), "netns",
			 d->netns[0] ? json_string(d->netns) : json_null(), "link", d->link, "what",
			 prefix_to_string(&d->what, w, sizeof(w)), "from",
			 prefix_to_string(&d->origin, o, sizeof(o)), "until",
			 out_time(d->until, t, sizeof(t)), "due", d->until <= now);
}

/* Per origin prefix: how many of each kind, the last time. */
static void drain_text(const struct store_drain *v, size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		unsigned cnt[4] = { 0 };
		int64_t until = 0;
		bool first = true;
		char o[PREFIX_STRLEN], t[32], left[16];

		for (size_t k = 0; k < i && first; k++)
			first = memcmp(&v[k].origin, &v[i].origin, sizeof(v[i].origin)) != 0;
		if (!first)
			continue;
		for (size_t k = i; k < n; k++)
			if (memcmp(&v[k].origin, &v[i].origin, sizeof(v[i].origin)) == 0) {
				cnt[v[k].kind]++;
				if (v[k].until > until)
					until = v[k].until;
			}
		(void)printf("draining %s until %s (%s): %u address%s, %u gateway%s, %u route%s, "
			     "%u proxy entr%s\n",
			     prefix_to_string(&v[i].origin, o, sizeof(o)), out_time(until, t, sizeof(t)),
			     until > now ? out_age(until - now, left, sizeof(left)) : "due", cnt[0],
			     cnt[0] == 1 ? "" : "es", cnt[1], cnt[1] == 1 ? "" : "s", cnt[2],
			     cnt[2] == 1 ? "" : "s", cnt[3], cnt[3] == 1 ? "y" : "ies");
	}
}

int ctl_renumber_status(struct ctl *c, json_t *into)
{
	char b[PREFIX_STRLEN];
	struct store_renumber_item *p = NULL;
	struct store_drain *v = NULL;
	struct prefix prev;
	size_t np = 0, n = 0;
	bool has_prev;
	int r;

	r = store_prefix_previous(c->store, &prev);
	if (r < 0 && r != -ENOENT)
		return r;
	err_clear();
	has_prev = r == 0;
	if ((r = store_renumber_pending(c->store, &p, &np)) < 0 ||
	    (r = store_drain_list(c->store, &v, &n)) < 0)
		goto out;
	if (into) {
		json_t *arr = json_array();

		(void)json_object_set_new(into, "previous",
					  has_prev ? json_string(prefix_to_string(&prev, b, sizeof(b)))
						   : json_null());

		for (size_t i = 0; i < n; i++)
			(void)json_array_append_new(arr, drain_json(&v[i], c->now));
		(void)json_object_set_new(into, "draining", arr);
		(void)json_object_set_new(into, "pending", json_integer((json_int_t)np));
		goto out;
	}
	if (has_prev)
		(void)printf("previous prefix %s\n", prefix_to_string(&prev, b, sizeof(b)));
	drain_text(v, n, c->now);
	if (np)
		(void)printf("%zu lease%s not yet moved to the current prefix (`v6pdctl renumber` "
			     "finishes %s)\n",
			     np, np == 1 ? "" : "s", np == 1 ? "it" : "them");
	if (n || np || has_prev)
		(void)printf("\n");
out:
	free(p);
	free(v);
	return r;
}
