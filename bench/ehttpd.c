/*
 * ehttpd: the app for the proxy bench (proxy.sh).  One process, one
 * thread, epoll, non-blocking: the serving model of nginx with one worker
 * (the peers' proxy bench backend), so a proxy in front of it is measured
 * against an app that does not fork per connection.  HTTP/1.1 keep-alive
 * unless "Connection: close"; HTTP/1.0 closes.
 *
 *	GET /big	104857600 bytes (100 MiB) of 'x', written from a 1 MiB
 *			buffer (backpressure: EPOLLOUT when the socket is full)
 *	GET anything	256 bytes of body
 *
 *	ehttpd --port N		bind 127.0.0.1:N
 *	ehttpd			socket-activated: LISTEN_FDS/LISTEN_PID, fd 3
 *				(TCP or UNIX listener)
 * SIGTERM: default action.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlisten.h"

#define BIG	(100LL << 20)
#define CHUNK	(1 << 20)
#define SMALL	256

struct cn {
	int		 fd;
	size_t		 have;		/* request bytes buffered */
	char		 hdr[256];
	size_t		 hlen, hoff;	/* response header to write */
	long long	 body;		/* body bytes left */
	int		 close_after;
	int		 out;		/* waiting for EPOLLOUT */
	char		 req[8192];
};

static char	 chunk[CHUNK];
static int	 ep;

static void
drop(struct cn *c)
{
	close(c->fd);
	free(c);
}

/* Writes what is pending.  0: all written, 1: socket full, -1: error. */
static int
flush(struct cn *c)
{
	struct iovec	 iov[2];
	ssize_t		 n;
	int		 k;

	while (c->hoff < c->hlen || c->body > 0) {
		k = 0;
		if (c->hoff < c->hlen) {
			iov[k].iov_base = c->hdr + c->hoff;
			iov[k++].iov_len = c->hlen - c->hoff;
		}
		if (c->body > 0) {
			iov[k].iov_base = chunk;
			iov[k++].iov_len = c->body < CHUNK ? (size_t)c->body : CHUNK;
		}
		n = writev(c->fd, iov, k);
		if (n == -1)
			return errno == EAGAIN ? 1 : -1;
		if ((size_t)n <= c->hlen - c->hoff)
			c->hoff += (size_t)n;
		else {
			n -= (ssize_t)(c->hlen - c->hoff);
			c->hoff = c->hlen;
			c->body -= n;
		}
	}
	return 0;
}

static void
set_out(struct cn *c, int on)
{
	struct epoll_event	 ev = { .data.ptr = c };

	if (c->out == on)
		return;
	c->out = on;
	ev.events = on ? EPOLLOUT : EPOLLIN;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Answers every complete request buffered; 0 keep, -1 drop. */
static int
serve(struct cn *c)
{
	char	*end;
	int	 r;

	while (!c->out &&
	    (end = memmem(c->req, c->have, "\r\n\r\n", 4)) != NULL) {
		size_t	 hl = (size_t)(end - c->req);
		int	 big = c->have > 8 && memcmp(c->req, "GET /big", 8) == 0;

		c->close_after = !memmem(c->req, hl, "HTTP/1.1", 8) ||
		    memmem(c->req, hl, "onnection: close", 16);
		c->body = big ? BIG : SMALL;
		c->hlen = (size_t)snprintf(c->hdr, sizeof(c->hdr),
		    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream"
		    "\r\nContent-Length: %lld\r\nConnection: %s\r\n\r\n",
		    c->body, c->close_after ? "close" : "keep-alive");
		c->hoff = 0;
		c->have -= hl + 4;
		memmove(c->req, end + 4, c->have);
		if ((r = flush(c)) == -1)
			return -1;
		if (r == 1) {
			set_out(c, 1);
			return 0;
		}
		if (c->close_after)
			return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 ev, evs[256];
	struct cn		 lmark;
	int			 lfd, on = 1, n, i, fd;
	ssize_t			 r;

	signal(SIGPIPE, SIG_IGN);
	memset(chunk, 'x', sizeof(chunk));
	if ((lfd = bench_listener(argc, argv, "ehttpd", 4096)) == -1)
		return 2;
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return 2;
	ev.events = EPOLLIN;
	ev.data.ptr = &lmark;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		if ((n = epoll_wait(ep, evs, 256, -1)) == -1)
			continue;
		for (i = 0; i < n; i++) {
			struct cn	*c = evs[i].data.ptr;

			if (c == &lmark) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &on, sizeof(on));	/* fails on UNIX */
					if ((c = calloc(1, sizeof(*c))) == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (c->out) {
				if ((r = flush(c)) == -1 ||
				    (r == 0 && c->close_after)) {
					drop(c);
					continue;
				}
				if (r == 1)
					continue;
				set_out(c, 0);
				if (serve(c) == -1)
					drop(c);
				continue;
			}
			r = read(c->fd, c->req + c->have,
			    sizeof(c->req) - c->have);
			if (r <= 0) {
				if (r == 0 || errno != EAGAIN)
					drop(c);
				continue;
			}
			c->have += (size_t)r;
			if (serve(c) == -1 || (c->have == sizeof(c->req) &&
			    !c->out))
				drop(c);
		}
	}
}
