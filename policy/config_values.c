/*
 * config_values.c - the values of pam_agent.conf: each key's type (string,
 * path, command, duration, boolean, class, count, uid, source, lists and
 * time windows) checked and stored into its section's struct.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "config_int.h"

/* ---- values ------------------------------------------------------------------- */

/* Whether ch separates list words (space or tab). */
static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Whether s has a '#' right after a blank: a comment that is not one. */
static bool has_hash_comment(const char *s)
{
	const char *p;

	for (p = s; (p = strchr(p, '#')) != NULL; p++)
		if (p > s && is_blank(p[-1]))
			return true;
	return false;
}

/* Whether every byte of s is in the set [A-Za-z0-9] plus extra. */
bool pol_cfg_chars_ok(const char *s, const char *extra)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return false;
	return true;
}

/* Appends a copy of word to l unless already there. Returns 0, 1 (dup) or -1. */
static int list_add(struct pol_list *l, const char *word, size_t len)
{
	char **grown;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == len && memcmp(l->v[i], word, len) == 0)
			return 1;
	grown = realloc(l->v, (l->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	l->v = grown;
	l->v[l->n] = strndup(word, len);
	if (l->v[l->n] == NULL)
		return -1;
	l->n++;
	return 0;
}

static const char *const day_names[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

/* Day index 0..6 of a three-letter name of len bytes, or -1. */
static int day_index(const char *s, size_t len)
{
	int i;

	for (i = 0; i < 7; i++)
		if (len == 3 && memcmp(s, day_names[i], 3) == 0)
			return i;
	return -1;
}

/* Parses "HH:MM" (HH 00..24, 24 only as 24:00) into minutes. */
static int parse_hhmm(const char *s, size_t len, unsigned *minutes)
{
	unsigned h, m;

	if (len != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    s[2] != ':' || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

/*
 * Parses one window "DAYS HH:MM-HH:MM" of len bytes (already trimmed):
 * DAYS is "*", a day ("Mon") or a range ("Mon-Fri", may wrap: "Fri-Mon").
 */
static int parse_window(const char *s, size_t len, struct pol_window *w)
{
	const char *sp = memchr(s, ' ', len);
	const char *days, *times, *dash;
	size_t dlen, tlen;
	unsigned start, end;
	int d1, d2;

	if (sp == NULL)
		return -1;
	days = s;
	dlen = (size_t)(sp - s);
	times = sp + 1;
	while (times < s + len && *times == ' ')
		times++;
	tlen = (size_t)(s + len - times);
	if (dlen == 1 && days[0] == '*') {
		w->days = 0x7f;
	} else if (dlen == 3) {
		if ((d1 = day_index(days, 3)) < 0)
			return -1;
		w->days = (uint8_t)(1u << d1);
	} else if (dlen == 7 && days[3] == '-') {
		d1 = day_index(days, 3);
		d2 = day_index(days + 4, 3);
		if (d1 < 0 || d2 < 0)
			return -1;
		w->days = 0;
		for (;;) {
			w->days |= (uint8_t)(1u << d1);
			if (d1 == d2)
				break;
			d1 = (d1 + 1) % 7;
		}
	} else {
		return -1;
	}
	dash = memchr(times, '-', tlen);
	if (dash == NULL || parse_hhmm(times, (size_t)(dash - times), &start) != 0 ||
	    parse_hhmm(dash + 1, (size_t)(times + tlen - dash - 1), &end) != 0 ||
	    start >= end)
		return -1;
	w->start = (uint16_t)start;
	w->end = (uint16_t)end;
	return 0;
}

/* Adds the comma-separated windows of value to agent a. */
static void set_hours(struct parse_ctx *c, struct pol_agent *a, const char *key,
		      const char *value)
{
	const char *p = value;

	while (*p) {
		const char *comma = strchr(p, ',');
		const char *e = comma ? comma : p + strlen(p);
		const char *b = p;
		struct pol_window w, *grown;

		while (b < e && is_blank(*b))
			b++;
		while (e > b && is_blank(e[-1]))
			e--;
		if (parse_window(b, (size_t)(e - b), &w) != 0) {
			PERR(c, "%s:%u: '%s': \"%.*s\" is not a window like \"Mon-Fri 08:00-18:00\"",
			     c->file, c->lineno, key, (int)(e - b), b);
			return;
		}
		grown = realloc(a->hours, (a->n_hours + 1) * sizeof(*grown));
		if (grown == NULL) {
			pol_cfg_oom(c);
			return;
		}
		a->hours = grown;
		a->hours[a->n_hours++] = w;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
}

/* Parses a decimal integer within [min, max]. */
static int parse_count(const char *s, int64_t min, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Replaces the string at *field by a copy of value (or appends it after a space). */
static void set_string(struct parse_ctx *c, char **field, const char *value, bool append)
{
	char *s = NULL;

	if (append && *field != NULL) {
		if (asprintf(&s, "%s %s", *field, value) < 0)
			s = NULL;
	} else {
		s = strdup(value);
	}
	if (s == NULL) {
		pol_cfg_oom(c);
		return;
	}
	free(*field);
	*field = s;
}

/* Adds the blank-separated words of value to the list l; a word twice is reported. */
static void set_list(struct parse_ctx *c, struct pol_list *l, const char *key, const char *value)
{
	const char *p = value;

	while (*p) {
		size_t len;
		int r;

		while (is_blank(*p))
			p++;
		len = strcspn(p, " \t");
		if (len == 0)
			break;
		r = list_add(l, p, len);
		if (r < 0) {
			pol_cfg_oom(c);
			return;
		}
		if (r > 0)
			PERR(c, "%s:%u: '%s' lists \"%.*s\" twice", c->file, c->lineno, key,
			     (int)len, p);
		p += len;
	}
}

/* set_list of hex SHA-256 digests: 64 hex digits each, stored lower-case. */
static void set_sha256s(struct parse_ctx *c, struct pol_list *l, const char *key,
			const char *value)
{
	char buf[1024];
	size_t i, len = strlen(value), run = 0;

	if (len >= sizeof(buf)) {
		PERR(c, "%s:%u: '%s': line too long (put more digests on indented lines)",
		     c->file, c->lineno, key);
		return;
	}
	memcpy(buf, value, len + 1);
	for (i = 0; i <= len; i++) {
		char ch = buf[i];

		if (ch == '\0' || is_blank(ch)) {
			if (run != 0 && run != 64) {
				PERR(c, "%s:%u: '%s': \"%.*s\" is not a SHA-256 (64 hex digits)",
				     c->file, c->lineno, key, (int)(run < 80 ? run : 80),
				     value + i - run);
				return;
			}
			run = 0;
		} else if (isxdigit((unsigned char)ch)) {
			run++;
		} else {
			PERR(c, "%s:%u: '%s': '%c' is not a hex digit (a SHA-256 is 64 of them)",
			     c->file, c->lineno, key, isprint((unsigned char)ch) ? ch : '?');
			return;
		}
		buf[i] = (char)tolower((unsigned char)ch);
	}
	set_list(c, l, key, buf);
}

/* Stores the grant source named by value. */
static void set_source(struct parse_ctx *c, enum pol_source *source, const char *key,
		       const char *value)
{
	if (strcmp(value, "mint") == 0)
		*source = POL_SOURCE_MINT;
	else if (strcmp(value, "exec") == 0)
		*source = POL_SOURCE_EXEC;
	else if (strcmp(value, "file") == 0)
		*source = POL_SOURCE_FILE;
	else
		PERR(c, "%s:%u: '%s' must be mint, exec or file", c->file, c->lineno, key);
}

/* Checks and stores one value (or a continuation of one) of key kd into base. */
void pol_cfg_set_value(struct parse_ctx *c, void *base, const struct key_def *kd,
		      const char *value, bool cont)
{
	void *field = (char *)base + kd->off;
	const char *f = c->file;
	unsigned ln = c->lineno;
	enum pol_class cls;
	int64_t n;
	bool b;

	if (*value == '\0') {
		PERR(c, "%s:%u: '%s' has an empty value", f, ln, kd->name);
		return;
	}
	if (has_hash_comment(value)) {
		PERR(c, "%s:%u: '%s': '#' after a blank is not a comment here "
		     "(comments are whole lines starting with '#' or ';', or \" ;\" after a value)",
		     f, ln, kd->name);
		return;
	}
	switch (kd->type) {
	case VT_STR:
	case VT_TEXT:
		set_string(c, field, value, cont);
		break;
	case VT_PATH:
		if (value[0] != '/' || strpbrk(value, " \t") != NULL) {
			PERR(c, "%s:%u: '%s' must be an absolute path without blanks", f, ln, kd->name);
			return;
		}
		set_string(c, field, value, false);
		break;
	case VT_COMMAND:
		if (value[0] != '/') {
			PERR(c, "%s:%u: '%s' must start with the absolute path of a program",
			     f, ln, kd->name);
			return;
		}
		set_string(c, field, value, false);
		break;
	case VT_DUR:
		if (pa_parse_duration(value, &n) != 0) {
			PERR(c, "%s:%u: '%s' = \"%s\" is not a duration (like 90s, 15m, 2h, 1d)",
			     f, ln, kd->name, value);
			return;
		}
		if (n < kd->min || n > kd->max) {
			PERR(c, "%s:%u: '%s' must be between %llds and %llds", f, ln, kd->name,
			     (long long)kd->min, (long long)kd->max);
			return;
		}
		*(int64_t *)field = n;
		break;
	case VT_BOOL:
		if (pa_parse_bool(value, &b) != 0) {
			PERR(c, "%s:%u: '%s' must be yes or no", f, ln, kd->name);
			return;
		}
		*(bool *)field = b;
		break;
	case VT_CLASS:
		if (pol_class_parse(value, &cls) != 0) {
			PERR(c, "%s:%u: '%s' = \"%s\" is not a class (read, write or escalate)",
			     f, ln, kd->name, value);
			return;
		}
		*(enum pol_class *)field = cls;
		break;
	case VT_COUNT:
		if (parse_count(value, kd->min, kd->max, &n) != 0) {
			PERR(c, "%s:%u: '%s' must be a whole number from %lld to %lld", f, ln,
			     kd->name, (long long)kd->min, (long long)kd->max);
			return;
		}
		*(int64_t *)field = n;
		break;
	case VT_UID:
		if (parse_count(value, 0, (int64_t)(uid_t)-2, &n) != 0) {
			PERR(c, "%s:%u: '%s' must be a numeric uid", f, ln, kd->name);
			return;
		}
		*(uid_t *)field = (uid_t)n;
		break;
	case VT_SOURCE:
		set_source(c, field, kd->name, value);
		break;
	case VT_HOURS:
		set_hours(c, base, kd->name, value);
		break;
	case VT_LIST:
		set_list(c, field, kd->name, value);
		break;
	case VT_SHA256S:
		set_sha256s(c, field, kd->name, value);
		break;
	}
	if (kd->has_off >= 0)
		*(bool *)((char *)base + kd->has_off) = true;
}
