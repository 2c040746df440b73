/*
 * Byte relay between two connected stream sockets (TCP or UNIX, either
 * side) on the master's event loop, until both directions are finished.
 * A relay owns both sockets from relay_new() on and closes them itself.
 *
 * Each direction moves bytes from one socket to the other: on Linux with
 * splice(2) through a pipe, so they never enter user space; elsewhere, or
 * when splice refuses the source, with recv/send.  A direction holds a
 * pipe (or a RELAY_BUFSZ heap buffer) only while bytes are in flight, so
 * an idle relay costs its 2 sockets and a busy one up to 6 fds (2 sockets,
 * 2 pipes).  Empty pipes go to a small shared cache (RELAY_PIPES pipes,
 * so up to 32 more fds, closed by relay_shutdown()) so a busy proxy does
 * not make pipes per request.
 *
 * Bounded: a direction reads only once everything it read before has been
 * written, so it never holds more than one read's worth (at most
 * RELAY_SPLICE or RELAY_BUFSZ bytes).  While the destination is full the
 * source is not watched at all, and the kernel's socket buffers push back
 * on the sender.  Events are level-triggered and persistent: they change
 * only when a direction switches between waiting to read and waiting to
 * write, so a request/response exchange costs no epoll_ctl.
 *
 * EOF on one side: once its bytes are written, the other socket is shut
 * down for writing; the other direction goes on.  An error on one side
 * (ECONNRESET, EPIPE, ETIMEDOUT from keepalive...): the other socket is
 * closed with SO_LINGER {1, 0}, so a TCP peer sees a reset too (a UNIX
 * peer sees EOF), and the relay ends.
 *
 * splice(2) cannot say MSG_NOSIGNAL: SIGPIPE must be ignored (soad.c
 * ignores it).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "soad.h"

#if defined(__linux__) && defined(SPLICE_F_MOVE)
#define RELAY_HAVE_SPLICE 1
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0		/* SIGPIPE is ignored anyway */
#endif

#define RELAY_BUFSZ	65536		/* recv/send path, per read */
#define RELAY_SPLICE	65536		/* bytes per splice into a pipe */
#define RELAY_PIPES	16		/* spare empty pipes kept */
#define RELAY_BURST	16		/* reads per wakeup, then yield */
#define RELAY_SHORT	16384		/* a read this short drained it */

enum relay_io { IO_DONE, IO_AGAIN, IO_EOF, IO_ERR_FROM, IO_ERR_TO, IO_COPY };

struct relay_dir {
	struct relay		*rd_relay;
	int			 rd_from;
	int			 rd_to;
	struct event		*rd_rev;	/* rd_from readable */
	struct event		*rd_wev;	/* rd_to writable */
	int			 rd_pipe[2];	/* -1 while none */
	size_t			 rd_inpipe;	/* bytes in rd_pipe */
	char			*rd_buf;	/* RELAY_BUFSZ, or NULL */
	const char		*rd_pend;	/* unsent bytes before the pipe's */
	size_t			 rd_npend;
	size_t			 rd_last;	/* bytes the last read got */
	unsigned char		 rd_rarmed;
	unsigned char		 rd_warmed;
	unsigned char		 rd_eof;	/* read EOF, not yet passed on */
	unsigned char		 rd_done;	/* EOF passed on: shut down */
	unsigned char		 rd_nosplice;
};

/* Allocated with its 4 events and the prefix behind it. */
struct relay {
	struct relay_dir	 r_dir[2];	/* client to server, back */
	relay_done_fn		 r_done;
	void			*r_arg;
};

static int	 relay_splice;		/* splice works here */
static int	 relay_pipes[RELAY_PIPES][2];
static size_t	 relay_npipes;
static char	 relay_iobuf[RELAY_BUFSZ];	/* one thread: shared */

static void	 relay_end(struct relay *, int);

static int
io_again(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

#ifdef RELAY_HAVE_SPLICE
static int
pipe_get(int p[2])
{
	if (relay_npipes > 0) {
		relay_npipes--;
		p[0] = relay_pipes[relay_npipes][0];
		p[1] = relay_pipes[relay_npipes][1];
		return 0;
	}
	return pipe2(p, O_NONBLOCK | O_CLOEXEC);
}
#endif

/* An empty pipe is kept for the next relay, one with bytes in it closed. */
static void
pipe_put(int p[2], int empty)
{
	if (p[0] == -1)
		return;
	if (empty && relay_npipes < RELAY_PIPES) {
		relay_pipes[relay_npipes][0] = p[0];
		relay_pipes[relay_npipes][1] = p[1];
		relay_npipes++;
	} else {
		close(p[0]);
		close(p[1]);
	}
	p[0] = p[1] = -1;
}

/* Called with nothing in flight: give back the pipe and the buffer. */
static void
dir_release(struct relay_dir *d)
{
	pipe_put(d->rd_pipe, 1);
	free(d->rd_buf);
	d->rd_buf = NULL;
}

/* Watch the source (EV_READ), the destination (EV_WRITE), or neither.
 * Ends the relay if an event cannot be added. */
static int
dir_wait(struct relay_dir *d, short what)
{
	int	rd = (what & EV_READ) != 0, wr = (what & EV_WRITE) != 0;

	if (rd != d->rd_rarmed) {
		if (rd && event_add(d->rd_rev, NULL) == -1)
			goto fail;
		if (!rd)
			(void)event_del(d->rd_rev);
		d->rd_rarmed = rd;
	}
	if (wr != d->rd_warmed) {
		if (wr && event_add(d->rd_wev, NULL) == -1)
			goto fail;
		if (!wr)
			(void)event_del(d->rd_wev);
		d->rd_warmed = wr;
	}
	return 0;
fail:
	log_warnx("relay: cannot watch a connection");
	relay_end(d->rd_relay, -1);
	return -1;
}

/* Write what is pending: the prefix or a partial send, then the pipe. */
static enum relay_io
dir_flush(struct relay_dir *d)
{
	ssize_t	n;

	if (d->rd_npend > 0) {
		n = send(d->rd_to, d->rd_pend, d->rd_npend, MSG_NOSIGNAL);
		if (n == -1)
			return io_again() ? IO_AGAIN : IO_ERR_TO;
		d->rd_pend += n;
		d->rd_npend -= (size_t)n;
		if (d->rd_npend > 0)
			return IO_AGAIN;
	}
#ifdef RELAY_HAVE_SPLICE
	if (d->rd_inpipe > 0) {
		n = splice(d->rd_pipe[0], NULL, d->rd_to, NULL, d->rd_inpipe,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1)
			return io_again() ? IO_AGAIN : IO_ERR_TO;
		d->rd_inpipe -= (size_t)n;
		if (d->rd_inpipe > 0)
			return IO_AGAIN;
	}
#endif
	return IO_DONE;
}

#ifdef RELAY_HAVE_SPLICE
/* Into the pipe.  IO_COPY: recv this time (no pipe to be had) or for good
 * (splice refuses this kind of socket). */
static enum relay_io
dir_fill_splice(struct relay_dir *d)
{
	ssize_t	n;

	if (d->rd_pipe[0] == -1 && pipe_get(d->rd_pipe) == -1)
		return IO_COPY;
	n = splice(d->rd_from, NULL, d->rd_pipe[1], NULL, RELAY_SPLICE,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		d->rd_inpipe = (size_t)n;
		d->rd_last = (size_t)n;
		return IO_DONE;
	}
	if (n == 0)
		return IO_EOF;
	if (io_again())
		return IO_AGAIN;
	if (errno != EINVAL && errno != ENOSYS)
		return IO_ERR_FROM;
	d->rd_nosplice = 1;
	pipe_put(d->rd_pipe, 1);
	return IO_COPY;
}
#endif

/* recv, then send at once; what the destination refuses is kept. */
static enum relay_io
dir_fill_copy(struct relay_dir *d)
{
	ssize_t	n, w;

	n = recv(d->rd_from, relay_iobuf, sizeof(relay_iobuf), 0);
	if (n == 0)
		return IO_EOF;
	if (n == -1)
		return io_again() ? IO_AGAIN : IO_ERR_FROM;
	d->rd_last = (size_t)n;
	w = send(d->rd_to, relay_iobuf, (size_t)n, MSG_NOSIGNAL);
	if (w == -1) {
		if (!io_again())
			return IO_ERR_TO;
		w = 0;
	}
	if (w < n) {
		if (d->rd_buf == NULL &&
		    (d->rd_buf = malloc(RELAY_BUFSZ)) == NULL) {
			log_warn("relay");
			return IO_ERR_TO;
		}
		memcpy(d->rd_buf, relay_iobuf + w, (size_t)(n - w));
		d->rd_pend = d->rd_buf;
		d->rd_npend = (size_t)(n - w);
	}
	return IO_DONE;
}

/* Read once from the source; only called with nothing pending. */
static enum relay_io
dir_fill(struct relay_dir *d)
{
#ifdef RELAY_HAVE_SPLICE
	enum relay_io	io;

	if (relay_splice && !d->rd_nosplice &&
	    (io = dir_fill_splice(d)) != IO_COPY)
		return io;
#endif
	return dir_fill_copy(d);
}

/* EOF read and passed on: shut the destination down for writing. */
static void
dir_finish(struct relay_dir *d)
{
	struct relay	*r = d->rd_relay;

	d->rd_done = 1;
	dir_release(d);
	(void)dir_wait(d, 0);		/* only deletes: cannot end it */
	/* Both done: close() sends the FIN (nothing is left unread). */
	if (r->r_dir[0].rd_done && r->r_dir[1].rd_done)
		relay_end(r, -1);
	else
		(void)shutdown(d->rd_to, SHUT_WR);	/* ENOTCONN: gone */
}

/*
 * Move bytes until the source is drained or the destination full, then
 * wait for the one that stopped us.  READABLE: woken by the source (or at
 * start), so read even if the last read looked like it drained it.
 */
static void
dir_run(struct relay_dir *d, int readable)
{
	struct relay	*r = d->rd_relay;
	int		 i;

	for (i = 0;; i++) {
		switch (dir_flush(d)) {
		case IO_AGAIN:
			(void)dir_wait(d, EV_WRITE);
			return;
		case IO_ERR_TO:
			relay_end(r, d->rd_to);
			return;
		default:
			break;
		}
		if (d->rd_eof) {
			dir_finish(d);
			return;
		}
		/* Level-triggered: stopping early only costs a wakeup. */
		if (i == RELAY_BURST ||
		    ((i > 0 || !readable) && d->rd_last < RELAY_SHORT))
			break;
		switch (dir_fill(d)) {
		case IO_AGAIN:
			goto idle;
		case IO_EOF:
			d->rd_eof = 1;
			break;
		case IO_ERR_FROM:
			relay_end(r, d->rd_from);
			return;
		case IO_ERR_TO:
			relay_end(r, d->rd_to);
			return;
		default:
			break;
		}
	}
idle:
	dir_release(d);
	(void)dir_wait(d, EV_READ);
}

static void
relay_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dir_run(arg, 1);
}

static void
relay_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dir_run(arg, 0);
}

/* Close both sockets; RST, if not -1, failed: reset the other one. */
static void
relay_close(struct relay *r, int rst)
{
	struct linger	 lg = { 1, 0 };
	struct relay_dir *d;
	int		 i, other;

	for (i = 0; i < 2; i++) {
		d = &r->r_dir[i];
		event_del(d->rd_rev);
		event_del(d->rd_wev);
		pipe_put(d->rd_pipe, d->rd_inpipe == 0);
		free(d->rd_buf);
	}
	if (rst != -1) {
		other = rst == r->r_dir[0].rd_from ? r->r_dir[0].rd_to :
		    r->r_dir[0].rd_from;
		(void)setsockopt(other, SOL_SOCKET, SO_LINGER, &lg,
		    sizeof(lg));
	}
	close(r->r_dir[0].rd_from);
	close(r->r_dir[0].rd_to);
}

/* Both directions finished, or one failed: the caller hears it once. */
static void
relay_end(struct relay *r, int rst)
{
	relay_done_fn	 done = r->r_done;
	void		*arg = r->r_arg;

	relay_close(r, rst);
	free(r);
	done(arg);
}

/*
 * Non-blocking, and no Nagle on TCP: the relay writes what it has read
 * at once, and a small write held back waiting for an ACK (which the peer
 * may delay) would add up to 40 ms that a direct connection does not
 * have.  On a UNIX socket the setsockopt fails, harmlessly.
 */
static int
relay_prepare(int fd)
{
	int	fl, on = 1;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	if ((fl & O_NONBLOCK) == 0 &&
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return 0;
}

static size_t
align_up(size_t n)
{
	size_t	a = _Alignof(max_align_t);

	return (n + a - 1) / a * a;
}

/*
 * Start relaying between CLIENT and SERVER (SERVER may still be
 * connecting), sending PREFIX to SERVER first.  The relay owns both fds
 * from here on and calls DONE(ARG) once it has closed them; it is freed by
 * then.  DONE is never called from within relay_new().  NULL on failure,
 * with both fds left open.
 */
struct relay *
relay_new(struct event_base *base, int client, int server,
    const void *prefix, size_t prefix_len, relay_done_fn done, void *arg)
{
	struct relay	*r;
	struct relay_dir *d;
	size_t		 off, esz;
	char		*p;
	int		 i;

	if (relay_prepare(client) == -1 || relay_prepare(server) == -1)
		return NULL;
	off = align_up(sizeof(*r));
	esz = align_up(event_get_struct_event_size());
	if ((p = calloc(1, off + 4 * esz + prefix_len)) == NULL)
		return NULL;
	r = (struct relay *)(void *)p;
	r->r_done = done;
	r->r_arg = arg;
	for (i = 0; i < 2; i++) {
		d = &r->r_dir[i];
		d->rd_relay = r;
		d->rd_from = i == 0 ? client : server;
		d->rd_to = i == 0 ? server : client;
		d->rd_pipe[0] = d->rd_pipe[1] = -1;
		d->rd_rev = (struct event *)(void *)(p + off + (2 * i) * esz);
		d->rd_wev = (struct event *)(void *)(p + off + (2 * i + 1) *
		    esz);
		if (event_assign(d->rd_rev, base, d->rd_from,
		    EV_READ | EV_PERSIST, relay_readable, d) == -1 ||
		    event_assign(d->rd_wev, base, d->rd_to,
		    EV_WRITE | EV_PERSIST, relay_writable, d) == -1) {
			free(r);
			return NULL;
		}
	}
	if (prefix_len > 0) {
		memcpy(p + off + 4 * esz, prefix, prefix_len);
		r->r_dir[0].rd_pend = p + off + 4 * esz;
		r->r_dir[0].rd_npend = prefix_len;
	}
	if (event_add(r->r_dir[1].rd_rev, NULL) == -1) {
		free(r);
		return NULL;
	}
	r->r_dir[1].rd_rarmed = 1;
	/* The client has most likely sent already: read it in this pass. */
	event_active(r->r_dir[0].rd_rev, EV_READ, 1);
	return r;
}

/* Abort: both fds closed now, and DONE is not called. */
void
relay_free(struct relay *r)
{
	relay_close(r, -1);
	free(r);
}

/*
 * Find out once whether splice(2) works here (a kernel or a seccomp
 * filter may refuse it).  SOAD_RELAY_NOSPLICE=1 in the environment forces
 * the recv/send path, for tests and for ruling splice out.
 */
void
relay_init(void)
{
#ifdef RELAY_HAVE_SPLICE
	const char	*env;
	int		 sv[2], p[2];

	relay_splice = 0;
	env = getenv("SOAD_RELAY_NOSPLICE");
	if (env != NULL && *env != '\0' && strcmp(env, "0") != 0)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1)
		return;
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
		if (splice(sv[0], NULL, p[1], NULL, 1,
		    SPLICE_F_NONBLOCK) == -1 && errno == EAGAIN)
			relay_splice = 1;
		pipe_put(p, 1);
	}
	close(sv[0]);
	close(sv[1]);
	log_debug("relay: %s", relay_splice ? "splice" : "recv/send");
#endif
}

/* Close the spare pipes (at exit; relays still open may add more). */
void
relay_shutdown(void)
{
	while (relay_npipes > 0) {
		relay_npipes--;
		close(relay_pipes[relay_npipes][0]);
		close(relay_pipes[relay_npipes][1]);
	}
}
