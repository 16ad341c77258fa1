/*
 * mxgate's parent process: `smtpd [-dnv] [-f file] [-B builddir]`.
 * Parses the config, prepares what needs root (listeners, spool, chroot
 * dir), starts the workers and supervises them; reload and stop come by
 * signal or from smtpctl over the control socket.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>
#include <event2/event.h>

#include "log.h"
#include "parent.h"

struct parent_state parent;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: smtpd [-dnv] [-f file] [-B builddir]\n");
	exit(1);
}

static struct mxgate_conf *
load_conf(const char *path)
{
	struct mxgate_conf *conf;

	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		fatal("config");
	conf_init(conf);
	if (conf_parse_file(conf, path) == -1 ||
	    parent_pki_load(conf) == -1) {
		conf_free(conf);
		free(conf);
		return NULL;
	}
	return conf;
}

static void
set_conf(struct mxgate_conf *conf)
{
	char *text;

	if ((text = conf_to_string(conf, &parent.conf_textlen)) == NULL)
		fatal("config text");
	if (parent.conf != NULL) {
		conf_free(parent.conf);
		free(parent.conf);
	}
	free(parent.conf_text);
	parent.conf = conf;
	parent.conf_text = text;
	parent_pki_commit();
}

/*
 * Re-read the config file and hand it to every worker; `client` (a
 * control client id, or 0 for SIGHUP) hears the outcome once all have
 * answered.  Listeners and the spool keep what they were bound to.
 */
int
parent_reload(uint32_t client, char *err, size_t errlen)
{
	struct mxgate_conf	*conf;
	struct worker_proc	*wp;

	if (parent.reload_client != 0) {
		strlcpy(err, "a reload is already running", errlen);
		return -1;
	}
	if ((conf = load_conf(parent.conf_path)) == NULL) {
		snprintf(err, errlen, "%s: errors in the configuration, "
		    "see the log; keeping the old one", parent.conf_path);
		log_warnx("reload: %s", err);
		return -1;
	}
	if (strcmp(conf->spool, parent.conf->spool) != 0)
		log_warnx("reload: a new spool takes a restart");
	set_conf(conf);
	parent.reload_client = client ? client : UINT32_MAX;
	parent.reload_failed = 0;
	if (conf->smtp_processes != parent.nsmtpd)
		log_warnx("reload: smtp processes %u takes a restart; %u run",
		    conf->smtp_processes, parent.nsmtpd);
	for (wp = parent_worker_next(NULL); wp; wp = parent_worker_next(wp))
		if (parent_worker_running(wp))
			parent_send_conf(wp);
	log_info("reloading %s", parent.conf_path);
	return 0;
}

void
parent_reload_answer(struct worker_proc *wp, uint32_t status)
{
	struct worker_proc	*o;
	uint32_t		 client = parent.reload_client;

	if (status != 0)
		parent.reload_failed = 1;
	for (o = parent_worker_next(NULL); o; o = parent_worker_next(o))
		if (parent_worker_running(o) && !o->ready)
			return;
	parent.reload_client = 0;
	if (parent.reload_failed)
		log_warnx("reload: a worker rejected the new configuration");
	else
		log_info("reload: done");
	if (client != UINT32_MAX)
		control_end(client, parent.reload_failed,
		    parent.reload_failed ? "reload: a worker rejected the "
		    "new configuration, see the log" : "reload: ok");
}

void
parent_shutdown(void)
{
	parent.stopping = 1;
	log_info("stopping");
	parent_stop_workers();
	control_cleanup();
	log_info("stopped");
	exit(0);
}

static void
on_signal(int sig, short ev, void *arg)
{
	char err[256];

	switch (sig) {
	case SIGCHLD:
		parent_reap();
		break;
	case SIGHUP:
		parent_reload(0, err, sizeof(err));
		break;
	default:
		parent_shutdown();
	}
}

static void
watch_signals(void)
{
	static const int	 sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
	struct event		*ev;
	size_t			 i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev = evsignal_new(parent.base, sigs[i], on_signal, NULL);
		if (ev == NULL || evsignal_add(ev, NULL) == -1)
			fatalx("signal setup");
	}
}

static void
absolute(const char *in, char *out, size_t len)
{
	char buf[PATH_MAX];

	if (realpath(in, buf) == NULL) {
		fprintf(stderr, "smtpd: %s: %s\n", in, strerror(errno));
		exit(1);
	}
	if (strlcpy(out, buf, len) >= len)
		fatalx("path too long: %s", in);
}

int
main(int argc, char **argv)
{
	struct mxgate_conf	*conf;
	const char		*path = SYSCONFDIR "/mxgate.conf";
	int			 ch, check = 0;

	while ((ch = getopt(argc, argv, "B:df:nv")) != -1) {
		switch (ch) {
		case 'B':
			absolute(optarg, parent.builddir,
			    sizeof(parent.builddir));
			break;
		case 'd':
			parent.debug = 1;
			break;
		case 'f':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			parent.verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init(1, "parent");
	log_setverbose(parent.verbose);
	absolute(path, parent.conf_path, sizeof(parent.conf_path));
	if ((conf = load_conf(parent.conf_path)) == NULL)
		exit(1);
	if (parent_check_ldap(conf) == -1)
		exit(1);
	if (check) {
		conf_print(stdout, conf);
		conf_free(conf);
		free(conf);
		exit(fflush(stdout) == 0 ? 0 : 1);
	}
	set_conf(conf);
	if (geteuid() != 0)
		log_info("not running as root: workers keep this user "
		    "and skip chroot");
	parent_prepare_dirs(conf);
	parent_bind_listeners(conf);
	if (!parent.debug) {
		log_init(0, "parent");
		if (daemon(0, 0) == -1)
			fatal("daemon");
	}
	parent.started = time(NULL);
	if ((parent.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	watch_signals();
	control_init(conf);
	parent_start_workers();
	event_base_dispatch(parent.base);
	parent_shutdown();
}
