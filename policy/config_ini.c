/*
 * config_ini.c - libinih, driven line by line: a reader of our own sees
 * every raw line first (exact line numbers, and what libinih would
 * silently misread is refused: see config.c), and the handler stores each
 * key of the open section.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config_int.h"

/* ---- the libinih reader and handler ---------------------------------------------- */

/*
 * libinih's inline comment rule: the first ';' preceded by a blank (or any
 * byte of chars, when chars is not NULL) ends the scan.
 */
static char *find_chars_or_comment(char *s, const char *chars)
{
	bool was_space = false;

	while (*s && (chars == NULL || strchr(chars, *s) == NULL) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* Cuts trailing whitespace off s in place; returns s. */
static char *rstrip(char *s)
{
	char *e = s + strlen(s);

	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Classifies one raw line (without its newline) exactly as libinih will,
 * opening sections as they come, since libinih never reports a section
 * that has no keys. Sets c->kind.
 */
static void classify(struct parse_ctx *c, char *line)
{
	char *start = line, *end, *p;

	if (c->lineno == 1 && (unsigned char)line[0] == 0xef && (unsigned char)line[1] == 0xbb &&
	    (unsigned char)line[2] == 0xbf)
		start += 3;
	while (*start && isspace((unsigned char)*start))
		start++;
	rstrip(start);
	if (*start == '\0' || *start == ';' || *start == '#') {
		c->kind = LK_NONE;
	} else if (c->ini_prev_name && start > line) {
		c->kind = LK_CONT;
		/* libinih r55 keeps " ;" on such a line as part of the value
		 * (later versions strip it): refused either way */
		if (*find_chars_or_comment(start, NULL) == ';') {
			PERR(c, "%s:%u: indented line with a \" ;\" comment (libinih versions "
			     "disagree on whether it is a comment; put it on a line of its own)",
			     c->file, c->lineno);
			c->kind = LK_BAD;
			c->bad_cont = true;
		}
	} else if (*start == '[') {
		end = find_chars_or_comment(start + 1, "]");
		if (*end != ']') {
			PERR(c, "%s:%u: section header without a closing ']'", c->file, c->lineno);
			c->kind = LK_BAD;
			c->cur = -1;
			c->cur_bad = true;
			return;
		}
		c->ini_prev_name = false;
		c->kind = LK_SECTION;
		*end = '\0';
		for (p = end + 1; *p && isspace((unsigned char)*p); p++)
			;
		if (*p != '\0' && !(*p == ';' && p > end + 1)) {
			PERR(c, "%s:%u: text after ']' (libinih would ignore it)", c->file, c->lineno);
			c->cur = -1;
			c->cur_bad = true;
			return;
		}
		pol_cfg_open_section(c, start + 1);
	} else {
		end = find_chars_or_comment(start, "=:");
		if (*end == '=' || *end == ':') {
			char sep = *end;

			*end = '\0';
			/* libinih remembers the name for continuation lines */
			c->ini_prev_name = *rstrip(start) != '\0';
			c->kind = LK_KEY;
			if (sep == ':') {
				PERR(c, "%s:%u: write \"key = value\" (with '=', not ':')",
				     c->file, c->lineno);
				c->kind = LK_BAD;
			}
		} else {
			PERR(c, "%s:%u: expected \"key = value\"", c->file, c->lineno);
			c->kind = LK_BAD;
		}
	}
}

/*
 * The ini_reader: hands libinih one line of the buffer at a time, after
 * classifying it. Lines that libinih could not hold whole, or that carry
 * control bytes, are reported and replaced by an empty line.
 */
static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	const char *p, *nl;
	size_t linelen, i, content;
	char *copy;

	if (c->pos >= c->len || num < 3)
		return NULL;
	p = c->buf + c->pos;
	nl = memchr(p, '\n', c->len - c->pos);
	linelen = nl != NULL ? (size_t)(nl - p) + 1 : c->len - c->pos;
	c->pos += linelen;
	c->lineno++;
	c->handled = false;
	c->bad_cont = false;
	c->kind = LK_BAD;
	content = nl != NULL ? linelen - 1 : linelen;
	if (content > 0 && p[content - 1] == '\r')
		content--;
	if (linelen > (size_t)num - 1) {
		PERR(c, "%s:%u: line longer than %d bytes", c->file, c->lineno, num - 2);
		goto blank;
	}
	for (i = 0; i < content; i++) {
		unsigned char ch = (unsigned char)p[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			PERR(c, "%s:%u: control byte 0x%02x", c->file, c->lineno, ch);
			goto blank;
		}
	}
	memcpy(str, p, linelen);
	str[linelen] = '\0';
	copy = strndup(p, content);
	if (copy == NULL) {
		pol_cfg_oom(c);
		goto blank;
	}
	classify(c, copy);
	free(copy);
	return str;
blank:
	c->kind = LK_NONE;
	str[0] = '\n';
	str[1] = '\0';
	return str;
}

/* Finds key name of the current section's kind. */
static const struct key_def *find_key(enum sec_kind kind, const char *name, size_t *pos)
{
	size_t i;

	for (i = 0; i < pol_cfg_kinds[kind].n_keys; i++) {
		if (strcmp(pol_cfg_kinds[kind].keys[i].name, name) == 0) {
			*pos = i;
			return &pol_cfg_kinds[kind].keys[i];
		}
	}
	return NULL;
}

/* Whether libinih's section name is ours, possibly cut short by libinih. */
static bool same_section(const char *ini, const char *ours)
{
	size_t n = strlen(ini);

	return strncmp(ini, ours, n) == 0 && (ours[n] == '\0' || n >= 49);
}

/* The ini_handler: one key, or one continuation line, of the open section. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	const struct key_def *kd;
	struct sect_rec *rec;
	const char *f = c->file;
	unsigned ln = c->lineno;
	size_t pos = 0;

	/* libinih's section name is ours cut at 49 bytes; we use ours */
	if (c->handled || (c->kind != LK_KEY && c->kind != LK_CONT && c->kind != LK_BAD) ||
	    (c->cur >= 0 && !same_section(section, c->recs[c->cur].label))) {
		PERR(c, "%s:%u: libinih and pam_agent read this line differently", f, ln);
		c->handled = true;
		return 1;
	}
	c->handled = true;
	if (c->kind == LK_BAD) {
		if (!c->bad_cont)
			c->prev_key = NULL;
		return 1;
	}
	if (c->cur < 0) {
		if (!c->cur_bad)
			PERR(c, "%s:%u: key '%s' outside of any section", f, ln, name);
		c->prev_key = NULL;
		return 1;
	}
	rec = &c->recs[c->cur];
	if (c->kind == LK_CONT) {
		kd = c->prev_key;
		if (kd == NULL)
			return 1; /* continues a key already reported */
		if (kd->type != VT_LIST && kd->type != VT_SHA256S && kd->type != VT_HOURS &&
		    kd->type != VT_TEXT) {
			PERR(c, "%s:%u: indented line: libinih reads it as more of '%s', which "
			     "takes one value (remove the indentation)", f, ln, kd->name);
			return 1;
		}
		if (value[0] == '[' || (kd->type == VT_LIST && strchr(value, '=') != NULL)) {
			PERR(c, "%s:%u: indented line: libinih reads it as more of '%s', not as a "
			     "%s (remove the indentation)", f, ln, kd->name,
			     value[0] == '[' ? "section header" : "key");
			return 1;
		}
		pol_cfg_set_value(c, pol_cfg_section_base(c, rec), kd, value, true);
		return 1;
	}
	kd = find_key(rec->kind, name, &pos);
	c->prev_key = NULL;
	if (kd == NULL) {
		PERR(c, "%s:%u: unknown key '%s' in [%s]", f, ln, name, rec->label);
		return 1;
	}
	if (rec->seen & (1u << pos)) {
		PERR(c, "%s:%u: duplicate key '%s' in [%s] (first at line %u)", f, ln, name,
		     rec->label, rec->key_line[pos]);
		return 1;
	}
	rec->seen |= 1u << pos;
	rec->key_line[pos] = ln;
	c->prev_key = kd;
	pol_cfg_set_value(c, pol_cfg_section_base(c, rec), kd, value, false);
	return 1;
}

/* Parses one document (buf, len bytes) named file into c->cfg. */
void pol_cfg_parse_buffer(struct parse_ctx *c, const char *file, const char *buf, size_t len)
{
	size_t before = c->errors->n + c->errors->dropped;
	char *name;
	char **grown;
	int r;

	name = strdup(file);
	grown = name ? realloc(c->cfg->files, (c->cfg->n_files + 1) * sizeof(*grown)) : NULL;
	if (grown == NULL) {
		free(name);
		PERR(c, "%s: out of memory", file);
		return;
	}
	c->cfg->files = grown;
	c->cfg->files[c->cfg->n_files++] = name;
	c->file = name;
	c->buf = buf;
	c->len = len;
	c->pos = 0;
	c->lineno = 0;
	c->ini_prev_name = false;
	c->cur = -1;
	c->cur_bad = false;
	c->prev_key = NULL;
	r = ini_parse_stream(reader, c, handler, c);
	if (r != 0 && c->errors->n + c->errors->dropped == before) {
		/* libinih saw a problem we did not: never accept silently */
		if (r > 0)
			PERR(c, "%s:%d: syntax error", name, r);
		else
			PERR(c, "%s: libinih failed (%d)", name, r);
	}
}
