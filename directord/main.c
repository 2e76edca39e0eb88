/* directord/main.c: the command line, then the daemon core. The only code
 * that owns the default libev loop. */
#include "config.h"
#include "directord/daemon.h"
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
		"  -f FILE   configuration file (default " DEFAULT_CONF ")\n"
		"  -t        test the configuration and exit (0: OK, 1: errors)\n"
		"  -p        with -t: print the canonical configuration\n"
		"  -n        stay in the foreground (logs to stderr unless -l syslog)\n"
		"  -l SINK   log to stderr or syslog\n"
		"  -d        debug logging (overrides logging.level)\n"
		"  -P FILE   pid file (overrides pid_file)\n"
		"  -V        print the version\n");
}

int main(int argc, char **argv)
{
	struct dd_daemon_opts o = { .conf_path = DEFAULT_CONF, .log_level = -1 };
	bool test = false, print = false, sink_set = false;
	int c;

	while ((c = getopt(argc, argv, "f:tpnl:dP:Vh")) != -1) {
		switch (c) {
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
