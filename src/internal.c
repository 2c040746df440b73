/*
 * The internal services inetd has always served itself: echo (RFC 862),
 * discard (RFC 863), chargen (RFC 864), daytime (RFC 867) and time
 * (RFC 868), over TCP and UDP, on the master's event loop.  No process is
 * started for them.
 *
 * Stream: internal_stream() takes one accepted connection (after the
 * accept path's limits and access check) and owns its fd until it calls
 * the caller's done callback, always from the event loop, never from
 * within internal_stream().  Each connection is one struct internal_conn
 * with a read and a write event (level-triggered, persistent) and, for
 * daytime and time, a timer; at most RECV_BURST reads or SEND_BURST sends
 * per wakeup, so one busy client cannot starve the others, and nothing
 * runs unless the socket is ready: no busy loops.
 *	echo	reads only once what it read before is written (the kernel's
 *		buffers push back on the client); bytes a send refused wait
 *		in a heap buffer of at most one read (ECHO_BUFSZ), held only
 *		while the client is not reading.  Ends at the client's EOF,
 *		once everything is echoed, or at an error.
 *	discard	reads and drops until EOF or an error.
 *	chargen	writes RFC 864's pattern while the socket is writable; reads
 *		and drops what the client sends; ends at its EOF or an error.
 *		A client that never reads just fills its window: the write
 *		event then sleeps until it reads.
 *	daytime, time
 *		write their answer, then shut down writing (the client sees
 *		EOF at once) and close when the client closes, or after
 *		LINGER_SECS: closing with the client's unread bytes queued
 *		would send a reset that can destroy the answer in flight.
 *
 * Datagram: the master owns the UDP socket and calls internal_dgram()
 * when it is readable.  At most DGRAM_BURST datagrams per call, each
 * answered by at most one datagram, sent with MSG_DONTWAIT (a reply the
 * socket cannot take at once is dropped, as UDP may).  A datagram is not
 * answered when:
 *   - its destination was not one of our unicast addresses (broadcast,
 *     multicast): the reply would come from the wrong address, and one
 *     datagram would draw an answer from every host on the link;
 *   - its source cannot be a client: port 0, a source port below 1024
 *     or 2049 (NFS) as OpenBSD inetd refuses (every well-known UDP
 *     service on any host), or the port of any UDP service in the
 *     configuration, internal or not, as FreeBSD inetd refuses for its
 *     internal ones (another echo or chargen, here or elsewhere, would
 *     answer back forever); multicast, broadcast, 0.0.0.0/8 or
 *     unspecified source addresses.  Loopback sources are answered (the
 *     BSDs refuse 127/8; the kernel already drops 127/8 arriving from
 *     outside as martian).
 * The reply leaves from the address the request was sent to
 * (IP_PKTINFO / IPV6_PKTINFO, IP_RECVDSTADDR / IP_SENDSRCADDR on the
 * BSDs), so a multi-homed host or a 127.0.0.2 alias answers from the
 * right address; if the kernel gives no destination, nothing is sent.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "soad.h"

#if !defined(__linux__) && !defined(IP_PKTINFO)
#include <ifaddrs.h>
#include <net/if.h>
#endif

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0		/* SIGPIPE is ignored anyway */
#endif

#define RECV_BURST	16		/* reads per wakeup, then yield */
#define SEND_BURST	8		/* chargen sends per wakeup */
#define ECHO_BUFSZ	16384		/* echo: bytes per read */
#define LINGER_SECS	5		/* daytime, time: wait for the close */
#define DGRAM_BURST	32		/* datagrams per internal_dgram() */
#define DGRAM_MAX	65536		/* any UDP payload fits */
#define NFS_PORT	2049

/* RFC 864: 72-character lines over the 95 printable characters. */
#define CG_CHARS	95
#define CG_LINE		72
#define CG_LINELEN	(CG_LINE + 2)		/* with CRLF */
#define CG_CYCLE	(CG_CHARS * CG_LINELEN)	/* then it repeats */

/* 1900-01-01 to 1970-01-01 in seconds (RFC 868). */
#define TIME_OFFSET	2208988800LL

enum ic_state { IC_RUN, IC_LINGER };

struct internal_conn {
	int			 ic_fd;
	enum inetd_internal	 ic_kind;
	enum ic_state		 ic_state;
	struct event		*ic_rev;
	struct event		*ic_wev;
	struct event		*ic_timer;	/* daytime, time */
	void		       (*ic_done)(void *);
	void			*ic_arg;
	char			*ic_buf;	/* echo: unsent bytes, or NULL */
	size_t			 ic_off;	/* chargen: place in the cycle */
	size_t			 ic_len;	/* echo, daytime, time: unsent */
	unsigned char		 ic_rarmed;
	unsigned char		 ic_warmed;
	unsigned char		 ic_eof;	/* echo: client's EOF read */
	char			 ic_answer[64];	/* daytime, time */
};

/* Two cycles back to back: any CG_CYCLE bytes from any offset. */
static char		 cg_pattern[2 * CG_CYCLE];
static int		 cg_ready;
static char		 scratch[DGRAM_MAX];	/* one thread: shared */
static size_t		 cg_dgram_line;		/* next UDP chargen line */

static void	 ic_end(struct internal_conn *);

static int
io_again(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

static void
cg_init(void)
{
	size_t	line, i;
	char	*p = cg_pattern;

	if (cg_ready)
		return;
	for (line = 0; line < CG_CHARS; line++) {
		for (i = 0; i < CG_LINE; i++)
			*p++ = (char)(' ' + (line + i) % CG_CHARS);
		*p++ = '\r';
		*p++ = '\n';
	}
	memcpy(cg_pattern + CG_CYCLE, cg_pattern, CG_CYCLE);
	cg_ready = 1;
}

/* The precise wall clock: time(3) may read a coarse clock a tick behind,
 * which near a second's edge answers with the second before. */
static time_t
wall_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/*
 * RFC 867 leaves the format open; this is ctime(3)'s, in local time, as
 * the BSD inetds send it ("Mon Nov 30 18:11:00 2026\r\n"), with the
 * names spelled out here so no locale can change them.
 */
static size_t
daytime_line(time_t now, char *buf, size_t len)
{
	static const char	*days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char	*months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm		 tm;
	int			 n;

	if (localtime_r(&now, &tm) == NULL || tm.tm_wday < 0 ||
	    tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11)
		return 0;
	n = snprintf(buf, len, "%s %s %2d %02d:%02d:%02d %d\r\n",
	    days[tm.tm_wday], months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* RFC 868: seconds since 1900 in 32 bits, big-endian; wraps in 2036. */
static size_t
time_answer(time_t now, char *buf)
{
	uint32_t	v = (uint32_t)((int64_t)now + TIME_OFFSET);

	buf[0] = (char)(v >> 24);
	buf[1] = (char)(v >> 16);
	buf[2] = (char)(v >> 8);
	buf[3] = (char)v;
	return 4;
}

/* Read, write, both or neither; -1 (connection ended) if it cannot. */
static int
ic_wait(struct internal_conn *ic, short what)
{
	int	rd = (what & EV_READ) != 0, wr = (what & EV_WRITE) != 0;

	if (rd != ic->ic_rarmed) {
		if (rd && event_add(ic->ic_rev, NULL) == -1)
			goto fail;
		if (!rd)
			(void)event_del(ic->ic_rev);
		ic->ic_rarmed = rd;
	}
	if (wr != ic->ic_warmed) {
		if (wr && event_add(ic->ic_wev, NULL) == -1)
			goto fail;
		if (!wr)
			(void)event_del(ic->ic_wev);
		ic->ic_warmed = wr;
	}
	return 0;
fail:
	log_warnx("internal: cannot watch a connection");
	ic_end(ic);
	return -1;
}

/* Read and drop; 1 while the connection goes on, 0 at EOF or error. */
static int
drain(int fd)
{
	ssize_t	n;
	int	i;

	for (i = 0; i < RECV_BURST; i++) {
		n = recv(fd, scratch, sizeof(scratch), 0);
		if (n == 0)
			return 0;
		if (n == -1)
			return io_again() ? 1 : 0;
	}
	return 1;
}

/* Echo: send what is pending; 1 if all of it went. */
static int
echo_flush(struct internal_conn *ic, int *err)
{
	ssize_t	n;

	*err = 0;
	if (ic->ic_len == 0)
		return 1;
	n = send(ic->ic_fd, ic->ic_buf + ic->ic_off, ic->ic_len, MSG_NOSIGNAL);
	if (n == -1) {
		*err = !io_again();
		return 0;
	}
	ic->ic_off += (size_t)n;
	ic->ic_len -= (size_t)n;
	if (ic->ic_len > 0)
		return 0;
	free(ic->ic_buf);
	ic->ic_buf = NULL;
	ic->ic_off = 0;
	return 1;
}

/*
 * Echo: move bytes until the client has nothing more to say or stops
 * reading; then wait for whichever stopped us.
 */
static void
echo_run(struct internal_conn *ic)
{
	ssize_t	n, w;
	int	i, err;

	if (!echo_flush(ic, &err)) {
		if (err)
			ic_end(ic);
		else
			(void)ic_wait(ic, EV_WRITE);
		return;
	}
	if (ic->ic_eof) {
		ic_end(ic);
		return;
	}
	for (i = 0; i < RECV_BURST; i++) {
		n = recv(ic->ic_fd, scratch, ECHO_BUFSZ, 0);
		if (n == 0) {
			ic_end(ic);
			return;
		}
		if (n == -1) {
			if (io_again())
				break;
			ic_end(ic);
			return;
		}
		w = send(ic->ic_fd, scratch, (size_t)n, MSG_NOSIGNAL);
		if (w == -1) {
			if (!io_again()) {
				ic_end(ic);
				return;
			}
			w = 0;
		}
		if (w < n) {
			if ((ic->ic_buf = malloc((size_t)(n - w))) == NULL) {
				log_warn("internal: echo");
				ic_end(ic);
				return;
			}
			memcpy(ic->ic_buf, scratch + w, (size_t)(n - w));
			ic->ic_off = 0;
			ic->ic_len = (size_t)(n - w);
			(void)ic_wait(ic, EV_WRITE);
			return;
		}
	}
	(void)ic_wait(ic, EV_READ);
}

static void
chargen_write(struct internal_conn *ic)
{
	ssize_t	n;
	int	i;

	for (i = 0; i < SEND_BURST; i++) {
		n = send(ic->ic_fd, cg_pattern + ic->ic_off, CG_CYCLE,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (!io_again())
				ic_end(ic);
			return;
		}
		ic->ic_off = (ic->ic_off + (size_t)n) % CG_CYCLE;
	}
}

/* Daytime, time: the answer is out; wait for the client to close. */
static void
linger_start(struct internal_conn *ic)
{
	struct timeval	tv = { LINGER_SECS, 0 };

	ic->ic_state = IC_LINGER;
	(void)shutdown(ic->ic_fd, SHUT_WR);
	if (ic_wait(ic, EV_READ) == -1)
		return;
	if (evtimer_add(ic->ic_timer, &tv) == -1)
		ic_end(ic);
}

static void
answer_write(struct internal_conn *ic)
{
	ssize_t	n;

	n = send(ic->ic_fd, ic->ic_answer + ic->ic_off, ic->ic_len,
	    MSG_NOSIGNAL);
	if (n == -1) {
		if (!io_again())
			ic_end(ic);
		return;
	}
	ic->ic_off += (size_t)n;
	ic->ic_len -= (size_t)n;
	if (ic->ic_len == 0 && ic_wait(ic, 0) == 0)
		linger_start(ic);
}

static void
ic_readable(evutil_socket_t fd, short what, void *arg)
{
	struct internal_conn	*ic = arg;

	(void)fd;
	(void)what;
	if (ic->ic_kind == INETD_ECHO)
		echo_run(ic);
	else if (!drain(ic->ic_fd))
		ic_end(ic);
}

static void
ic_writable(evutil_socket_t fd, short what, void *arg)
{
	struct internal_conn	*ic = arg;

	(void)fd;
	(void)what;
	switch (ic->ic_kind) {
	case INETD_ECHO:
		echo_run(ic);
		break;
	case INETD_CHARGEN:
		chargen_write(ic);
		break;
	default:
		answer_write(ic);
		break;
	}
}

static void
ic_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ic_end(arg);
}

static void
ic_free(struct internal_conn *ic)
{
	if (ic->ic_rev != NULL)
		event_free(ic->ic_rev);
	if (ic->ic_wev != NULL)
		event_free(ic->ic_wev);
	if (ic->ic_timer != NULL)
		event_free(ic->ic_timer);
	free(ic->ic_buf);
	close(ic->ic_fd);
	free(ic);
}

/* The connection is over: fd closed, then the caller hears it once. */
static void
ic_end(struct internal_conn *ic)
{
	void	(*done)(void *) = ic->ic_done;
	void	*arg = ic->ic_arg;

	ic_free(ic);
	if (done != NULL)
		done(arg);
}

/*
 * Serve FD (a connected stream socket, TCP or UNIX) as the internal
 * service KIND.  From here on the connection owns FD and calls DONE(ARG)
 * once it has closed it, always from the event loop.  NULL if it cannot
 * start, with FD still the caller's.
 */
struct internal_conn *
internal_stream(struct event_base *base, int fd, enum inetd_internal kind,
    void (*done)(void *), void *arg)
{
	struct internal_conn	*ic;
	int			 fl;
	short			 what = EV_READ;

	if (kind == INETD_EXTERNAL || kind > INETD_TIME)
		return NULL;
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    ((fl & O_NONBLOCK) == 0 &&
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1))
		return NULL;
	if ((ic = calloc(1, sizeof(*ic))) == NULL)
		return NULL;
	ic->ic_fd = fd;
	ic->ic_kind = kind;
	ic->ic_done = done;
	ic->ic_arg = arg;
	ic->ic_rev = event_new(base, fd, EV_READ | EV_PERSIST, ic_readable, ic);
	ic->ic_wev = event_new(base, fd, EV_WRITE | EV_PERSIST, ic_writable,
	    ic);
	if (ic->ic_rev == NULL || ic->ic_wev == NULL)
		goto fail;
	switch (kind) {
	case INETD_CHARGEN:
		cg_init();
		what = EV_READ | EV_WRITE;
		break;
	case INETD_DAYTIME:
	case INETD_TIME:
		ic->ic_len = kind == INETD_TIME ?
		    time_answer(wall_now(), ic->ic_answer) :
		    daytime_line(wall_now(), ic->ic_answer,
		    sizeof(ic->ic_answer));
		if (ic->ic_len == 0 || (ic->ic_timer = evtimer_new(base,
		    ic_timeout, ic)) == NULL)
			goto fail;
		what = EV_WRITE;
		break;
	default:
		break;
	}
	if ((what & EV_READ) && event_add(ic->ic_rev, NULL) == -1)
		goto fail;
	ic->ic_rarmed = (what & EV_READ) != 0;
	if ((what & EV_WRITE) && event_add(ic->ic_wev, NULL) == -1)
		goto fail;
	ic->ic_warmed = (what & EV_WRITE) != 0;
	return ic;
fail:
	ic->ic_fd = -1;		/* not ours to close */
	ic_free(ic);
	return NULL;
}

/* Abort (at exit): the fd is closed now and DONE is not called. */
void
internal_stream_abort(struct internal_conn *ic)
{
	ic_free(ic);
}

/*
 * Ask the kernel for each datagram's destination address, so the answer
 * can leave from it.  FD: a bound UDP socket; FAMILY is used only if
 * the socket cannot say its own (a "PORT" listener may have fallen back
 * to IPv4 on a kernel without IPv6).  On an IPv6 socket that also takes
 * IPv4 (dual stack), IPv4's option is asked for too where it exists.
 */
int
internal_dgram_setup(int fd, int family)
{
	union addr_sa	self;
	socklen_t	len = sizeof(self);
	int		on = 1;

	if (getsockname(fd, &self.sa, &len) == 0 &&
	    (self.sa.sa_family == AF_INET || self.sa.sa_family == AF_INET6))
		family = self.sa.sa_family;
	if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
		    sizeof(on)) == -1)
			return -1;
#ifdef IP_PKTINFO
		(void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
#endif
		return 0;
	}
	if (family != AF_INET) {
		errno = EAFNOSUPPORT;
		return -1;
	}
#if defined(IP_PKTINFO)
	return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
#elif defined(IP_RECVDSTADDR)
	return setsockopt(fd, IPPROTO_IP, IP_RECVDSTADDR, &on, sizeof(on));
#else
	errno = ENOPROTOOPT;
	return -1;
#endif
}

/* Where a datagram was sent, as the kernel says. */
struct dgram_dst {
	int			 dd_v4;		/* dd_in set */
	int			 dd_v6;		/* dd_in6 set */
	int			 dd_notlocal;	/* not to a unicast address */
	struct in_addr		 dd_in;
	struct in6_addr		 dd_in6;
	unsigned int		 dd_ifindex;
};

union dgram_cbuf {
	struct cmsghdr		 cb_align;
	char			 cb_buf[256];
};

static int
v4_bad_dst(struct in_addr a)
{
	uint32_t	h = ntohl(a.s_addr);

	return IN_MULTICAST(h) || h == INADDR_BROADCAST || h == INADDR_ANY;
}

#if !defined(__linux__) && !defined(IP_PKTINFO)
/* Without the kernel's word: is A some interface's broadcast address? */
static int
v4_is_ifbroadcast(struct in_addr a)
{
	struct ifaddrs		*ifap, *ifa;
	struct sockaddr_in	*sin;
	int			 found = 0;

	if (getifaddrs(&ifap) == -1)
		return 1;	/* cannot tell: do not answer */
	for (ifa = ifap; ifa != NULL && !found; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL ||
		    ifa->ifa_addr->sa_family != AF_INET ||
		    (ifa->ifa_flags & IFF_BROADCAST) == 0 ||
		    ifa->ifa_broadaddr == NULL)
			continue;
		sin = (struct sockaddr_in *)(void *)ifa->ifa_broadaddr;
		found = sin->sin_addr.s_addr == a.s_addr;
	}
	freeifaddrs(ifap);
	return found;
}
#endif

static void
dgram_parse(struct msghdr *msg, struct dgram_dst *dd)
{
	struct cmsghdr		*cm;
	struct in6_pktinfo	 p6;
#ifdef IP_PKTINFO
	struct in_pktinfo	 p4;
#endif

	memset(dd, 0, sizeof(*dd));
	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(p6))) {
			memcpy(&p6, CMSG_DATA(cm), sizeof(p6));
			dd->dd_in6 = p6.ipi6_addr;
			dd->dd_ifindex = p6.ipi6_ifindex;
			dd->dd_v6 = 1;
		}
#ifdef IP_PKTINFO
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(p4))) {
			memcpy(&p4, CMSG_DATA(cm), sizeof(p4));
			dd->dd_in = p4.ipi_addr;
			dd->dd_v4 = 1;
			/*
			 * ipi_addr is the header's destination, ipi_spec_dst
			 * the local address the kernel would answer from:
			 * they differ only when the datagram was not sent
			 * to one of our unicast addresses (a broadcast).
			 */
			if (p4.ipi_addr.s_addr != p4.ipi_spec_dst.s_addr)
				dd->dd_notlocal = 1;
		}
#elif defined(IP_RECVDSTADDR)
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_RECVDSTADDR &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_addr))) {
			memcpy(&dd->dd_in, CMSG_DATA(cm), sizeof(dd->dd_in));
			dd->dd_v4 = 1;
		}
#endif
	}
#ifdef MSG_BCAST
	if (msg->msg_flags & MSG_BCAST)
		dd->dd_notlocal = 1;
#endif
#ifdef MSG_MCAST
	if (msg->msg_flags & MSG_MCAST)
		dd->dd_notlocal = 1;
#endif
	/* An IPv4 datagram on a dual-stack socket: its mapped address. */
	if (dd->dd_v6 && IN6_IS_ADDR_V4MAPPED(&dd->dd_in6) && !dd->dd_v4) {
		memcpy(&dd->dd_in, dd->dd_in6.s6_addr + 12, 4);
		dd->dd_v4 = 1;
	}
}

/* Not to be answered: a broadcast or multicast destination. */
static int
dgram_bad_dst(const struct dgram_dst *dd, int mapped_or_v4)
{
	if (dd->dd_notlocal)
		return 1;
	if (mapped_or_v4) {
		if (!dd->dd_v4 || v4_bad_dst(dd->dd_in))
			return 1;
#if !defined(__linux__) && !defined(IP_PKTINFO)
		if (v4_is_ifbroadcast(dd->dd_in))
			return 1;
#endif
		return 0;
	}
	return !dd->dd_v6 || IN6_IS_ADDR_MULTICAST(&dd->dd_in6) ||
	    IN6_IS_ADDR_UNSPECIFIED(&dd->dd_in6);
}

static int
v4_bad_src(struct in_addr a)
{
	uint32_t	h = ntohl(a.s_addr);

	/* Multicast, 0.0.0.0/8, and 240.0.0.0/4 with the broadcast. */
	return IN_MULTICAST(h) || (h >> 24) == 0 ||
	    (h & 0xf0000000U) == 0xf0000000U;
}

/*
 * Why a datagram from PEER must not be answered, or NULL.  PORTS: the
 * UDP ports of every service in the configuration, host order.
 */
static const char *
dgram_bad_src(const union addr_sa *peer, const uint16_t *ports, size_t n,
    char *why, size_t len)
{
	struct in_addr	 in;
	uint16_t	 port;
	size_t		 i;

	if (peer->sa.sa_family == AF_INET) {
		port = ntohs(peer->sin.sin_port);
		if (v4_bad_src(peer->sin.sin_addr))
			return "not a unicast source address";
	} else if (peer->sa.sa_family == AF_INET6) {
		port = ntohs(peer->sin6.sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&peer->sin6.sin6_addr)) {
			memcpy(&in, peer->sin6.sin6_addr.s6_addr + 12, 4);
			if (v4_bad_src(in))
				return "not a unicast source address";
		} else if (IN6_IS_ADDR_MULTICAST(&peer->sin6.sin6_addr) ||
		    IN6_IS_ADDR_UNSPECIFIED(&peer->sin6.sin6_addr))
			return "not a unicast source address";
	} else
		return "not an IP source";
	if (port == 0 || port < IPPORT_RESERVED || port == NFS_PORT) {
		snprintf(why, len, "source port %u is a service port "
		    "(possible loop)", port);
		return why;
	}
	for (i = 0; i < n; i++)
		if (ports[i] == port) {
			snprintf(why, len, "source port %u is a UDP service "
			    "here (possible loop)", port);
			return why;
		}
	return NULL;
}

/* Refusals: one line a second at most, then a count. */
static void
dgram_refused(const char *name, const union addr_sa *peer, const char *why)
{
	static time_t	 last;
	static long	 quiet;
	time_t		 now = time(NULL);
	char		 p[INET6_ADDRSTRLEN + 16];

	if (now == last) {
		quiet++;
		return;
	}
	last = now;
	addr_peer_fmt(&peer->sa, p, sizeof(p));
	if (quiet > 0)
		log_warnx("%s: refused datagram from %s: %s (and %ld more not "
		    "logged)", name, p, why, quiet);
	else
		log_warnx("%s: refused datagram from %s: %s", name, p, why);
	quiet = 0;
}

/* Send the answer from the address the request came to, or not at all. */
static void
dgram_reply(int fd, const union addr_sa *peer, socklen_t peerlen,
    const struct dgram_dst *dd, int v4, const void *buf, size_t len)
{
	union dgram_cbuf	 cb;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct cmsghdr		*cm;
	struct in6_pktinfo	 p6;
#ifdef IP_PKTINFO
	struct in_pktinfo	 p4;
#endif

	memset(&cb, 0, sizeof(cb));
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	msg.msg_name = (void *)(uintptr_t)peer;
	msg.msg_namelen = peerlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cb.cb_buf;
	cm = (struct cmsghdr *)(void *)cb.cb_buf;
	if (v4 && peer->sa.sa_family == AF_INET) {
#if defined(IP_PKTINFO)
		memset(&p4, 0, sizeof(p4));
		p4.ipi_spec_dst = dd->dd_in;	/* routing picks the way */
		msg.msg_controllen = CMSG_SPACE(sizeof(p4));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(p4));
		memcpy(CMSG_DATA(cm), &p4, sizeof(p4));
#elif defined(IP_SENDSRCADDR)
		msg.msg_controllen = CMSG_SPACE(sizeof(struct in_addr));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_SENDSRCADDR;
		cm->cmsg_len = CMSG_LEN(sizeof(struct in_addr));
		memcpy(CMSG_DATA(cm), &dd->dd_in, sizeof(struct in_addr));
#else
		return;
#endif
	} else {
		/* IPv6, or IPv4 mapped on a dual-stack socket. */
		memset(&p6, 0, sizeof(p6));
		if (v4) {
			p6.ipi6_addr.s6_addr[10] = p6.ipi6_addr.s6_addr[11] =
			    0xff;
			memcpy(p6.ipi6_addr.s6_addr + 12, &dd->dd_in, 4);
		} else {
			p6.ipi6_addr = dd->dd_in6;
			/* A link-local address means one link. */
			if (IN6_IS_ADDR_LINKLOCAL(&dd->dd_in6))
				p6.ipi6_ifindex = dd->dd_ifindex;
		}
		msg.msg_controllen = CMSG_SPACE(sizeof(p6));
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(p6));
		memcpy(CMSG_DATA(cm), &p6, sizeof(p6));
	}
	if (sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == -1 &&
	    !io_again())
		log_debug("internal: reply: %s", strerror(errno));
}

/*
 * FD, a UDP socket of the internal service KIND named NAME, is readable:
 * read up to DGRAM_BURST datagrams and answer each at most once.  PORTS
 * (N of them, host byte order): every UDP port the configuration serves,
 * internal or not, for the loop check.  Returns the datagrams read.
 */
int
internal_dgram(int fd, const char *name, enum inetd_internal kind,
    const uint16_t *ports, size_t n)
{
	union addr_sa		 peer;
	union dgram_cbuf	 cb;
	struct dgram_dst	 dd;
	struct msghdr		 msg;
	struct iovec		 iov;
	const char		*bad;
	char			 why[96], answer[CG_LINELEN > 64 ?
				    CG_LINELEN : 64];
	const void		*out;
	size_t			 outlen;
	ssize_t			 got;
	int			 i, v4;

	if (kind == INETD_EXTERNAL || kind > INETD_TIME) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < DGRAM_BURST; i++) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = scratch;
		iov.iov_len = sizeof(scratch);
		msg.msg_name = &peer;
		msg.msg_namelen = sizeof(peer);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cb.cb_buf;
		msg.msg_controllen = sizeof(cb.cb_buf);
		got = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (got == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			continue;	/* ICMP errors of earlier replies */
		}
		if (kind == INETD_DISCARD)
			continue;
		dgram_parse(&msg, &dd);
		v4 = peer.sa.sa_family == AF_INET ||
		    (peer.sa.sa_family == AF_INET6 &&
		    IN6_IS_ADDR_V4MAPPED(&peer.sin6.sin6_addr));
		if (dgram_bad_dst(&dd, v4))
			continue;	/* broadcasts are normal: not logged */
		if ((bad = dgram_bad_src(&peer, ports, n, why,
		    sizeof(why))) != NULL) {
			dgram_refused(name, &peer, bad);
			continue;
		}
		switch (kind) {
		case INETD_ECHO:
			out = scratch;
			outlen = (size_t)got;
			break;
		case INETD_CHARGEN:
			/* One line, the next one each time (as the BSDs). */
			cg_init();
			out = cg_pattern + cg_dgram_line * CG_LINELEN;
			outlen = CG_LINELEN;
			cg_dgram_line = (cg_dgram_line + 1) % CG_CHARS;
			break;
		case INETD_DAYTIME:
			out = answer;
			if ((outlen = daytime_line(wall_now(), answer,
			    sizeof(answer))) == 0)
				continue;
			break;
		case INETD_TIME:
			out = answer;
			outlen = time_answer(wall_now(), answer);
			break;
		default:
			continue;
		}
		dgram_reply(fd, &peer, msg.msg_namelen, &dd, v4, out, outlen);
	}
	return i;
}

static int
port_cmp(const void *a, const void *b)
{
	uint16_t	x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The loop table for internal_dgram(): the UDP port of every listen
 * address of every datagram service in CF, internal or not, sorted and
 * without repeats, in *PORTS (free(3) it; NULL when there are none).
 * -1 if out of memory.
 */
int
internal_udp_ports(const struct conf *cf, uint16_t **ports, size_t *n)
{
	const struct svc_conf	*sc;
	uint16_t		*p = NULL;
	size_t			 i, j, k = 0, cap = 0;
	int			 port;

	for (i = 0; i < cf->cf_nsvcs; i++) {
		sc = cf->cf_svcs[i];
		if (sc->sc_socktype == SOCK_DGRAM)
			cap += sc->sc_nlisten;
	}
	if (cap > 0 && (p = reallocarray(NULL, cap, sizeof(*p))) == NULL)
		return -1;
	for (i = 0; i < cf->cf_nsvcs; i++) {
		sc = cf->cf_svcs[i];
		if (sc->sc_socktype != SOCK_DGRAM)
			continue;
		for (j = 0; j < sc->sc_nlisten; j++)
			if ((port = addr_port(&sc->sc_listen[j].lc_addr)) > 0)
				p[k++] = (uint16_t)port;
	}
	if (k > 1) {
		qsort(p, k, sizeof(*p), port_cmp);
		for (i = 1, j = 1; i < k; i++)
			if (p[i] != p[j - 1])
				p[j++] = p[i];
		k = j;
	}
	if (k == 0) {
		free(p);
		p = NULL;
	}
	*ports = p;
	*n = k;
	return 0;
}
