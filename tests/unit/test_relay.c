/*
 * Unit tests for relay.c on real sockets: TCP loopback pairs and UNIX
 * socketpairs.  The test plays both peers on the relay's own event loop:
 *
 *	peer A <-> [c  relay  s] <-> peer B
 *
 * A and B send a pseudo-random pattern (a 65521-byte table, so no power of
 * two lines up with it) and check every byte they get against it by
 * stream offset.  Every test runs twice: with splice(2) and with the
 * recv/send path (SOAD_RELAY_NOSPLICE=1).  Each one checks that the done
 * callback ran exactly once and that no fd is left open.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <linux/sockios.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "soad.h"

#define PATLEN		65521		/* prime */
#define BULK		(100ULL * 1000 * 1000)
#define CHUNK		65536

enum kind { TCP, UNIX };

struct peer {
	int		 pr_fd;
	struct event	*pr_rev;
	struct event	*pr_wev;
	uint64_t	 pr_tosend;	/* then shut down writing */
	uint64_t	 pr_sent;
	uint64_t	 pr_got;
	size_t		 pr_sphase;	/* pattern offset of what it sends */
	size_t		 pr_rphase;	/* ... of what it expects */
	int		 pr_noread;	/* leave what arrives unread */
	int		 pr_after_eof;	/* send only once EOF is read */
	int		 pr_shut;
	int		 pr_eof;
	int		 pr_err;	/* errno of a failed read */
	int		 pr_bad;	/* a byte differed */
};

struct world {
	struct event_base *w_base;
	struct event	*w_tick;
	struct peer	 w_a, w_b;
	int		 w_c, w_s;	/* the relay's */
	enum kind	 w_ck, w_sk;
	struct relay	*w_relay;
	int		 w_done;
};

static unsigned char	 pat[2 * PATLEN];
static unsigned char	 rbuf[CHUNK];
static int		 listener = -1;
static const char	*mode = "splice";

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Open fds, and how many of them are pipes. */
static int
count_fds(int *pipes)
{
	DIR		*dir;
	struct dirent	*de;
	char		 path[300], link[64];
	ssize_t		 n;
	int		 count = 0;

	if (pipes != NULL)
		*pipes = 0;
	assert_non_null(dir = opendir("/proc/self/fd"));
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		count++;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (pipes != NULL && n > 5 && strncmp(link, "pipe:", 5) == 0)
			(*pipes)++;
	}
	closedir(dir);
	return count - 1;	/* the directory's own */
}

static long
rss_kib(void)
{
	FILE	*f;
	char	 line[128];
	long	 kib = -1;

	assert_non_null(f = fopen("/proc/self/status", "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void
nonblock(int fd)
{
	assert_int_not_equal(fcntl(fd, F_SETFL,
	    fcntl(fd, F_GETFL) | O_NONBLOCK), -1);
}

static int
nodelay(int fd)
{
	int		on = 0;
	socklen_t	len = sizeof(on);

	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len),
	    0);
	return on;
}

/* A connected pair: *x for a peer (non-blocking), *y for the relay
 * (blocking: relay_new must make it non-blocking itself). */
static void
pair(enum kind k, int *x, int *y)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			sv[2];

	if (k == UNIX) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM |
		    SOCK_CLOEXEC, 0, sv), 0);
		*x = sv[0];
		*y = sv[1];
	} else {
		assert_int_equal(getsockname(listener,
		    (struct sockaddr *)&sin, &len), 0);
		assert_int_not_equal(*x = socket(AF_INET, SOCK_STREAM |
		    SOCK_CLOEXEC, 0), -1);
		assert_int_equal(connect(*x, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		assert_int_not_equal(*y = accept4(listener, NULL, NULL,
		    SOCK_CLOEXEC), -1);
	}
	nonblock(*x);
}

static void
done_cb(void *arg)
{
	struct world	*w = arg;

	w->w_done++;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
peer_send(struct peer *p)
{
	size_t	off, len;
	ssize_t	n;

	while (p->pr_sent < p->pr_tosend) {
		off = (size_t)((p->pr_sent + p->pr_sphase) % PATLEN);
		len = PATLEN;
		if (p->pr_tosend - p->pr_sent < len)
			len = (size_t)(p->pr_tosend - p->pr_sent);
		n = send(p->pr_fd, pat + off, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN)
				return;
			fail_msg("%s: send: %s", mode, strerror(errno));
		}
		p->pr_sent += (uint64_t)n;
	}
	event_del(p->pr_wev);
	if (p->pr_shut)
		assert_int_equal(shutdown(p->pr_fd, SHUT_WR), 0);
}

static void
peer_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	peer_send(arg);
}

static void
peer_readable(evutil_socket_t fd, short what, void *arg)
{
	struct peer	*p = arg;
	ssize_t		 n;
	size_t		 pos, off, len;

	(void)fd;
	(void)what;
	n = recv(p->pr_fd, rbuf, sizeof(rbuf), 0);
	if (n == -1) {
		if (errno == EAGAIN)
			return;
		p->pr_err = errno;
		event_del(p->pr_rev);
		return;
	}
	if (n == 0) {
		p->pr_eof = 1;
		event_del(p->pr_rev);
		if (p->pr_after_eof)
			assert_int_equal(event_add(p->pr_wev, NULL), 0);
		return;
	}
	for (pos = 0; pos < (size_t)n; pos += len) {
		off = (size_t)((p->pr_got + p->pr_rphase) % PATLEN);
		len = (size_t)n - pos;
		if (len > PATLEN)
			len = PATLEN;
		if (memcmp(rbuf + pos, pat + off, len) != 0)
			p->pr_bad = 1;
		p->pr_got += len;
	}
}

static void
peer_start(struct world *w, struct peer *p)
{
	assert_non_null(p->pr_rev = event_new(w->w_base, p->pr_fd,
	    EV_READ | EV_PERSIST, peer_readable, p));
	assert_non_null(p->pr_wev = event_new(w->w_base, p->pr_fd,
	    EV_WRITE | EV_PERSIST, peer_writable, p));
	if (!p->pr_noread)
		assert_int_equal(event_add(p->pr_rev, NULL), 0);
	if (!p->pr_after_eof)
		assert_int_equal(event_add(p->pr_wev, NULL), 0);
}

static void
peer_close(struct peer *p)
{
	if (p->pr_rev != NULL) {
		event_free(p->pr_rev);
		event_free(p->pr_wev);
		p->pr_rev = p->pr_wev = NULL;
	}
	if (p->pr_fd != -1)
		close(p->pr_fd);
	p->pr_fd = -1;
}

/* Peers connected to the relay's sockets, no relay yet. */
static void
world_open(struct world *w, enum kind ck, enum kind sk)
{
	struct timeval	tv = { 0, 20000 };

	memset(w, 0, sizeof(*w));
	assert_non_null(w->w_base = event_base_new());
	/* Wakes the loop so that run() sees its deadline. */
	assert_non_null(w->w_tick = event_new(w->w_base, -1, EV_PERSIST,
	    tick_cb, NULL));
	assert_int_equal(event_add(w->w_tick, &tv), 0);
	pair(ck, &w->w_a.pr_fd, &w->w_c);
	pair(sk, &w->w_b.pr_fd, &w->w_s);
	w->w_ck = ck;
	w->w_sk = sk;
	w->w_b.pr_rphase = 0;
	w->w_a.pr_rphase = 7777;
	w->w_a.pr_sphase = 0;
	w->w_b.pr_sphase = 7777;
	w->w_a.pr_shut = w->w_b.pr_shut = 1;
}

static void
world_relay(struct world *w, const void *prefix, size_t prefix_len)
{
	w->w_relay = relay_new(w->w_base, w->w_c, w->w_s, prefix, prefix_len,
	    done_cb, w);
	assert_non_null(w->w_relay);
	assert_true(fcntl(w->w_c, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(w->w_s, F_GETFL) & O_NONBLOCK);
	if (w->w_ck == TCP)
		assert_true(nodelay(w->w_c));
	if (w->w_sk == TCP)
		assert_true(nodelay(w->w_s));
}

/* Peers connected through a new relay; they start moving on run(). */
static void
world_new(struct world *w, enum kind ck, enum kind sk, const void *prefix,
    size_t prefix_len)
{
	world_open(w, ck, sk);
	world_relay(w, prefix, prefix_len);
}

static void
world_free(struct world *w)
{
	peer_close(&w->w_a);
	peer_close(&w->w_b);
	event_free(w->w_tick);
	event_base_free(w->w_base);
}

/* Run the loop until COND holds; fail after SECS. */
static void
run(struct world *w, int (*cond)(struct world *), double secs)
{
	double	deadline = now() + secs;

	while (!cond(w)) {
		if (now() > deadline)
			fail_msg("%s: timed out: A sent %llu got %llu eof %d, "
			    "B sent %llu got %llu eof %d, done %d", mode,
			    (unsigned long long)w->w_a.pr_sent,
			    (unsigned long long)w->w_a.pr_got, w->w_a.pr_eof,
			    (unsigned long long)w->w_b.pr_sent,
			    (unsigned long long)w->w_b.pr_got, w->w_b.pr_eof,
			    w->w_done);
		assert_int_not_equal(event_base_loop(w->w_base,
		    EVLOOP_ONCE), -1);
	}
}

static int
both_eof(struct world *w)
{
	return w->w_a.pr_eof && w->w_b.pr_eof && w->w_done > 0;
}

static int
relay_done(struct world *w)
{
	return w->w_done > 0;
}

/* Both finished cleanly: every byte, in order, and one done call. */
static void
check_clean(struct world *w)
{
	assert_false(w->w_a.pr_bad);
	assert_false(w->w_b.pr_bad);
	assert_int_equal(w->w_a.pr_err, 0);
	assert_int_equal(w->w_b.pr_err, 0);
	assert_true(w->w_b.pr_got == w->w_a.pr_sent);
	assert_true(w->w_a.pr_got == w->w_b.pr_sent);
	assert_int_equal(w->w_done, 1);
}

static void
bulk(enum kind ck, enum kind sk, const char *name)
{
	struct world	w;
	double		t0, c0, t;

	world_new(&w, ck, sk, NULL, 0);
	w.w_a.pr_tosend = w.w_b.pr_tosend = BULK;
	peer_start(&w, &w.w_a);
	peer_start(&w, &w.w_b);
	t0 = now();
	c0 = cpu();
	run(&w, both_eof, 120);
	t = now() - t0;
	check_clean(&w);
	assert_true(w.w_a.pr_got == BULK);
	print_message("%s %s: 2 x %llu MB in %.2f s (%.0f MB/s each way, "
	    "%.2f s CPU, peers included)\n", mode, name, BULK / 1000000,
	    t, BULK / 1e6 / t, cpu() - c0);
	world_free(&w);
}

/* Every test starts and ends with no spare pipe open. */
static int
fds_setup(void **state)
{
	static int	n;

	relay_shutdown();
	n = count_fds(NULL);
	*state = &n;
	return 0;
}

static int
fds_teardown(void **state)
{
	int	n;

	relay_shutdown();
	n = count_fds(NULL);
	if (n != *(int *)*state) {
		fprintf(stderr, "%s: %d fds open, %d before\n", mode, n,
		    *(int *)*state);
		return -1;
	}
	return 0;
}

static void
test_bulk_tcp(void **state)
{
	(void)state;
	bulk(TCP, TCP, "tcp-tcp");
}

static void
test_bulk_unix(void **state)
{
	(void)state;
	bulk(UNIX, UNIX, "unix-unix");
}

static void
test_bulk_mixed(void **state)
{
	(void)state;
	bulk(TCP, UNIX, "tcp-unix");
}

/*
 * The first talker sends and shuts down writing; the other reads to EOF
 * and only then answers with 4 MB: the answer arrives whole.
 */
static void
halfclose(enum kind k, int client_first)
{
	struct world	 w;
	struct peer	*first, *second;

	world_new(&w, k, k, NULL, 0);
	first = client_first ? &w.w_a : &w.w_b;
	second = client_first ? &w.w_b : &w.w_a;
	first->pr_tosend = 1000;
	second->pr_tosend = 4 << 20;
	second->pr_after_eof = 1;
	peer_start(&w, &w.w_a);
	peer_start(&w, &w.w_b);
	run(&w, both_eof, 30);
	check_clean(&w);
	assert_true(first->pr_got == 4 << 20);
	assert_true(second->pr_got == 1000);
	world_free(&w);
}

static void
test_halfclose(void **state)
{
	(void)state;
	halfclose(TCP, 1);
	halfclose(TCP, 0);
	halfclose(UNIX, 1);
	halfclose(UNIX, 0);
}

static int
queued(int fd, unsigned long req)
{
	int	n;

	assert_int_equal(ioctl(fd, req, &n), 0);
	return n;
}

static int
got_10(struct world *w)
{
	return w->w_a.pr_got >= 10 && w->w_b.pr_got >= 10;
}

/*
 * One peer resets its connection (TCP: linger 0; UNIX: close with unread
 * bytes, which Linux reports as ECONNRESET): the relay ends, and over TCP
 * the other peer's read fails with ECONNRESET.
 */
static void
reset(enum kind k, int client_resets)
{
	struct world	 w;
	struct peer	*bad, *other;
	struct linger	 lg = { 1, 0 };
	char		 c;
	ssize_t		 n;

	world_new(&w, k, k, NULL, 0);
	w.w_a.pr_tosend = w.w_b.pr_tosend = 10;
	w.w_a.pr_shut = w.w_b.pr_shut = 0;
	peer_start(&w, &w.w_a);
	peer_start(&w, &w.w_b);
	run(&w, got_10, 10);
	bad = client_resets ? &w.w_a : &w.w_b;
	other = client_resets ? &w.w_b : &w.w_a;
	event_del(other->pr_rev);
	assert_int_equal(setsockopt(bad->pr_fd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	if (k == UNIX) {
		/* Unread bytes in BAD make its close a reset. */
		event_del(bad->pr_rev);
		assert_int_equal(send(other->pr_fd, "x", 1, 0), 1);
		while (queued(bad->pr_fd, FIONREAD) < 1)
			assert_int_not_equal(event_base_loop(w.w_base,
			    EVLOOP_ONCE), -1);
	}
	peer_close(bad);
	run(&w, relay_done, 10);
	assert_int_equal(w.w_done, 1);
	n = recv(other->pr_fd, &c, 1, 0);
	if (k == TCP) {
		assert_int_equal(n, -1);
		assert_int_equal(errno, ECONNRESET);
	} else
		assert_true(n == 0 || (n == -1 && errno == ECONNRESET));
	world_free(&w);
}

static void
test_reset(void **state)
{
	(void)state;
	reset(TCP, 1);
	reset(TCP, 0);
	reset(UNIX, 1);
	reset(UNIX, 0);
}

struct stall {
	uint64_t	st_sent;
	double		st_since;
};

static struct stall	stall;

/* A has not been able to send anything for 300 ms. */
static int
stalled(struct world *w)
{
	if (w->w_a.pr_sent != stall.st_sent) {
		stall.st_sent = w->w_a.pr_sent;
		stall.st_since = now();
		return 0;
	}
	return now() - stall.st_since > 0.3;
}

/*
 * B never reads: A's sends must end in EAGAIN, with the relay holding
 * one read's worth at most, no memory growth, and no CPU spent waiting.
 * Then B reads and everything arrives.
 */
static void
backpressure(enum kind k)
{
	struct world	w;
	long		rss0;
	double		c0;
	int		pipes, pipes0, held;

	relay_shutdown();	/* the last test's spare pipes */
	rss0 = rss_kib();
	world_new(&w, k, k, NULL, 0);
	count_fds(&pipes0);
	w.w_a.pr_tosend = 1ULL << 40;
	w.w_b.pr_noread = 1;
	w.w_b.pr_shut = 0;
	peer_start(&w, &w.w_a);
	peer_start(&w, &w.w_b);
	stall.st_sent = 0;
	stall.st_since = now();
	run(&w, stalled, 30);

	/* What A sent is in the sockets' queues, but for the relay's part. */
	held = (int)w.w_a.pr_sent - queued(w.w_c, FIONREAD) -
	    queued(w.w_b.pr_fd, FIONREAD);
	if (k == TCP)
		held -= queued(w.w_a.pr_fd, SIOCOUTQ) +
		    queued(w.w_s, SIOCOUTQ);
	count_fds(&pipes);
	pipes -= pipes0;
	print_message("%s %s: A blocked after %llu bytes, relay holds %d, "
	    "%d pipe fds, RSS +%ld KiB\n", mode, k == TCP ? "tcp" : "unix",
	    (unsigned long long)w.w_a.pr_sent, held, pipes,
	    rss_kib() - rss0);
	assert_true(held >= 0 && held <= 65536);
	assert_int_equal(pipes, strcmp(mode, "splice") == 0 ? 2 : 0);
	assert_true(rss_kib() - rss0 < 4096);

	/* Waiting costs nothing: 0.5 s of loop, ticks only. */
	c0 = cpu();
	stall.st_since = now();
	run(&w, stalled, 10);
	stall.st_since = now();
	run(&w, stalled, 10);
	assert_true(cpu() - c0 < 0.05);

	/* B reads: the rest goes through, then both sides close. */
	w.w_a.pr_tosend = w.w_a.pr_sent + (1 << 20);
	w.w_b.pr_shut = 1;
	assert_int_equal(event_add(w.w_b.pr_rev, NULL), 0);
	assert_int_equal(event_add(w.w_b.pr_wev, NULL), 0);
	run(&w, both_eof, 30);
	check_clean(&w);
	world_free(&w);
}

static void
test_backpressure(void **state)
{
	(void)state;
	backpressure(TCP);
	backpressure(UNIX);
}

/* Read B until EOF, running the loop. */
static size_t
drain(struct world *w, int fd, char *buf, size_t len)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	double		deadline = now() + 10;
	size_t		got = 0;
	ssize_t		n;

	for (;;) {
		assert_true(now() < deadline);
		assert_int_not_equal(event_base_loop(w->w_base,
		    EVLOOP_NONBLOCK), -1);
		n = recv(fd, buf + got, len - got, 0);
		if (n == 0)
			return got;
		if (n > 0)
			got += (size_t)n;
		else if (errno == EAGAIN)
			(void)poll(&pfd, 1, 10);
		else
			fail_msg("recv: %s", strerror(errno));
		assert_true(got < len);
	}
}

/*
 * The prefix reaches the server before any client byte: with client bytes
 * already waiting when the relay starts, and with a client that says
 * nothing (the server speaks first).
 */
static void
prefix(enum kind k, int client_talks)
{
	static const char	 hdr[] = "PROXY TCP4 192.0.2.1 127.0.0.1 5 6\r\n";
	struct world		 w;
	char			 buf[256];
	size_t			 n, hl = sizeof(hdr) - 1;

	world_open(&w, k, k);
	if (client_talks) {
		/* Waiting in the queue when the relay starts. */
		assert_int_equal(send(w.w_a.pr_fd, "hello", 5, 0), 5);
		assert_int_equal(shutdown(w.w_a.pr_fd, SHUT_WR), 0);
	}
	world_relay(&w, hdr, hl);
	if (client_talks) {
		n = drain(&w, w.w_b.pr_fd, buf, sizeof(buf));
		assert_int_equal(n, hl + 5);
		assert_memory_equal(buf, hdr, hl);
		assert_memory_equal(buf + hl, "hello", 5);
	} else {
		struct pollfd	pfd = { w.w_b.pr_fd, POLLIN, 0 };
		double		deadline = now() + 10;

		n = 0;
		while (n < hl) {
			ssize_t	r;

			assert_true(now() < deadline);
			assert_int_not_equal(event_base_loop(w.w_base,
			    EVLOOP_NONBLOCK), -1);
			r = recv(w.w_b.pr_fd, buf + n, sizeof(buf) - n, 0);
			if (r > 0)
				n += (size_t)r;
			else
				(void)poll(&pfd, 1, 10);
		}
		assert_int_equal(n, hl);
		assert_memory_equal(buf, hdr, hl);
		assert_int_equal(shutdown(w.w_a.pr_fd, SHUT_WR), 0);
		assert_int_equal(drain(&w, w.w_b.pr_fd, buf, sizeof(buf)), 0);
	}
	assert_int_equal(send(w.w_b.pr_fd, "bye", 3, 0), 3);
	assert_int_equal(shutdown(w.w_b.pr_fd, SHUT_WR), 0);
	n = drain(&w, w.w_a.pr_fd, buf, sizeof(buf));
	assert_int_equal(n, 3);
	run(&w, relay_done, 10);
	assert_int_equal(w.w_done, 1);
	world_free(&w);
}

static void
test_prefix(void **state)
{
	(void)state;
	prefix(TCP, 1);
	prefix(TCP, 0);
	prefix(UNIX, 1);
	prefix(UNIX, 0);
}

/* relay_free closes both fds at once and never calls done. */
static void
test_abort(void **state)
{
	struct world	w;
	char		c;

	(void)state;
	world_new(&w, TCP, UNIX, "x", 1);
	relay_free(w.w_relay);
	assert_int_equal(fcntl(w.w_c, F_GETFD), -1);
	assert_int_equal(fcntl(w.w_s, F_GETFD), -1);
	assert_int_equal(event_base_loop(w.w_base, EVLOOP_NONBLOCK), 0);
	assert_int_equal(w.w_done, 0);
	assert_int_equal(recv(w.w_a.pr_fd, &c, 1, 0), 0);
	world_free(&w);
}

/*
 * A server socket still connecting, to a port nobody listens on: the
 * relay waits for it, sees the refusal and resets the client.
 */
static void
test_refused(void **state)
{
	struct world		w;
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			x;
	char			c;

	(void)state;
	/* A free port: bound, then closed. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_not_equal(x = socket(AF_INET, SOCK_STREAM, 0), -1);
	assert_int_equal(bind(x, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(x, (struct sockaddr *)&sin, &len), 0);
	close(x);

	world_open(&w, TCP, TCP);
	close(w.w_s);
	close(w.w_b.pr_fd);
	w.w_b.pr_fd = -1;
	assert_int_not_equal(w.w_s = socket(AF_INET, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0), -1);
	if (connect(w.w_s, (struct sockaddr *)&sin, sizeof(sin)) == 0 ||
	    errno != EINPROGRESS) {
		close(w.w_s);
		close(w.w_c);
		world_free(&w);
		skip();
	}
	world_relay(&w, "hdr", 3);
	run(&w, relay_done, 10);
	assert_int_equal(w.w_done, 1);
	assert_int_equal(recv(w.w_a.pr_fd, &c, 1, 0), -1);
	assert_int_equal(errno, ECONNRESET);
	world_free(&w);
}

static int
group_setup(void **state)
{
	struct sockaddr_in	sin;
	int			i;

	(void)state;
	signal(SIGPIPE, SIG_IGN);	/* as soad.c does */
	for (i = 0; i < PATLEN; i++)
		pat[i] = pat[PATLEN + i] = (unsigned char)(random() >> 7);
	if (listener == -1) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1 ||
		    bind(listener, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(listener, 16) == -1)
			return -1;
	}
	if (strcmp(mode, "splice") == 0)
		unsetenv("SOAD_RELAY_NOSPLICE");
	else
		setenv("SOAD_RELAY_NOSPLICE", "1", 1);
	relay_init();
	return 0;
}

static int
splice_setup(void **state)
{
	mode = "splice";
	return group_setup(state);
}

static int
copy_setup(void **state)
{
	mode = "recv/send";
	return group_setup(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bulk_tcp, fds_setup,
		    fds_teardown),
		cmocka_unit_test_setup_teardown(test_bulk_unix, fds_setup,
		    fds_teardown),
		cmocka_unit_test_setup_teardown(test_bulk_mixed, fds_setup,
		    fds_teardown),
		cmocka_unit_test_setup_teardown(test_halfclose, fds_setup,
		    fds_teardown),
		cmocka_unit_test_setup_teardown(test_reset, fds_setup,
		    fds_teardown),
		cmocka_unit_test_setup_teardown(test_backpressure, fds_setup,
		    fds_teardown),
		cmocka_unit_test_setup_teardown(test_prefix, fds_setup,
		    fds_teardown),
		cmocka_unit_test_setup_teardown(test_abort, fds_setup,
		    fds_teardown),
		cmocka_unit_test_setup_teardown(test_refused, fds_setup,
		    fds_teardown),
	};
	int	fails;

	fails = cmocka_run_group_tests_name("relay, splice", tests,
	    splice_setup, NULL);
	fails += cmocka_run_group_tests_name("relay, recv/send", tests,
	    copy_setup, NULL);
	return fails != 0;
}
