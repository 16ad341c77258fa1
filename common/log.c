/*
 * Logging to syslog (facility mail, ident "mxgate/<proc>", with the pid) or,
 * with -d, to stderr as "mxgate/<proc>[pid]: message".
 *
 * Several processes share stderr, so each line is formatted whole and
 * written with a single write(2) of at most LOG_LINE_MAX bytes (PIPE_BUF:
 * atomic on a pipe); longer messages are truncated.  Control characters in
 * a message (a client's CR LF, say) are replaced with '?', so one event is
 * always one line and cannot forge another.  Until log_init() is called,
 * lines go to stderr.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	PIPE_BUF

static int	log_stderr = 1;
static int	log_verbose;
static int	log_opened;
static char	log_ident[64] = "mxgate";	/* openlog() keeps the pointer */

void
log_setproc(const char *procname)
{
	if (procname == NULL || *procname == '\0')
		snprintf(log_ident, sizeof(log_ident), "mxgate");
	else
		snprintf(log_ident, sizeof(log_ident), "mxgate/%s", procname);
	/* glibc reuses its open socket: safe after the sandbox is entered */
	if (log_opened)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_init(int to_stderr, const char *procname)
{
	log_stderr = to_stderr;
	log_setproc(procname);
	if (!log_stderr && !log_opened) {
		tzset();
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
		log_opened = 1;
	}
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_to_stderr(void)
{
	return log_stderr;
}

static void
log_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void
log_emit(int pri, const char *suffix, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX];
	size_t len;
	int n, saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_sanitize(msg);
	if (!log_stderr) {
		if (suffix != NULL)
			syslog(pri, "%s: %s", msg, suffix);
		else
			syslog(pri, "%s", msg);
		errno = saved;
		return;
	}
	/* leave room for the newline, whatever the truncation */
	n = snprintf(line, sizeof(line) - 1, "%s[%ld]: %s%s%s", log_ident,
	    (long)getpid(), msg, suffix ? ": " : "", suffix ? suffix : "");
	if (n < 0) {
		errno = saved;
		return;
	}
	len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
	line[len++] = '\n';
	while (write(STDERR_FILENO, line, len) == -1 && errno == EINTR)
		;
	errno = saved;
}

static void __attribute__((format(printf, 2, 3)))
log_emitf(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(pri, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	char err[128];

	snprintf(err, sizeof(err), "%s", strerror(errno));
	va_start(ap, fmt);
	log_emit(LOG_WARNING, err, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

static void __attribute__((noreturn))
log_fatal(const char *err, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err != NULL)
		log_emitf(LOG_CRIT, "fatal: %s: %s", msg, err);
	else
		log_emitf(LOG_CRIT, "fatal: %s", msg);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	char err[128];

	snprintf(err, sizeof(err), "%s", strerror(errno));
	va_start(ap, fmt);
	log_fatal(err, fmt, ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_fatal(NULL, fmt, ap);
}
