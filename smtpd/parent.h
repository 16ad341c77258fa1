/*
 * The privileged parent: reads the config, binds the listeners, starts
 * and supervises the four workers, links them to one another, and serves
 * the control socket.  It never parses anything that came from the
 * network; what it reads from workers and smtpctl is framed imsg only.
 */
#ifndef MXGATE_PARENT_H
#define MXGATE_PARENT_H

#include <sys/types.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "imsgev.h"
#include "proto.h"

struct worker_proc {
	enum proc_id	 id;
	pid_t		 pid;		/* 0 while down */
	time_t		 started;
	unsigned	 restarts;
	unsigned	 quick_deaths;	/* in a row, for the restart backoff */
	struct imsgev	 iev;
	int		 status_fd;	/* seccomp reports, -1 when closed */
	struct event	*restart_ev;
	int		 ready;		/* answered READY to the current config */
	uint32_t	 instance;	/* smtpd: 0 .. smtp processes - 1 */
};

struct parent_state {
	struct event_base	*base;
	struct mxgate_conf	*conf;
	char			*conf_text;	/* conf_to_string(conf) */
	size_t			 conf_textlen;
	char			 conf_path[4096];
	char			 builddir[4096];	/* "" = LIBEXECDIR */
	int			 debug, verbose;
	int			*listen_fds;
	size_t			 nlisten;
	struct worker_proc	 workers[PROC_COUNT];	/* PROC_SMTPD..MTAD */
	time_t			 started;
	int			 announced;	/* "mxgate ready" logged */
	int			 stopping;
	uint32_t		 reload_client;	/* 0: no reload running */
	int			 reload_failed;
	/* smtp processes: instance 0 is workers[PROC_SMTPD], then these */
	struct worker_proc	 smtpd_more[CONF_SMTP_PROCS_MAX];
	uint32_t		 nsmtpd;	/* fixed at start */
};

extern struct parent_state parent;

/* parent_proc.c */
void	parent_start_workers(void);
void	parent_reap(void);
void	parent_stop_workers(void);
void	parent_send_conf(struct worker_proc *);
int	parent_worker_running(const struct worker_proc *);
int	parent_linked(enum proc_id, enum proc_id);

/* parent_fault.c */
void	parent_peer_fault(struct worker_proc *, struct imsg *);
void	parent_test_hook(uint32_t client, struct imsg *);

/* parent_workers.c */
void	parent_init_workers(void);
/* Every worker process in turn (NULL: the first); NULL after the last. */
struct worker_proc *parent_worker_next(struct worker_proc *);
/* "smtpd", or "smtpd.2" for an instance when there are several. */
const char *parent_worker_name(const struct worker_proc *, char *, size_t);

/* parent_listen.c */
void	parent_bind_listeners(const struct mxgate_conf *);
void	parent_prepare_dirs(const struct mxgate_conf *);

/* parent_pki.c: load (errors as "file:line: ..."), then commit with the
 * config it belongs to; send puts IMSG_CONF_PKI to smtpd */
int	parent_pki_load(const struct mxgate_conf *);
void	parent_pki_commit(void);
void	parent_pki_send(struct worker_proc *);
/* parent_ldap.c: 0, or -1 with every broken ldap config reported */
int	parent_check_ldap(const struct mxgate_conf *);

/* smtpd.c */
int	parent_reload(uint32_t client, char *err, size_t errlen);
void	parent_reload_answer(struct worker_proc *, uint32_t status);
void	parent_shutdown(void) __attribute__((noreturn));

/* control.c */
void	control_init(const struct mxgate_conf *);
void	control_cleanup(void);
void	control_data(uint32_t client, const char *line);
void	control_end(uint32_t client, uint32_t status, const char *msg);
/* queued's answer to a forwarded request: relayed to the client as is */
void	control_relay(uint32_t client, struct imsg *);
/* queued was sent a config (start, restart, reload): tell it what smtpctl
 * paused. */
void	control_queued_configured(struct worker_proc *);

/* parent_ctl_lookupd.c: 1 if the request is lookupd's (and was sent on) */
int	parent_ctl_lookupd(uint32_t client, struct imsg *);

#endif
