/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/main.c: the command line, then the daemon core. The only code
 * that owns the default libev loop. */
#include "config.h"
#include "directord/daemon.h"
#include "directord/genkey.h"
#include "lib/log.h"

#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONF SYSCONFDIR "/directord/directord.conf"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: directord [-n] [-l stderr|syslog] [-d] [-P PIDFILE] [-f FILE]\n"
		"       directord -t [-p] [-f FILE]\n"
		"       directord --genkey FILE [--force]\n"
		"  -f FILE        configuration file (default " DEFAULT_CONF ")\n"
		"  -t             test the configuration and exit (0: OK, 1: errors)\n"
		"  -p             with -t: print the canonical configuration (the pid\n"
		"                 file is -P; keepalived's -p is not this)\n"
		"  -n             stay in the foreground (logs to stderr unless -l syslog)\n"
		"  -l SINK        log to stderr or syslog\n"
		"  -d             debug logging (overrides logging.level)\n"
		"  -P FILE        pid file (overrides pid_file)\n"
		"  --genkey FILE  write a new random heartbeat key, mode 0600\n"
		"  --force        with --genkey: replace an existing FILE\n"
		"  -V, --version  print the version\n"
		"  -h, --help     print this help\n");
}

/* The key is useless until the peer has the same bytes: say how. */
static int genkey(const char *path, bool force)
{
	char *err = NULL;
	if (dd_genkey(path, force, &err) < 0) {
		fprintf(stderr, "directord: --genkey: %s\n", err);
		free(err);
		return 1;
	}
	printf("wrote a new heartbeat key to %s (mode 0600)\n"
	       "Use the same key on the peer, keeping its mode, e.g.:\n"
	       "  scp -p %s PEER:%s\n"
	       "and point heartbeat.key_file at it on both directors.\n", path, path, path);
	return 0;
}

int main(int argc, char **argv)
{
	struct dd_daemon_opts o = { .conf_path = DEFAULT_CONF, .log_level = -1 };
	bool test = false, print = false, sink_set = false, force = false;
	const char *genkey_path = NULL;
	enum { OPT_GENKEY = 256, OPT_FORCE };
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "genkey", required_argument, NULL, OPT_GENKEY },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "f:tpnl:dP:Vh", lopts, NULL)) != -1) {
		switch (c) {
		case OPT_GENKEY: genkey_path = optarg; break;
		case OPT_FORCE: force = true; break;
		case 'f': o.conf_path = optarg; break;
		case 't': test = true; break;
		case 'p': print = true; break;
		case 'n': o.foreground = true; break;
		case 'l':
			if (strcmp(optarg, "stderr") == 0)
				o.log_stderr = true;
			else if (strcmp(optarg, "syslog") == 0)
				o.log_stderr = false;
			else {
				fprintf(stderr, "directord: -l takes stderr or syslog, not '%s'\n", optarg);
				return 2;
			}
			sink_set = true;
			break;
		case 'd': o.log_level = LOG_DEBUG; break;
		case 'P': o.pid_file = optarg; break;
		case 'V': puts(PACKAGE_STRING); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (force && !genkey_path) {
		fprintf(stderr, "directord: --force goes with --genkey\n");
		return 2;
	}
	if (genkey_path && test) {
		fprintf(stderr, "directord: --genkey and -t do not mix\n");
		return 2;
	}
	if (genkey_path)
		return genkey(genkey_path, force);
	if (print && !test) {
		fprintf(stderr, "directord: -p goes with -t\n");
		return 2;
	}
	if (test)
		return dd_config_test(o.conf_path, print);
	if (!sink_set)
		o.log_stderr = o.foreground;
	/* The daemon detaches to "/" and re-reads this path on every reload. */
	char *abs_conf = realpath(o.conf_path, NULL);
	if (abs_conf)
		o.conf_path = abs_conf;

	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	if (!loop) {
		fprintf(stderr, "directord: cannot initialise libev\n");
		return 1;
	}
	int rc = dd_daemon_run(loop, &o);
	free(abs_conf);
	return rc;
}
