/* SPDX-License-Identifier: GPL-2.0-or-later */
/* import/kaparse.h: keepalived.conf read into a tree of keyword lines, the
 * way keepalived's own lib/parser.c cuts it (comments with `!` and `#`,
 * quotes, braces that end a line, `include` with globs relative to the
 * including file, `@id` conditional lines, `$NAME=value` parameters).
 * Only directord-import (one thread, no loop) uses it; it reads untrusted
 * files, so every limit is checked and nothing is executed. */
#ifndef DD_IMPORT_KAPARSE_H
#define DD_IMPORT_KAPARSE_H

#include <stddef.h>

/* One logical line: its words, where it came from, and the block that
 * followed it (`{ ... }`), if any. */
struct ka_node {
	char **argv;            /* argv[0] is the keyword */
	int argc;
	const char *file;       /* owned by the ka_doc */
	int line;
	int has_block;
	struct ka_node *child;  /* first line of the block */
	struct ka_node *next;   /* next line at the same level */
};

struct ka_doc {
	struct ka_node *root;   /* first top-level line */
	char **files;           /* every file name read (the nodes point here) */
	size_t n_files;
	struct ka_param *params; /* $NAME=value definitions while reading */
};

struct ka_opts {
	const char *config_id;  /* keepalived -i: `@id` lines; NULL = none */
	int no_include;         /* refuse `include` (the fuzz target) */
};

/* Reads FILE and its includes. Returns the tree, or NULL with *err set to
 * "file:line: message" (a file that cannot be read, an unbalanced brace,
 * a construct this reader does not support). */
struct ka_doc *ka_parse_file(const char *path, const struct ka_opts *o, char **err);
/* The same on a buffer, named `name` in messages. */
struct ka_doc *ka_parse_buf(const char *buf, size_t len, const char *name,
			    const struct ka_opts *o, char **err);
void ka_doc_free(struct ka_doc *d);

/* ldirectord.cf (import/ldparse.c), read into the same tree as the
 * keepalived keywords that mean the same, with its own file:line. */
struct ka_doc *ld_parse_file(const char *path, char **err);
struct ka_doc *ld_parse_buf(const char *buf, size_t len, const char *name, char **err);

#endif
