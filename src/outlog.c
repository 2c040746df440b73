/*
 * A service's stdout and stderr: one pipe per running instance, read by
 * the master and logged a line at a time as "NAME[PID]: line".  The read
 * end belongs to the master (close-on-exec); the write end goes to the
 * child as fds 1 and 2 and is closed in the master right after fork.
 * The pipe outlives the process until EOF, so nothing it wrote is lost;
 * at exit outlog_drain_all() reads what is left before soad goes.
 *
 * Every line is a syslog call, which can block when the log daemon lags,
 * so a chatty service must not be able to stall the master: each
 * instance may log OUTLOG_RATE lines a second (bursts of OUTLOG_BURST),
 * and all services together OUTLOG_ALL_RATE.  Lines over the limit are
 * read and dropped, then counted in one "N lines dropped" line.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "soad.h"

#define OUTLOG_MAXLINE	4096
#define OUTLOG_RATE	50.0	/* lines per second per instance */
#define OUTLOG_BURST	200.0
#define OUTLOG_ALL_RATE	500.0	/* lines per second, all services */
#define OUTLOG_ALL_BURST 1000.0

struct bucket {
	double			 bk_tokens;
	struct timespec		 bk_last;
};

struct outlog {
	TAILQ_ENTRY(outlog)	 ol_entry;
	char			*ol_name;
	pid_t			 ol_pid;
	struct bufferevent	*ol_bev;
	struct bucket		 ol_bucket;
	unsigned long		 ol_dropped;
};

static TAILQ_HEAD(, outlog) outlogs = TAILQ_HEAD_INITIALIZER(outlogs);
static struct bucket	 all_bucket = { OUTLOG_ALL_BURST, { 0, 0 } };

static void
bucket_fill(struct bucket *bk, double rate, double burst)
{
	struct timespec	now;
	double		dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (bk->bk_last.tv_sec != 0 || bk->bk_last.tv_nsec != 0) {
		dt = (double)(now.tv_sec - bk->bk_last.tv_sec) +
		    (double)(now.tv_nsec - bk->bk_last.tv_nsec) / 1e9;
		bk->bk_tokens += dt * rate;
		if (bk->bk_tokens > burst)
			bk->bk_tokens = burst;
	}
	bk->bk_last = now;
}

static void
outlog_dropped(struct outlog *ol)
{
	if (ol->ol_dropped == 0)
		return;
	log_warnx("%s[%ld]: %lu line%s dropped (more than %.0f a second)",
	    ol->ol_name, (long)ol->ol_pid, ol->ol_dropped,
	    ol->ol_dropped == 1 ? "" : "s", OUTLOG_RATE);
	ol->ol_dropped = 0;
}

/* Log one line of the service's output, or count it as dropped. */
static void
outlog_line(struct outlog *ol, const char *line)
{
	bucket_fill(&ol->ol_bucket, OUTLOG_RATE, OUTLOG_BURST);
	bucket_fill(&all_bucket, OUTLOG_ALL_RATE, OUTLOG_ALL_BURST);
	if (ol->ol_bucket.bk_tokens < 1 || all_bucket.bk_tokens < 1) {
		ol->ol_dropped++;
		return;
	}
	ol->ol_bucket.bk_tokens -= 1;
	all_bucket.bk_tokens -= 1;
	outlog_dropped(ol);
	log_info("%s[%ld]: %s", ol->ol_name, (long)ol->ol_pid, line);
}

static void
outlog_flush(struct outlog *ol, int all)
{
	struct evbuffer	*in = bufferevent_get_input(ol->ol_bev);
	char		*line;
	size_t		 len;
	char		 buf[OUTLOG_MAXLINE + 1];

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		outlog_line(ol, line);
		free(line);
	}
	/* An over-long line, or the unterminated tail at EOF. */
	while (evbuffer_get_length(in) >= OUTLOG_MAXLINE ||
	    (all && evbuffer_get_length(in) > 0)) {
		len = (size_t)evbuffer_remove(in, buf, OUTLOG_MAXLINE);
		buf[len] = '\0';
		outlog_line(ol, buf);
	}
}

static void
outlog_free(struct outlog *ol)
{
	outlog_flush(ol, 1);
	outlog_dropped(ol);
	TAILQ_REMOVE(&outlogs, ol, ol_entry);
	bufferevent_free(ol->ol_bev);
	free(ol->ol_name);
	free(ol);
}

static void
outlog_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	outlog_flush(arg, 0);
}

static void
outlog_event(struct bufferevent *bev, short what, void *arg)
{
	struct outlog	*ol = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		outlog_free(ol);
}

/* Returns the logger; *wfd gets the write end for the child. */
struct outlog *
outlog_open(struct event_base *base, const char *name, int *wfd)
{
	struct outlog	*ol;
	int		 p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		return NULL;
	if ((ol = calloc(1, sizeof(*ol))) == NULL ||
	    (ol->ol_name = strdup(name)) == NULL ||
	    evutil_make_socket_nonblocking(p[0]) == -1 ||
	    (ol->ol_bev = bufferevent_socket_new(base, p[0],
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		if (ol != NULL)
			free(ol->ol_name);
		free(ol);
		close(p[0]);
		close(p[1]);
		errno = ENOMEM;
		return NULL;
	}
	ol->ol_bucket.bk_tokens = OUTLOG_BURST;
	TAILQ_INSERT_TAIL(&outlogs, ol, ol_entry);
	bufferevent_setcb(ol->ol_bev, outlog_read, NULL, outlog_event, ol);
	bufferevent_enable(ol->ol_bev, EV_READ);
	*wfd = p[1];
	return ol;
}

void
outlog_setpid(struct outlog *ol, pid_t pid)
{
	ol->ol_pid = pid;
}

/*
 * At exit: log what the services wrote that the loop has not read yet.
 * Their processes are gone, so each read ends at EOF without blocking
 * (or at EAGAIN if a stray writer still holds the pipe).
 */
void
outlog_drain_all(void)
{
	struct outlog	*ol;
	struct evbuffer	*in;

	while ((ol = TAILQ_FIRST(&outlogs)) != NULL) {
		in = bufferevent_get_input(ol->ol_bev);
		while (evbuffer_read(in, bufferevent_getfd(ol->ol_bev),
		    OUTLOG_MAXLINE) > 0)
			outlog_flush(ol, 0);
		outlog_free(ol);
	}
}
