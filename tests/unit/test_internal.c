/*
 * Unit tests for internal.c on real sockets.  Stream services run on the
 * test's own event loop over a TCP loopback pair and a UNIX socketpair;
 * the test plays the client with non-blocking calls between loop turns.
 * Datagram services get real UDP datagrams on loopback, IPv4 and IPv6,
 * and internal_dgram() is called once the socket is readable.  Expected
 * bytes are computed here from the RFCs' words, not from internal.c.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

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

#define LINELEN		74
#define ECHO_TOTAL	(1024 * 1024)
#define SMALLBUF	32768

enum kind { TCP, UNIX };

static struct event_base	*base;
static int			 done_count;
static unsigned char		 big[ECHO_TOTAL];
static unsigned char		 rbuf[ECHO_TOTAL];

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

static void
done_cb(void *arg)
{
	assert_ptr_equal(arg, &done_count);
	done_count++;
}

static void
nonblock(int fd)
{
	assert_int_not_equal(fcntl(fd, F_SETFL,
	    fcntl(fd, F_GETFL) | O_NONBLOCK), -1);
}

static void
turn(void)
{
	assert_int_not_equal(event_base_loop(base, EVLOOP_NONBLOCK), -1);
}

/* Run the loop until *FLAG reaches WANT or SECS pass. */
static void
loop_until(int *flag, int want, double secs)
{
	double	end = now() + secs;

	while (*flag < want && now() < end) {
		struct timeval	tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		assert_int_not_equal(event_base_loop(base, EVLOOP_ONCE), -1);
	}
}

/* *C: the client's end (non-blocking); *S: the service's (blocking,
 * internal_stream must make it non-blocking). */
static void
pair(enum kind k, int *c, int *s, int smallbuf)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			sv[2], l, sz = SMALLBUF;

	if (k == UNIX) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM |
		    SOCK_CLOEXEC, 0, sv), 0);
		*c = sv[0];
		*s = sv[1];
	} else {
		assert_int_not_equal(l = socket(AF_INET, SOCK_STREAM |
		    SOCK_CLOEXEC, 0), -1);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(l, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		assert_int_equal(listen(l, 4), 0);
		assert_int_equal(getsockname(l, (struct sockaddr *)&sin,
		    &len), 0);
		assert_int_not_equal(*c = socket(AF_INET, SOCK_STREAM |
		    SOCK_CLOEXEC, 0), -1);
		if (smallbuf) {
			(void)setsockopt(*c, SOL_SOCKET, SO_SNDBUF, &sz,
			    sizeof(sz));
			(void)setsockopt(*c, SOL_SOCKET, SO_RCVBUF, &sz,
			    sizeof(sz));
		}
		assert_int_equal(connect(*c, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		assert_int_not_equal(*s = accept4(l, NULL, NULL,
		    SOCK_CLOEXEC), -1);
		close(l);
	}
	if (smallbuf) {
		(void)setsockopt(*s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		(void)setsockopt(*s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		(void)setsockopt(*c, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		(void)setsockopt(*c, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	nonblock(*c);
}

static struct internal_conn *
start(int s, enum inetd_internal k)
{
	struct internal_conn	*ic;

	done_count = 0;
	assert_non_null(ic = internal_stream(base, s, k, done_cb,
	    &done_count));
	assert_int_equal(done_count, 0);	/* never from within */
	return ic;
}

static int
fd_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* Read what the service sends until EOF (1) or SECS pass (0). */
static int
read_to_eof(int c, unsigned char *buf, size_t max, size_t *got, double secs)
{
	double	end = now() + secs;
	ssize_t	n;

	*got = 0;
	while (now() < end) {
		turn();
		n = recv(c, buf + *got, max - *got, 0);
		if (n == 0)
			return 1;
		if (n > 0) {
			*got += (size_t)n;
			assert_true(*got < max);
		} else {
			assert_true(errno == EAGAIN);
			(void)poll(NULL, 0, 1);
		}
	}
	return 0;
}

/* RFC 864: line L, column I is character (L + I) mod 95 of the sorted
 * printable characters, numbered from the space. */
static int
chargen_ok(const unsigned char *p, size_t len, size_t line0)
{
	size_t	off, l, i;

	for (off = 0; off < len; off++) {
		l = line0 + off / LINELEN;
		i = off % LINELEN;
		if (i == 72 ? p[off] != '\r' : i == 73 ? p[off] != '\n' :
		    p[off] != (unsigned char)(' ' + (l + i) % 95))
			return 0;
	}
	return 1;
}

static void
chargen(enum kind k)
{
	static const char	*line0 = " !\"#$%&'()*+,-./0123456789:;<=>?@"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n";
	static const char	*line1 = "!\"#$%&'()*+,-./0123456789:;<=>?@A"
	    "BCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n";
	size_t			 want = 3 * 95 * LINELEN, got = 0;
	double			 end = now() + 10, c0;
	ssize_t			 n;
	int			 c, s, i;

	pair(k, &c, &s, 1);
	start(s, INETD_CHARGEN);
	while (got < want && now() < end) {
		turn();
		n = recv(c, rbuf + got, want - got, 0);
		if (n > 0)
			got += (size_t)n;
		else
			(void)poll(NULL, 0, 1);
	}
	assert_int_equal(got, want);
	assert_memory_equal(rbuf, line0, LINELEN);
	assert_memory_equal(rbuf + LINELEN, line1, LINELEN);
	assert_true(chargen_ok(rbuf, want, 0));

	/* A client that stops reading: the service sleeps, no busy loop. */
	for (i = 0; i < 50; i++)
		turn();
	c0 = cpu();
	end = now() + 0.5;
	while (now() < end)
		loop_until(&done_count, 1, 0.05);
	assert_true(cpu() - c0 < 0.2);
	assert_int_equal(done_count, 0);

	/* What the client sends is dropped; its EOF ends the service. */
	assert_int_equal(send(c, "hello", 5, 0), 5);
	assert_int_equal(shutdown(c, SHUT_WR), 0);
	loop_until(&done_count, 1, 5);
	assert_int_equal(done_count, 1);
	assert_true(fd_closed(s));
	close(c);
}

static void
test_chargen_tcp(void **state)
{
	(void)state;
	chargen(TCP);
}

static void
test_chargen_unix(void **state)
{
	(void)state;
	chargen(UNIX);
}

/* 1 MB through echo, sending well ahead of reading. */
static void
echo(enum kind k)
{
	size_t	sent = 0, got = 0, stalled;
	double	end = now() + 20;
	ssize_t	n;
	int	c, s, i;

	for (i = 0; i < ECHO_TOTAL; i++)
		big[i] = (unsigned char)((i * 7 + i / 251) & 0xff);
	pair(k, &c, &s, 1);
	start(s, INETD_ECHO);

	/* Send without reading until everything is full: the service must
	 * stop reading rather than buffer the rest. */
	for (i = 0; i < 200; i++) {
		turn();
		n = send(c, big + sent, ECHO_TOTAL - sent, MSG_NOSIGNAL);
		if (n > 0)
			sent += (size_t)n;
	}
	stalled = sent;
	assert_true(stalled < ECHO_TOTAL / 2);

	while (got < ECHO_TOTAL && now() < end) {
		turn();
		if (sent < ECHO_TOTAL) {
			n = send(c, big + sent, ECHO_TOTAL - sent,
			    MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
		}
		n = recv(c, rbuf + got, ECHO_TOTAL - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (n == -1)
			(void)poll(NULL, 0, 1);
	}
	assert_int_equal(got, ECHO_TOTAL);
	assert_memory_equal(rbuf, big, ECHO_TOTAL);
	assert_int_equal(shutdown(c, SHUT_WR), 0);
	assert_true(read_to_eof(c, rbuf, sizeof(rbuf), &got, 5));
	assert_int_equal(got, 0);
	loop_until(&done_count, 1, 5);
	assert_int_equal(done_count, 1);
	assert_true(fd_closed(s));
	close(c);
}

static void
test_echo_tcp(void **state)
{
	(void)state;
	echo(TCP);
}

static void
test_echo_unix(void **state)
{
	(void)state;
	echo(UNIX);
}

/* ctime(3)'s layout, computed here for T in the C locale. */
static void
ctime_line(time_t t, char *buf, size_t len)
{
	struct tm	tm;

	assert_non_null(localtime_r(&t, &tm));
	assert_true(strftime(buf, len, "%a %b %e %H:%M:%S %Y\r\n", &tm) > 0);
}

static int
daytime_ok(const char *got, size_t len, time_t t0, time_t t1)
{
	char	want[64];
	time_t	t;

	for (t = t0; t <= t1; t++) {
		ctime_line(t, want, sizeof(want));
		if (len == strlen(want) && memcmp(got, want, len) == 0)
			return 1;
	}
	return 0;
}

static void
daytime(enum kind k)
{
	size_t	got;
	time_t	t0 = time(NULL);
	int	c, s;

	pair(k, &c, &s, 0);
	start(s, INETD_DAYTIME);
	assert_true(read_to_eof(c, rbuf, sizeof(rbuf), &got, 5));
	assert_int_equal(got, 26);	/* "Mon Nov 30 18:11:00 2026\r\n" */
	assert_true(daytime_ok((char *)rbuf, got, t0, time(NULL)));
	/* The service waits for the client's close, then ends. */
	assert_int_equal(done_count, 0);
	close(c);
	loop_until(&done_count, 1, 5);
	assert_int_equal(done_count, 1);
	assert_true(fd_closed(s));
}

static void
test_daytime_tcp(void **state)
{
	(void)state;
	daytime(TCP);
}

static void
test_daytime_unix(void **state)
{
	(void)state;
	daytime(UNIX);
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* RFC 868: seconds since 1900-01-01 00:00 UTC, modulo 2^32. */
static void
time_ok(const unsigned char *p, time_t t0, time_t t1)
{
	uint32_t	v = be32(p);
	uint32_t	lo = (uint32_t)((int64_t)t0 + 2208988800LL);
	uint32_t	hi = (uint32_t)((int64_t)t1 + 2208988800LL);

	assert_true(v - lo <= hi - lo);
}

static void
timesvc(enum kind k)
{
	size_t	got;
	time_t	t0 = time(NULL);
	int	c, s;

	pair(k, &c, &s, 0);
	start(s, INETD_TIME);
	/* A client that sends something first changes nothing. */
	assert_int_equal(send(c, "x", 1, 0), 1);
	assert_true(read_to_eof(c, rbuf, sizeof(rbuf), &got, 5));
	assert_int_equal(got, 4);
	time_ok(rbuf, t0, time(NULL));
	close(c);
	loop_until(&done_count, 1, 5);
	assert_int_equal(done_count, 1);
	assert_true(fd_closed(s));
}

static void
test_time_tcp(void **state)
{
	(void)state;
	timesvc(TCP);
}

static void
test_time_unix(void **state)
{
	(void)state;
	timesvc(UNIX);
}

/* A client that never closes: daytime still ends, after its linger. */
static void
test_daytime_linger(void **state)
{
	size_t	got;
	int	c, s;

	(void)state;
	pair(TCP, &c, &s, 0);
	start(s, INETD_DAYTIME);
	assert_true(read_to_eof(c, rbuf, sizeof(rbuf), &got, 5));
	loop_until(&done_count, 1, 8);
	assert_int_equal(done_count, 1);
	assert_true(fd_closed(s));
	close(c);
}

static void
discard(enum kind k)
{
	size_t	sent = 0, got;
	double	end = now() + 10;
	ssize_t	n;
	int	c, s;

	pair(k, &c, &s, 1);
	start(s, INETD_DISCARD);
	memset(big, 'd', sizeof(big));
	while (sent < ECHO_TOTAL && now() < end) {
		turn();
		n = send(c, big + sent, ECHO_TOTAL - sent, MSG_NOSIGNAL);
		if (n > 0)
			sent += (size_t)n;
		n = recv(c, rbuf, sizeof(rbuf), 0);
		assert_true(n == -1 && errno == EAGAIN);
	}
	assert_int_equal(sent, ECHO_TOTAL);
	assert_int_equal(shutdown(c, SHUT_WR), 0);
	assert_true(read_to_eof(c, rbuf, sizeof(rbuf), &got, 5));
	assert_int_equal(got, 0);
	loop_until(&done_count, 1, 5);
	assert_int_equal(done_count, 1);
	assert_true(fd_closed(s));
	close(c);
}

static void
test_discard_tcp(void **state)
{
	(void)state;
	discard(TCP);
}

static void
test_discard_unix(void **state)
{
	(void)state;
	discard(UNIX);
}

/* A reset from the client ends chargen and echo without a fuss. */
static void
test_reset(void **state)
{
	struct linger	lg = { 1, 0 };
	int		c, s;

	(void)state;
	pair(TCP, &c, &s, 1);
	start(s, INETD_CHARGEN);
	loop_until(&done_count, 1, 0.1);
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	close(c);
	loop_until(&done_count, 1, 5);
	assert_int_equal(done_count, 1);
	assert_true(fd_closed(s));
}

static void
test_abort(void **state)
{
	struct internal_conn	*ic;
	size_t			 got;
	int			 c, s;

	(void)state;
	pair(TCP, &c, &s, 0);
	ic = start(s, INETD_ECHO);
	internal_stream_abort(ic);
	assert_true(fd_closed(s));
	assert_true(read_to_eof(c, rbuf, sizeof(rbuf), &got, 5));
	assert_int_equal(done_count, 0);
	close(c);
	/* An unknown kind is refused, the fd left alone. */
	pair(UNIX, &c, &s, 0);
	assert_null(internal_stream(base, s, INETD_EXTERNAL, done_cb,
	    &done_count));
	assert_false(fd_closed(s));
	close(s);
	close(c);
}

/* --- datagrams --- */

struct udp {
	int		 u_fd;
	int		 u_family;
	union addr_sa	 u_addr;	/* bound, with its port */
	socklen_t	 u_len;
};

static int
sa_set(union addr_sa *a, const char *host, int port)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, host, &a->sin.sin_addr) == 1) {
		a->sin.sin_family = AF_INET;
		a->sin.sin_port = htons((uint16_t)port);
		return sizeof(a->sin);
	}
	assert_int_equal(inet_pton(AF_INET6, host, &a->sin6.sin6_addr), 1);
	a->sin6.sin6_family = AF_INET6;
	a->sin6.sin6_port = htons((uint16_t)port);
	return sizeof(a->sin6);
}

static void
udp_open(struct udp *u, const char *host, int port, int dual)
{
	int	off = 0;

	u->u_len = (socklen_t)sa_set(&u->u_addr, host, port);
	u->u_family = u->u_addr.sa.sa_family;
	assert_int_not_equal(u->u_fd = socket(u->u_family, SOCK_DGRAM |
	    SOCK_CLOEXEC | SOCK_NONBLOCK, 0), -1);
	if (dual)
		assert_int_equal(setsockopt(u->u_fd, IPPROTO_IPV6,
		    IPV6_V6ONLY, &off, sizeof(off)), 0);
	assert_int_equal(bind(u->u_fd, &u->u_addr.sa, u->u_len), 0);
	assert_int_equal(getsockname(u->u_fd, &u->u_addr.sa, &u->u_len), 0);
}

static int
udp_port(const struct udp *u)
{
	return ntohs(u->u_family == AF_INET ? u->u_addr.sin.sin_port :
	    u->u_addr.sin6.sin6_port);
}

/* Send LEN bytes from client C to HOST:port of service S; serve them. */
static int
udp_serve(struct udp *s, struct udp *c, const char *host, const void *buf,
    size_t len, enum inetd_internal k, const uint16_t *ports, size_t n)
{
	union addr_sa	to;
	socklen_t	tolen;
	struct pollfd	pfd = { s->u_fd, POLLIN, 0 };

	tolen = (socklen_t)sa_set(&to, host, udp_port(s));
	assert_int_equal(sendto(c->u_fd, buf, len, 0, &to.sa, tolen),
	    (ssize_t)len);
	if (poll(&pfd, 1, 1000) != 1)
		return 0;
	return internal_dgram(s->u_fd, "test", k, ports, n);
}

/* The answer to C, if one comes within MS; its source in *FROM. */
static ssize_t
udp_answer(struct udp *c, unsigned char *buf, size_t len, int ms,
    union addr_sa *from)
{
	struct pollfd	pfd = { c->u_fd, POLLIN, 0 };
	socklen_t	fl = sizeof(*from);

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	return recvfrom(c->u_fd, buf, len, 0, &from->sa, &fl);
}

static void
assert_from(const union addr_sa *from, const char *host, int port)
{
	union addr_sa	want;

	sa_set(&want, host, port);
	assert_int_equal(from->sa.sa_family, want.sa.sa_family);
	if (want.sa.sa_family == AF_INET) {
		assert_int_equal(from->sin.sin_addr.s_addr,
		    want.sin.sin_addr.s_addr);
		assert_int_equal(from->sin.sin_port, want.sin.sin_port);
	} else {
		assert_memory_equal(&from->sin6.sin6_addr,
		    &want.sin6.sin6_addr, 16);
		assert_int_equal(from->sin6.sin6_port, want.sin6.sin6_port);
	}
}

/* Every service once from CLIENT_HOST to DST on a socket bound to
 * BIND_HOST: each answer whole, from DST. */
static void
dgram_all(const char *bind_host, int dual, const char *client_host,
    const char *dst)
{
	struct udp	s, c;
	union addr_sa	from;
	unsigned char	buf[2048];
	uint16_t	ports[2] = { 7, 9 };
	ssize_t		n;
	time_t		t0;
	int		port;

	udp_open(&s, bind_host, 0, dual);
	assert_int_equal(internal_dgram_setup(s.u_fd, s.u_family), 0);
	udp_open(&c, client_host, 0, 0);
	port = udp_port(&s);

	/* echo: the same bytes back, from the address they went to. */
	assert_int_equal(udp_serve(&s, &c, dst, "hello, echo", 11,
	    INETD_ECHO, ports, 2), 1);
	n = udp_answer(&c, buf, sizeof(buf), 1000, &from);
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "hello, echo", 11);
	assert_from(&from, dst, port);

	/* daytime: a 1-byte request, the whole line. */
	t0 = time(NULL);
	assert_int_equal(udp_serve(&s, &c, dst, "x", 1, INETD_DAYTIME,
	    ports, 2), 1);
	n = udp_answer(&c, buf, sizeof(buf), 1000, &from);
	assert_int_equal(n, 26);
	assert_true(daytime_ok((char *)buf, (size_t)n, t0, time(NULL)));
	assert_from(&from, dst, port);

	/* time: an empty request too (RFC 868). */
	t0 = time(NULL);
	assert_int_equal(udp_serve(&s, &c, dst, "", 0, INETD_TIME, ports, 2),
	    1);
	n = udp_answer(&c, buf, sizeof(buf), 1000, &from);
	assert_int_equal(n, 4);
	time_ok(buf, t0, time(NULL));
	assert_from(&from, dst, port);

	/* chargen: at most 512 bytes of whole pattern lines. */
	assert_int_equal(udp_serve(&s, &c, dst, "x", 1, INETD_CHARGEN,
	    ports, 2), 1);
	n = udp_answer(&c, buf, sizeof(buf), 1000, &from);
	assert_true(n > 0 && n <= 512 && n % LINELEN == 0);
	assert_true(chargen_ok(buf, (size_t)n, (size_t)(buf[0] - ' ')));
	assert_from(&from, dst, port);

	/* discard: read, nothing sent. */
	assert_int_equal(udp_serve(&s, &c, dst, "drop me", 7, INETD_DISCARD,
	    ports, 2), 1);
	assert_int_equal(udp_answer(&c, buf, sizeof(buf), 200, &from), -1);
	close(s.u_fd);
	close(c.u_fd);
}

static void
test_dgram_v4(void **state)
{
	(void)state;
	dgram_all("127.0.0.1", 0, "127.0.0.1", "127.0.0.1");
}

static void
test_dgram_v6(void **state)
{
	(void)state;
	dgram_all("::1", 0, "::1", "::1");
}

/* Bound to every address: the reply leaves from the one asked. */
static void
test_dgram_source_v4(void **state)
{
	(void)state;
	dgram_all("0.0.0.0", 0, "127.0.0.1", "127.0.0.2");
}

static void
test_dgram_source_dual(void **state)
{
	(void)state;
	dgram_all("::", 1, "127.0.0.1", "127.0.0.2");
	dgram_all("::", 1, "::1", "::1");
}

/* A source port in the loop table, or a well-known one: no answer. */
static void
loop_refused(const char *host)
{
	struct udp	s, c, low;
	union addr_sa	from;
	unsigned char	buf[128];
	uint16_t	ports[3];
	enum inetd_internal k;

	udp_open(&s, host, 0, 0);
	assert_int_equal(internal_dgram_setup(s.u_fd, s.u_family), 0);
	udp_open(&c, host, 0, 0);
	ports[0] = 7;
	ports[1] = (uint16_t)udp_port(&c);
	ports[2] = 19;
	for (k = INETD_ECHO; k <= INETD_TIME; k++) {
		assert_int_equal(udp_serve(&s, &c, host, "x", 1, k, ports, 3),
		    1);
		assert_int_equal(udp_answer(&c, buf, sizeof(buf), 100, &from),
		    -1);
	}
	/* The same client, its port not in the table: answered. */
	assert_int_equal(udp_serve(&s, &c, host, "x", 1, INETD_ECHO, ports,
	    1), 1);
	assert_int_equal(udp_answer(&c, buf, sizeof(buf), 1000, &from), 1);

	/* A privileged source port (OpenBSD's rule): needs root to bind. */
	if (geteuid() == 0) {
		low.u_fd = -1;
		udp_open(&low, host, 0, 0);
		close(low.u_fd);
		for (int p = 1000; p < 1024; p++) {
			low.u_len = (socklen_t)sa_set(&low.u_addr, host, p);
			assert_int_not_equal(low.u_fd = socket(low.u_family,
			    SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), -1);
			if (bind(low.u_fd, &low.u_addr.sa, low.u_len) == 0)
				break;
			close(low.u_fd);
			low.u_fd = -1;
		}
		if (low.u_fd != -1) {
			assert_int_equal(udp_serve(&s, &low, host, "x", 1,
			    INETD_ECHO, NULL, 0), 1);
			assert_int_equal(udp_answer(&low, buf, sizeof(buf),
			    100, &from), -1);
			close(low.u_fd);
		}
	}
	close(s.u_fd);
	close(c.u_fd);
}

static void
test_dgram_loop_v4(void **state)
{
	(void)state;
	loop_refused("127.0.0.1");
}

static void
test_dgram_loop_v6(void **state)
{
	(void)state;
	loop_refused("::1");
}

/*
 * A datagram to 127.255.255.255 (lo's broadcast address) is read and
 * not answered.  Linux delivers it on lo to a socket bound to 0.0.0.0
 * when the sender has SO_BROADCAST; where it is not delivered, there is
 * nothing to test.
 */
static void
broadcast(const char *bind_host, int dual)
{
	struct udp	s, c;
	union addr_sa	from;
	unsigned char	buf[128];
	uint16_t	ports[1] = { 7 };
	int		on = 1, got;
	enum inetd_internal k;

	udp_open(&s, bind_host, 0, dual);
	assert_int_equal(internal_dgram_setup(s.u_fd, s.u_family), 0);
	udp_open(&c, "127.0.0.1", 0, 0);
	assert_int_equal(setsockopt(c.u_fd, SOL_SOCKET, SO_BROADCAST, &on,
	    sizeof(on)), 0);
	for (k = INETD_ECHO; k <= INETD_TIME; k++) {
		got = udp_serve(&s, &c, "127.255.255.255", "x", 1, k, ports,
		    1);
		if (got == 0) {
			close(s.u_fd);
			close(c.u_fd);
			skip();		/* not delivered on lo here */
		}
		assert_int_equal(got, 1);
		assert_int_equal(udp_answer(&c, buf, sizeof(buf), 100, &from),
		    -1);
	}
	/* Still answered when asked directly. */
	assert_int_equal(udp_serve(&s, &c, "127.0.0.1", "x", 1, INETD_ECHO,
	    ports, 1), 1);
	assert_int_equal(udp_answer(&c, buf, sizeof(buf), 1000, &from), 1);
	close(s.u_fd);
	close(c.u_fd);
}

static void
test_dgram_broadcast_v4(void **state)
{
	(void)state;
	broadcast("0.0.0.0", 0);
}

static void
test_dgram_broadcast_dual(void **state)
{
	(void)state;
	broadcast("::", 1);
}

/* A flood is served DGRAM_BURST datagrams at a time, never all. */
static void
test_dgram_burst(void **state)
{
	struct udp	s, c;
	union addr_sa	to;
	socklen_t	tolen;
	int		i, n, total = 0;

	(void)state;
	udp_open(&s, "127.0.0.1", 0, 0);
	assert_int_equal(internal_dgram_setup(s.u_fd, s.u_family), 0);
	udp_open(&c, "127.0.0.1", 0, 0);
	tolen = (socklen_t)sa_set(&to, "127.0.0.1", udp_port(&s));
	for (i = 0; i < 100; i++)
		assert_int_equal(sendto(c.u_fd, "x", 1, 0, &to.sa, tolen), 1);
	n = internal_dgram(s.u_fd, "test", INETD_DISCARD, NULL, 0);
	assert_true(n > 0 && n < 100);
	for (total = n; (n = internal_dgram(s.u_fd, "test", INETD_DISCARD,
	    NULL, 0)) > 0; total += n)
		;
	assert_int_equal(n, 0);
	assert_int_equal(total, 100);
	assert_int_equal(internal_dgram(s.u_fd, "test", INETD_EXTERNAL,
	    NULL, 0), -1);
	close(s.u_fd);
	close(c.u_fd);
}

/* The loop table: every UDP port of the config, once, sorted. */
static void
test_udp_ports(void **state)
{
	struct listen_conf	 l1[2], l2[1], l3[1];
	struct svc_conf		 s1, s2, s3, *svcs[3] = { &s1, &s2, &s3 };
	struct conf		 cf;
	uint16_t		*ports;
	size_t			 n;
	char			 err[128];

	(void)state;
	memset(&cf, 0, sizeof(cf));
	memset(&s1, 0, sizeof(s1));
	memset(&s2, 0, sizeof(s2));
	memset(&s3, 0, sizeof(s3));
	assert_int_equal(addr_parse("127.0.0.1:5353", &l1[0].lc_addr, err,
	    sizeof(err)), 0);
	assert_int_equal(addr_parse("7", &l1[1].lc_addr, err, sizeof(err)), 0);
	assert_int_equal(addr_parse("[::1]:7", &l2[0].lc_addr, err,
	    sizeof(err)), 0);
	assert_int_equal(addr_parse("8080", &l3[0].lc_addr, err, sizeof(err)),
	    0);
	s1.sc_socktype = s2.sc_socktype = SOCK_DGRAM;
	s3.sc_socktype = SOCK_STREAM;		/* TCP: not in the table */
	s1.sc_listen = l1;
	s1.sc_nlisten = 2;
	s2.sc_listen = l2;
	s2.sc_nlisten = 1;
	s3.sc_listen = l3;
	s3.sc_nlisten = 1;
	cf.cf_svcs = svcs;
	cf.cf_nsvcs = 3;
	assert_int_equal(internal_udp_ports(&cf, &ports, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ports[0], 7);
	assert_int_equal(ports[1], 5353);
	free(ports);
	cf.cf_nsvcs = 0;
	assert_int_equal(internal_udp_ports(&cf, &ports, &n), 0);
	assert_int_equal(n, 0);
	assert_null(ports);
}

static int
setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	return base == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	event_base_free(base);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chargen_tcp),
		cmocka_unit_test(test_chargen_unix),
		cmocka_unit_test(test_echo_tcp),
		cmocka_unit_test(test_echo_unix),
		cmocka_unit_test(test_daytime_tcp),
		cmocka_unit_test(test_daytime_unix),
		cmocka_unit_test(test_daytime_linger),
		cmocka_unit_test(test_time_tcp),
		cmocka_unit_test(test_time_unix),
		cmocka_unit_test(test_discard_tcp),
		cmocka_unit_test(test_discard_unix),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_dgram_v4),
		cmocka_unit_test(test_dgram_v6),
		cmocka_unit_test(test_dgram_source_v4),
		cmocka_unit_test(test_dgram_source_dual),
		cmocka_unit_test(test_dgram_loop_v4),
		cmocka_unit_test(test_dgram_loop_v6),
		cmocka_unit_test(test_dgram_broadcast_v4),
		cmocka_unit_test(test_dgram_broadcast_dual),
		cmocka_unit_test(test_dgram_burst),
		cmocka_unit_test(test_udp_ports),
	};

	setenv("TZ", "UTC", 0);
	tzset();
	return cmocka_run_group_tests(tests, setup, teardown);
}
