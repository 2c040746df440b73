/*
 * Logging: stderr in the foreground (-d), syslog (LOG_DAEMON, LOG_PID)
 * otherwise.  Every function preserves errno; log_warn and fatal append
 * strerror(errno).  No fixed-size message buffers: vasprintf sizes them.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "soad.h"

static int	log_tostderr = 1;
static int	log_verbose;
static int	log_quiet;	/* drop warnings, e.g. on bind retries */

void
log_init(int tostderr, int facility)
{
	log_tostderr = tostderr;
	if (!tostderr)
		openlog("soad", LOG_PID | LOG_NDELAY, facility);
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

void
log_setquiet(int q)
{
	log_quiet = q;
}

static void
vlog(int pri, const char *fmt, va_list ap, int witherr)
{
	int	 saved = errno;
	char	*msg = NULL;

	if (log_quiet && pri == LOG_WARNING)
		return;
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	if (log_tostderr) {
		if (witherr)
			fprintf(stderr, "soad: %s: %s\n", msg ? msg : fmt,
			    strerror(saved));
		else
			fprintf(stderr, "soad: %s\n", msg ? msg : fmt);
		fflush(stderr);
	} else if (witherr)
		syslog(pri, "%s: %s", msg ? msg : fmt, strerror(saved));
	else
		syslog(pri, "%s", msg ? msg : fmt);
	free(msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, 1);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(EXIT_OSERR);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(EXIT_OSERR);
}
