/*
 * Logging: syslog (facility mail, ident "mxgate/<proc>") or, with -d,
 * stderr as "mxgate/<proc>[pid]: message".  One line per event; callers
 * put the queue id or session id first, Postfix style.
 */
#ifndef MXGATE_LOG_H
#define MXGATE_LOG_H

#include <stdarg.h>

void	log_init(int to_stderr, const char *procname);
void	log_setproc(const char *procname);
void	log_setverbose(int);		/* nonzero: log_debug() prints */
int	log_to_stderr(void);
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
