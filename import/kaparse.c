/* SPDX-License-Identifier: GPL-2.0-or-later */
/* import/kaparse.c: the keepalived.conf reader (see kaparse.h). It follows
 * keepalived's lib/parser.c rule by rule, from its documentation and
 * source, without its keyword tables: the converter decides what a
 * keyword means, this file only builds the tree. Runs in directord-import's
 * only thread. */
#include "config.h"
#include "import/kaparse.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"

#define KA_MAX_DEPTH 64          /* nested blocks */
#define KA_MAX_INCLUDE 16        /* nested includes (also stops a loop) */
#define KA_MAX_FILE (16u << 20)  /* bytes of one file */
#define KA_MAX_LINE 65536        /* bytes of one line after substitution */
#define KA_MAX_WORDS 4096        /* words of one line */
#define KA_MAX_NODES 200000      /* lines of the whole configuration */

struct ka_param {
	char *name;
	char *value;
	struct ka_param *next;
};

struct rd {
	struct ka_doc *doc;
	const struct ka_opts *o;
	struct ka_node *open[KA_MAX_DEPTH]; /* the node whose block is open */
	struct ka_node **tail[KA_MAX_DEPTH + 1];
	struct ka_node *last[KA_MAX_DEPTH + 1]; /* last node at each depth */
	int depth;
	int incl;
	long nodes;
	char **err;
	int failed;
};

static const char *add_file(struct ka_doc *d, const char *name)
{
	d->files = xrealloc(d->files, (d->n_files + 1) * sizeof *d->files);
	d->files[d->n_files] = xstrdup(name);
	return d->files[d->n_files++];
}

static void fail(struct rd *r, const char *file, int line, const char *msg, const char *arg)
{
	if (r->failed)
		return;
	r->failed = 1;
	dd_seterr(r->err, "%s:%d: %s%s", file, line, msg, arg ? arg : "");
}

/* keepalived's decomment(): leading blanks go; `!` or `#` outside double
 * quotes ends the line; `\#` and `\!` outside quotes are the characters
 * themselves; trailing blanks go. Works in place. */
static void decomment(char *s)
{
	size_t skip = strspn(s, " \t");
	if (skip)
		memmove(s, s + skip, strlen(s + skip) + 1);
	int quote = 0;
	char *p = s;
	while ((p = strpbrk(p, "!#\"\\"))) {
		if (*p == '"') {
			quote = !quote;
			p++;
		} else if (*p == '\\') {
			if (!p[1]) {
				*p = '\0';
				break;
			}
			if (!quote && (p[1] == '#' || p[1] == '!')) {
				memmove(p, p + 1, strlen(p + 1) + 1);
				p++;
			} else {
				p += 2;
			}
		} else if (!quote) {
			*p = '\0';
			break;
		} else {
			p++;
		}
	}
	size_t n = strlen(s);
	while (n && isblank((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static int name_char(int c, int first)
{
	return c == '_' || isalpha(c) || (!first && isdigit(c));
}

static struct ka_param *find_param(struct ka_doc *d, const char *name, size_t len)
{
	for (struct ka_param *p = d->params; p; p = p->next)
		if (strlen(p->name) == len && !memcmp(p->name, name, len))
			return p;
	return NULL;
}

/* `$NAME=value`: 1 defined, 0 not a definition, -1 one we cannot read. */
static int definition(struct rd *r, const char *s, const char *file, int line)
{
	if (s[0] != '$' || !name_char((unsigned char)s[1], 1))
		return 0;
	size_t n = 1;
	while (name_char((unsigned char)s[n], 0))
		n++;
	if (s[n] == '(') {
		fail(r, file, line, "parameters with arguments ($NAME(...)=) are not supported", NULL);
		return -1;
	}
	if (s[n] != '=')
		return 0;
	const char *v = s + n + 1;
	size_t vl = strlen(v);
	if (vl && v[vl - 1] == '\\') {
		fail(r, file, line, "multi-line parameter definitions are not supported", NULL);
		return -1;
	}
	struct ka_param *p = find_param(r->doc, s + 1, n - 1);
	if (!p) {
		p = xcalloc(1, sizeof *p);
		p->name = xmalloc(n);
		memcpy(p->name, s + 1, n - 1);
		p->name[n - 1] = '\0';
		p->next = r->doc->params;
		r->doc->params = p;
	} else {
		free(p->value);
	}
	p->value = xstrdup(v);
	return 1;
}

/* Replaces `$NAME` followed by a blank or the end, and `${NAME}`, by their
 * values; undefined ones stay as written (keepalived does the same).
 * Returns a new string, or NULL when it grows beyond KA_MAX_LINE. */
static char *substitute(struct ka_doc *d, const char *s)
{
	char *cur = xstrdup(s);
	for (int round = 0; round < 32 && strchr(cur, '$'); round++) {
		size_t cap = strlen(cur) + 1, len = 0;
		char *out = xmalloc(cap);
		int changed = 0;
		for (const char *p = cur; *p;) {
			const char *val = NULL;
			size_t used = 0;
			if (p[0] == '$' && p[1] == '{') {
				const char *e = strchr(p + 2, '}');
				struct ka_param *pp = e ? find_param(d, p + 2, (size_t)(e - p - 2)) : NULL;
				if (pp) {
					val = pp->value;
					used = (size_t)(e - p) + 1;
				}
			} else if (p[0] == '$' && name_char((unsigned char)p[1], 1)) {
				size_t n = 1;
				while (name_char((unsigned char)p[n], 0))
					n++;
				struct ka_param *pp = (!p[n] || isspace((unsigned char)p[n]))
					? find_param(d, p + 1, n - 1) : NULL;
				if (pp) {
					val = pp->value;
					used = n;
				}
			}
			size_t add = val ? strlen(val) : 1;
			if (len + add + 1 > KA_MAX_LINE) {
				free(out);
				free(cur);
				return NULL;
			}
			if (len + add + 1 > cap) {
				cap = (len + add + 1) * 2;
				out = xrealloc(out, cap);
			}
			if (val) {
				memcpy(out + len, val, add);
				p += used;
				changed = 1;
			} else {
				out[len] = *p++;
			}
			len += add;
		}
		out[len] = '\0';
		free(cur);
		cur = out;
		if (!changed)
			break;
	}
	return cur;
}

static int read_file(struct rd *r, const char *path, const char *from, int from_line);

static void add_node(struct rd *r, char **argv, int argc, const char *file, int line)
{
	struct ka_node *n = xcalloc(1, sizeof *n);
	n->argv = argv;
	n->argc = argc;
	n->file = file;
	n->line = line;
	*r->tail[r->depth] = n;
	r->tail[r->depth] = &n->next;
	r->last[r->depth] = n;
	r->nodes++;
}

/* One segment of a line between braces: words as keepalived's
 * alloc_strvec_r() cuts them ("..." is one word without its quotes). */
static void add_words(struct rd *r, const char *s, size_t len, const char *file, int line)
{
	char **argv = NULL;
	int argc = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (i >= len)
			break;
		size_t start = i, wl;
		if (s[i] == '"') {
			start = ++i;
			while (i < len && s[i] != '"')
				i++;
			wl = i - start;
			if (i < len)
				i++;
		} else {
			while (i < len && !isspace((unsigned char)s[i]) && s[i] != '"')
				i++;
			wl = i - start;
		}
		if (argc >= KA_MAX_WORDS) {
			fail(r, file, line, "too many words on one line", NULL);
			break;
		}
		argv = xrealloc(argv, (size_t)(argc + 2) * sizeof *argv);
		argv[argc] = xmalloc(wl + 1);
		memcpy(argv[argc], s + start, wl);
		argv[argc][wl] = '\0';
		argv[++argc] = NULL;
	}
	if (!argc)
		return;
	if (r->nodes >= KA_MAX_NODES) {
		fail(r, file, line, "configuration too large", NULL);
		for (int k = 0; k < argc; k++)
			free(argv[k]);
		free(argv);
		return;
	}
	add_node(r, argv, argc, file, line);
}

static void open_block(struct rd *r, const char *file, int line)
{
	struct ka_node *n = r->last[r->depth];
	if (!n || n->has_block) {
		fail(r, file, line, "'{' without a keyword before it", NULL);
		return;
	}
	if (r->depth >= KA_MAX_DEPTH) {
		fail(r, file, line, "blocks nested too deep", NULL);
		return;
	}
	n->has_block = 1;
	r->open[r->depth++] = n;
	r->tail[r->depth] = &n->child;
	r->last[r->depth] = NULL;
}

static void close_block(struct rd *r, const char *file, int line)
{
	if (!r->depth) {
		fail(r, file, line, "extra '}'", NULL);
		return;
	}
	r->depth--;
}

static void do_include(struct rd *r, const char *pat, const char *file, int line)
{
	if (r->o && r->o->no_include) {
		fail(r, file, line, "include is not followed here", NULL);
		return;
	}
	char *full;
	if (pat[0] == '/') {
		full = xstrdup(pat);
	} else {
		const char *slash = strrchr(file, '/');
		size_t dl = slash ? (size_t)(slash - file) + 1 : 0;
		full = xmalloc(dl + strlen(pat) + 1);
		memcpy(full, file, dl);
		strcpy(full + dl, pat);
	}
	glob_t g;
	int rc = glob(full, GLOB_BRACE, NULL, &g);
	if (rc == GLOB_NOMATCH) {
		fail(r, file, line, "include: no file matches ", full);
	} else if (rc) {
		fail(r, file, line, "include: cannot expand ", full);
	} else {
		for (size_t i = 0; i < g.gl_pathc && !r->failed; i++) {
			struct stat st;
			if (stat(g.gl_pathv[i], &st) == 0 && S_ISDIR(st.st_mode))
				continue;
			read_file(r, g.gl_pathv[i], file, line);
		}
	}
	if (!rc)
		globfree(&g);
	free(full);
}

static void do_line(struct rd *r, char *buf, const char *file, int line)
{
	decomment(buf);
	if (!buf[0])
		return;
	char *s = buf;
	if (s[0] == '@') {
		int rev = s[1] == '^';
		char *id = s + 1 + rev;
		char *sp = strpbrk(id, " \t");
		if (!sp)
			return;
		const char *cid = r->o ? r->o->config_id : NULL;
		int match = cid && (size_t)(sp - id) == strlen(cid) && !strncmp(id, cid, (size_t)(sp - id));
		if (match == rev)
			return;
		s = sp + strspn(sp, " \t");
	}
	int def = definition(r, s, file, line);
	if (def)
		return;
	if (!strncmp(s, "~SEQ", 4) || !strncmp(s, "~LST", 4)) {
		fail(r, file, line, "~SEQ and ~LST are not supported", NULL);
		return;
	}
	char *sub = NULL;
	if (r->doc->params && strchr(s, '$')) {
		sub = substitute(r->doc, s);
		if (!sub) {
			fail(r, file, line, "line too long after parameter substitution", NULL);
			return;
		}
		decomment(sub);
		s = sub;
	}
	if (!strncmp(s, "include", 7) &&
	    (isblank((unsigned char)s[7]) ||
	     (s[7] && strchr("rmwba", s[7]) && isblank((unsigned char)s[8])))) {
		const char *p = s + (isblank((unsigned char)s[7]) ? 8 : 9);
		p += strspn(p, " \t");
		do_include(r, p, file, line);
		free(sub);
		return;
	}
	/* Braces end a line: "a b {" is "a b" then "{", "{ c }" is "{", "c", "}". */
	size_t len = strlen(s), i = 0;
	while (i < len && !r->failed) {
		size_t j = i;
		int quote = 0;
		while (j < len && (quote || (s[j] != '{' && s[j] != '}'))) {
			if (s[j] == '"')
				quote = !quote;
			j++;
		}
		add_words(r, s + i, j - i, file, line);
		if (j < len) {
			if (s[j] == '{')
				open_block(r, file, line);
			else
				close_block(r, file, line);
			j++;
		}
		i = j;
	}
	free(sub);
}

static void read_text(struct rd *r, const char *text, size_t len, const char *file)
{
	int line = 0;
	size_t i = 0;
	char *buf = NULL;
	while (i < len && !r->failed) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		line++;
		size_t l = e - i;
		if (l >= KA_MAX_LINE) {
			fail(r, file, line, "line too long", NULL);
			break;
		}
		if (memchr(text + i, '\0', l)) {
			fail(r, file, line, "NUL byte in the line", NULL);
			break;
		}
		buf = xrealloc(buf, l + 1);
		memcpy(buf, text + i, l);
		buf[l] = '\0';
		while (l && (buf[l - 1] == '\r' || buf[l - 1] == '\n'))
			buf[--l] = '\0';
		do_line(r, buf, file, line);
		i = e + 1;
	}
	free(buf);
}

static int read_file(struct rd *r, const char *path, const char *from, int from_line)
{
	if (r->incl >= KA_MAX_INCLUDE) {
		fail(r, from ? from : path, from_line, "includes nested too deep (a loop?) at ", path);
		return -1;
	}
	FILE *f = fopen(path, "re");
	if (!f) {
		if (from)
			fail(r, from, from_line, "cannot read included file: ", path);
		else
			dd_seterr(r->err, "%s: %s", path, strerror(errno)), r->failed = 1;
		return -1;
	}
	char *text = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 65536 > cap) {
			cap = len + 65536;
			text = xrealloc(text, cap);
		}
		size_t n = fread(text + len, 1, cap - len, f);
		len += n;
		if (len > KA_MAX_FILE) {
			fclose(f);
			free(text);
			fail(r, path, 0, "file too large", NULL);
			return -1;
		}
		if (n == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(text);
		fail(r, path, 0, "read error", NULL);
		return -1;
	}
	const char *name = add_file(r->doc, path);
	r->incl++;
	read_text(r, text, len, name);
	r->incl--;
	free(text);
	return r->failed ? -1 : 0;
}

static void free_nodes(struct ka_node *n)
{
	while (n) {
		struct ka_node *next = n->next;
		free_nodes(n->child);
		for (int i = 0; i < n->argc; i++)
			free(n->argv[i]);
		free(n->argv);
		free(n);
		n = next;
	}
}

void ka_doc_free(struct ka_doc *d)
{
	if (!d)
		return;
	free_nodes(d->root);
	for (size_t i = 0; i < d->n_files; i++)
		free(d->files[i]);
	free(d->files);
	while (d->params) {
		struct ka_param *p = d->params;
		d->params = p->next;
		free(p->name);
		free(p->value);
		free(p);
	}
	free(d);
}

static struct ka_doc *finish(struct rd *r, const char *name)
{
	if (!r->failed && r->depth) {
		struct ka_node *n = r->open[r->depth - 1];
		dd_seterr(r->err, "%s:%d: '{' of '%s' never closed", n->file, n->line, n->argv[0]);
		r->failed = 1;
	}
	(void)name;
	if (r->failed) {
		ka_doc_free(r->doc);
		return NULL;
	}
	/* Parameters are a reading device; the tree no longer needs them. */
	while (r->doc->params) {
		struct ka_param *p = r->doc->params;
		r->doc->params = p->next;
		free(p->name);
		free(p->value);
		free(p);
	}
	return r->doc;
}

static void init(struct rd *r, const struct ka_opts *o, char **err)
{
	memset(r, 0, sizeof *r);
	r->doc = xcalloc(1, sizeof *r->doc);
	r->o = o;
	r->err = err;
	r->tail[0] = &r->doc->root;
}

struct ka_doc *ka_parse_file(const char *path, const struct ka_opts *o, char **err)
{
	struct rd r;
	init(&r, o, err);
	read_file(&r, path, NULL, 0);
	return finish(&r, path);
}

struct ka_doc *ka_parse_buf(const char *buf, size_t len, const char *name,
			    const struct ka_opts *o, char **err)
{
	struct rd r;
	init(&r, o, err);
	if (len > KA_MAX_FILE) {
		dd_seterr(err, "%s: too large", name);
		ka_doc_free(r.doc);
		return NULL;
	}
	const char *n = add_file(r.doc, name);
	read_text(&r, buf, len, n);
	return finish(&r, name);
}
