/* SPDX-License-Identifier: GPL-2.0-or-later */
/* import/main.c: directord-import, the command line around import.h. One
 * thread, no loop: read the file and its includes, write the conversion to
 * stdout and what was not converted to stderr.
 * Exit: 0 complete, 1 something not converted, 2 cannot read or parse. */
#include "config.h"
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "import/import.h"
#include "import/kaparse.h"

static void usage(FILE *f)
{
	fputs("usage: directord-import [--from keepalived|ldirectord] [-i CONFIG_ID] [--key-file PATH]\n"
	      "                        [--peer-name NAME] [--node NAME] FILE\n"
	      "Reads a keepalived.conf (and its includes) or an ldirectord.cf and prints the equivalent\n"
	      "directord.conf on stdout; what has no equivalent goes to stderr as\n"
	      "FILE:LINE: not converted: WHAT. Exit 0 complete, 1 incomplete, 2 error.\n", f);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "from", required_argument, NULL, 'F' },
		{ "config-id", required_argument, NULL, 'i' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "peer-name", required_argument, NULL, 'P' },
		{ "node", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ka_opts ko = { 0 };
	bool ldirectord = false;
	struct dd_import_opts io = { 0 };
	int ch;
	while ((ch = getopt_long(argc, argv, "i:h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'F':
			if (!strcmp(optarg, "ldirectord")) {
				ldirectord = true;
			} else if (strcmp(optarg, "keepalived")) {
				fprintf(stderr, "directord-import: --from %s: keepalived or ldirectord\n", optarg);
				return 2;
			}
			break;
		case 'i':
			ko.config_id = optarg;
			break;
		case 'k':
			io.key_file = optarg;
			break;
		case 'P':
			io.peer_name = optarg;
			break;
		case 'n':
			io.node = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	/* keepalived's default config id: the host name up to its first dot. */
	struct utsname u;
	if (!ko.config_id && uname(&u) == 0) {
		char *dot = strchr(u.nodename, '.');
		if (dot)
			*dot = '\0';
		ko.config_id = u.nodename;
	}
	char *err = NULL;
	struct ka_doc *doc = ldirectord ? ld_parse_file(argv[optind], &err)
				       : ka_parse_file(argv[optind], &ko, &err);
	if (!doc) {
		fprintf(stderr, "%s\n", err ? err : "directord-import: cannot read the file");
		free(err);
		return 2;
	}
	int rc = dd_import_keepalived(doc, &io, stdout, stderr);
	ka_doc_free(doc);
	if (fflush(stdout) || ferror(stdout)) {
		perror("directord-import: stdout");
		return 2;
	}
	return rc;
}
