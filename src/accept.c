/*
 * The master's accept path, for every mode in which soad sees each
 * connection itself (proxy now; nowait and internal services reuse it):
 *
 *	accept -> limits -> tcp_wrappers check (wrap.c, outside the master)
 *	    -> the mode's handler (proxy_allowed, nowait_start,
 *	       internal_allowed)
 *
 * A connection is counted from accept to conn_close(): against the
 * service's max-connections (at the limit the master stops accepting and
 * later clients wait in the kernel's backlog), per client address against
 * max-connections-per-source (over it: closed at once), and, unless it
 * comes from an idle-ignore source, as activity that keeps the service up.
 * Nothing here blocks: the check answers through a callback, and when
 * the process runs out of fds accepting pauses instead of spinning.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "soad.h"

#define ACCEPT_BURST	64	/* accepts per readiness callback */
#define PAUSE_MS	250	/* out of fds: accepting pauses this long */
#define LOG_RATE	20	/* refusal lines a second, sustained */
#define LOG_BURST	100

static struct event_base	*acc_base;
static TAILQ_HEAD(, conn)	 acc_conns = TAILQ_HEAD_INITIALIZER(acc_conns);
static struct event		*pause_ev;
static struct listener	       **paused;
static size_t			 npaused, pausedsize;
static int			 pause_logged;
static uint16_t			*udp_ports;	/* of every UDP service */
static size_t			 nudp_ports;
static struct event		*kill_ev;
static struct {
	double		 tokens;
	struct timespec	 last;
	long		 dropped;
	struct event	*ev;
} lim;

static void	accept_cb(evutil_socket_t, short, void *);
static int	at_limit(const struct service *);
static void	wrap_done(void *, enum wrap_verdict);

static void
pause_add(struct listener *ls)
{
	struct listener	**n;
	size_t		  i, size;

	for (i = 0; i < npaused; i++)
		if (paused[i] == ls)
			return;
	if (npaused == pausedsize) {
		size = pausedsize ? pausedsize * 2 : 16;
		if ((n = reallocarray(paused, size, sizeof(*n))) == NULL)
			fatal("reallocarray");
		paused = n;
		pausedsize = size;
	}
	paused[npaused++] = ls;
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*ls;
	size_t		 i;

	(void)fd;
	(void)what;
	(void)arg;
	for (i = 0; i < npaused; i++) {
		ls = paused[i];
		if (ls != NULL && svc_can_accept(ls->ls_svc) &&
		    event_add(ls->ls_ev, NULL) == -1)
			fatalx("cannot watch a listener");
	}
	npaused = 0;
}

static void
summary_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (lim.dropped > 0)
		log_warnx("%ld more refusal and limit lines not logged (more "
		    "than %d a second)", lim.dropped, LOG_RATE);
	lim.dropped = 0;
}

void
accept_init(struct event_base *base)
{
	acc_base = base;
	pause_ev = evtimer_new(base, resume_cb, NULL);
	lim.ev = evtimer_new(base, summary_cb, NULL);
	if (pause_ev == NULL || lim.ev == NULL)
		fatal("evtimer_new");
	lim.tokens = LOG_BURST;
	clock_gettime(CLOCK_MONOTONIC, &lim.last);
}

/*
 * A datagram socket of a nowait or internal service is readable.  An
 * internal service answers at once; a nowait one gets a process with
 * the socket on fds 0-2, and the socket is not watched again until that
 * process exits, so one datagram never starts two of them.
 */
static void
dgram_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*ls = arg;
	struct service	*sv = ls->ls_svc;
	struct conn	*cn;

	(void)what;
	if (!svc_can_accept(sv) || sv->sv_acc->sa_full)
		return;
	if (sv->sv_conf->sc_internal != INETD_EXTERNAL) {
		(void)internal_dgram((int)fd, svc_name(sv),
		    (enum inetd_internal)sv->sv_conf->sc_internal, udp_ports,
		    nudp_ports);
		return;
	}
	if (sv->sv_conf->sc_accept->ac_rate > 0 &&
	    svc_rate_over(sv, sv->sv_conf->sc_accept->ac_rate))
		return;
	if ((cn = calloc(1, sizeof(*cn))) == NULL)
		return;
	TAILQ_INSERT_TAIL(&acc_conns, cn, cn_entry);
	cn->cn_svc = sv;
	cn->cn_fd = cn->cn_out = -1;
	cn->cn_lfd = (int)fd;
	cn->cn_dgram = ls;
	cn->cn_ignored = 1;
	cn->cn_counted = 1;
	clock_gettime(CLOCK_MONOTONIC, &cn->cn_since);
	sv->sv_acc->sa_open++;
	if (at_limit(sv)) {
		sv->sv_acc->sa_full = 1;
		accept_watch(sv, 0);
	}
	(void)event_del(ls->ls_ev);
	ls->ls_busy = 1;
	nowait_start(cn);
}

/*
 * Accepted TCP connections: a client that vanished must not hold the
 * service up (keepalive probes after 5 idle minutes, given up after 2
 * more), and small writes go out at once.
 */
static void
tcp_options(int fd)
{
	int	on = 1, idle = 300, intvl = 30, cnt = 4;

	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
#ifdef TCP_KEEPIDLE
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
#else
	(void)idle;
	(void)intvl;
	(void)cnt;
#endif
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* A public listener: non-blocking (only the master accepts on it). */
int
accept_listen(struct listener *ls)
{
	int	dgram = ls->ls_svc->sv_conf->sc_socktype == SOCK_DGRAM;

	if (evutil_make_socket_nonblocking(ls->ls_fd) == -1)
		return -1;
#ifdef __linux__
	/* Set once here: accepted sockets inherit them on Linux, five
	 * system calls a connection saved. */
	if (!dgram && ls->ls_conf->lc_addr.ad_family != AF_UNIX)
		tcp_options(ls->ls_fd);
#endif
	if (dgram && ls->ls_svc->sv_conf->sc_internal != INETD_EXTERNAL &&
	    internal_dgram_setup(ls->ls_fd,
	    ls->ls_conf->lc_addr.ad_family) == -1)
		return -1;
	ls->ls_ev = event_new(acc_base, ls->ls_fd, EV_READ | EV_PERSIST,
	    dgram ? dgram_cb : accept_cb, ls);
	return ls->ls_ev == NULL ? -1 : 0;
}

void
accept_watch(struct service *sv, int on)
{
	struct listener	*ls;
	size_t		 i, j;

	on = on && !sv->sv_acc->sa_full;
	for (i = 0; i < sv->sv_acc->sa_npub; i++) {
		ls = &sv->sv_acc->sa_pub[i];
		if (ls->ls_ev == NULL)
			continue;
		for (j = 0; j < npaused; j++)
			if (paused[j] == ls)
				paused[j] = NULL;
		if (!on || ls->ls_busy)
			(void)event_del(ls->ls_ev);
		else if (evtimer_pending(pause_ev, NULL))
			pause_add(ls);	/* out of fds: armed when it ends */
		else if (event_add(ls->ls_ev, NULL) == -1)
			fatalx("%s: cannot watch a listener", svc_name(sv));
	}
}

/*
 * Refusals are logged one line each until a flood: LOG_RATE a second
 * with bursts of LOG_BURST, then one summary a second.
 */
void
accept_log_limited(const char *fmt, ...)
{
	struct timespec	 now;
	struct timeval	 tv = { 1, 0 };
	va_list		 ap;
	char		 buf[512];

	clock_gettime(CLOCK_MONOTONIC, &now);
	lim.tokens += (double)(now.tv_sec - lim.last.tv_sec) * LOG_RATE +
	    (double)(now.tv_nsec - lim.last.tv_nsec) / 1e9 * LOG_RATE;
	if (lim.tokens > LOG_BURST)
		lim.tokens = LOG_BURST;
	lim.last = now;
	if (lim.tokens < 1) {
		if (lim.dropped++ == 0)
			(void)evtimer_add(lim.ev, &tv);
		return;
	}
	lim.tokens -= 1;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s", buf);
}

/* The client as "ADDR:PORT" ("[V6]:PORT"), or "local" for UNIX. */
void
accept_log_peer(const struct conn *cn, char *buf, size_t len)
{
	addr_peer_fmt(&cn->cn_peer.sa, buf, len);
}

static int
is_ignored(const struct conn *cn)
{
	const struct accept_conf	*ac = cn->cn_svc->sv_conf->sc_accept;
	size_t			 i;

	for (i = 0; i < ac->ac_nignore; i++)
		if (addr_mask_match(&ac->ac_ignore[i], &cn->cn_peer.sa))
			return 1;
	return 0;
}

/* max-connections (proxy) or max-children (nowait; 0: no limit). */
static int
at_limit(const struct service *sv)
{
	long	max = sv->sv_conf->sc_accept->ac_maxconn;

	return max > 0 && sv->sv_acc->sa_open >= max;
}

static void
internal_done(void *arg)
{
	struct conn	*cn = arg;

	cn->cn_ic = NULL;	/* it closed the connection */
	cn->cn_fd = -1;
	conn_close(cn);
}

/* An internal service: the master serves the connection itself. */
static void
internal_allowed(struct conn *cn)
{
	cn->cn_ic = internal_stream(acc_base, cn->cn_fd,
	    (enum inetd_internal)cn->cn_svc->sv_conf->sc_internal,
	    internal_done, cn);
	if (cn->cn_ic == NULL) {
		conn_refuse(cn, "cannot serve it");
		return;
	}
	cn->cn_fd = -1;		/* internal.c's now */
}

/*
 * The mode's part, once the connection is allowed.  Only now does it
 * count as activity: a connection tcp_wrappers refuses never keeps a
 * service up or starts it.
 */
static void
conn_allowed(struct conn *cn)
{
	struct service		*sv = cn->cn_svc;
	const struct svc_conf	*sc = sv->sv_conf;

	cn->cn_ignored = is_ignored(cn);
	if (!cn->cn_ignored && sv->sv_acc->sa_conns++ == 0)
		svc_conns_changed(sv);

	if (sc->sc_mode == MODE_PROXY)
		proxy_allowed(cn);
	else if (sc->sc_internal != INETD_EXTERNAL)
		internal_allowed(cn);
	else
		nowait_start(cn);
}

/* Done with CN, whatever state it is in: uncounted and freed. */
void
conn_close(struct conn *cn)
{
	struct service		*sv = cn->cn_svc;
	struct svc_accept	*sa;
	int			 was_full;

	TAILQ_REMOVE(&acc_conns, cn, cn_entry);
	if (cn->cn_wrap != NULL)
		wrap_cancel(cn->cn_wrap);
	if (cn->cn_ic != NULL)
		internal_stream_abort(cn->cn_ic);	/* closes it */
	proxy_conn_free(cn);
	if (cn->cn_fd != -1)
		close(cn->cn_fd);
	srclimit_drop(cn);
	if (!cn->cn_counted) {
		free(cn);
		return;
	}
	sa = sv->sv_acc;
	was_full = sa->sa_full;
	sa->sa_open--;
	if (sa->sa_full && !at_limit(sv))
		sa->sa_full = 0;
	if (!cn->cn_ignored && --sa->sa_conns == 0)
		svc_conns_changed(sv);
	if (was_full && !sa->sa_full && svc_can_accept(sv))
		accept_watch(sv, 1);
	if (cn->cn_dgram != NULL) {
		cn->cn_dgram->ls_busy = 0;
		if (svc_can_accept(sv) && !sa->sa_full &&
		    event_add(cn->cn_dgram->ls_ev, NULL) == -1)
			fatalx("%s: cannot watch a listener", svc_name(sv));
	}
	free(cn);
}

/* Closes CN after logging why (rate-limited). */
void
conn_refuse(struct conn *cn, const char *why)
{
	char	peer[INET6_ADDRSTRLEN + 16];

	accept_log_peer(cn, peer, sizeof(peer));
	accept_log_limited("%s: refused connection from %s: %s",
	    svc_name(cn->cn_svc), peer, why);
	conn_close(cn);
}

static void
wrap_done(void *arg, enum wrap_verdict v)
{
	struct conn		*cn = arg;
	const struct accept_conf	*ac = cn->cn_svc->sv_conf->sc_accept;
	char			 why[128];

	cn->cn_wrap = NULL;
	switch (v) {
	case WRAP_ALLOW:
		conn_allowed(cn);
		return;
	case WRAP_DENY:
		snprintf(why, sizeof(why), "denied by hosts_access for "
		    "daemon %s", ac->ac_wrapname);
		break;
	case WRAP_TAKEN:
		/* A hosts_options twist now serves it. */
		log_info("%s: connection handed to a twist command (daemon %s)",
		    svc_name(cn->cn_svc), ac->ac_wrapname);
		conn_close(cn);
		return;
	case WRAP_FAILED:
	default:
		snprintf(why, sizeof(why), "no tcp_wrappers answer for daemon "
		    "%s", ac->ac_wrapname);
		break;
	}
	conn_refuse(cn, why);
}

/* A new connection: counted, checked, then handed to the mode. */
static void
conn_start(struct service *sv, int lfd, int fd, const union addr_sa *peer,
    socklen_t peerlen)
{
	const struct accept_conf	*ac = sv->sv_conf->sc_accept;
	struct conn		*cn;
	const char		*why;

	if ((cn = calloc(1, sizeof(*cn))) == NULL) {
		close(fd);
		return;
	}
	TAILQ_INSERT_TAIL(&acc_conns, cn, cn_entry);
	cn->cn_svc = sv;
	cn->cn_fd = fd;
	cn->cn_out = -1;
	cn->cn_lfd = lfd;
	memcpy(&cn->cn_peer, peer, peerlen < sizeof(cn->cn_peer) ? peerlen :
	    sizeof(cn->cn_peer));
	cn->cn_peerlen = peerlen;
	clock_gettime(CLOCK_MONOTONIC, &cn->cn_since);
	cn->cn_ignored = 1;	/* no activity until allowed */
	/* Refusals first: a refused connection is never counted. */
	if ((why = srclimit_take(cn, ac->ac_maxsrc, ac->ac_ratesrc)) != NULL) {
		conn_refuse(cn, why);
		return;
	}
	if (ac->ac_rate > 0 && svc_rate_over(sv, ac->ac_rate)) {
		conn_refuse(cn, "over max-per-minute");
		return;
	}
	cn->cn_counted = 1;
	sv->sv_acc->sa_open++;
	if (at_limit(sv) && !sv->sv_acc->sa_full) {
		sv->sv_acc->sa_full = 1;
		accept_watch(sv, 0);
		accept_log_limited("%s: %ld connections open (%s); new ones "
		    "wait until one closes", svc_name(sv), ac->ac_maxconn,
		    sv->sv_conf->sc_mode == MODE_PROXY ? "max-connections" :
		    "max-children");
	}
#ifndef __linux__
	/* Linux copies them from the listener (accept_listen). */
	if (peer->sa.sa_family != AF_UNIX)
		tcp_options(fd);
#endif
	if (ac->ac_wrapname == NULL || peer->sa.sa_family == AF_UNIX) {
		conn_allowed(cn);
		return;
	}
	if ((cn->cn_wrap = wrap_check(fd, ac->ac_wrapname, wrap_done,
	    cn)) == NULL)
		conn_refuse(cn, "tcp_wrappers check queue full");
}

/*
 * Out of fds: every listener that becomes readable meanwhile waits for
 * the pause to end.  One line per episode, which ends at the next
 * successful accept.
 */
static void
accept_pause(struct listener *ls, int err)
{
	struct timeval	 tv = { 0, PAUSE_MS * 1000 };

	(void)event_del(ls->ls_ev);
	pause_add(ls);
	if (!evtimer_pending(pause_ev, NULL)) {
		if (!pause_logged)
			log_warnx("%s: cannot accept: %s; pausing accepts for "
			    "%d ms at a time until fds are free again",
			    svc_name(ls->ls_svc), strerror(err), PAUSE_MS);
		pause_logged = 1;
		(void)evtimer_add(pause_ev, &tv);
	}
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct listener	*ls = arg;
	struct service	*sv = ls->ls_svc;
	union addr_sa	 peer;
	socklen_t	 len;
	int		 fd, n;

	(void)what;
	for (n = 0; n < ACCEPT_BURST && svc_can_accept(sv) &&
	    !sv->sv_acc->sa_full; n++) {
		len = sizeof(peer);
		fd = accept4(lfd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				accept_pause(ls, errno);
			else if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO || errno == EPERM)
				continue;
			return;		/* EAGAIN */
		}
		pause_logged = 0;
		if (len == 0 || peer.sa.sa_family == AF_UNSPEC)
			peer.sa.sa_family = AF_UNIX;	/* unnamed UNIX peer */
		conn_start(sv, lfd, fd, &peer, len);
	}
}

/* The UDP ports of the configuration, for internal services' loop check;
 * the table is ours from now on. */
void
accept_udp_ports(uint16_t *ports, size_t n)
{
	free(udp_ports);
	udp_ports = ports;
	nudp_ports = n;
}

/* At exit: every connection in progress is closed. */
void
accept_close_all(void)
{
	struct conn	*cn;

	while ((cn = TAILQ_FIRST(&acc_conns)) != NULL)
		conn_close(cn);
	if (pause_ev != NULL)
		event_free(pause_ev);
	if (lim.ev != NULL)
		event_free(lim.ev);
	if (kill_ev != NULL)
		event_free(kill_ev);
	free(paused);
	free(udp_ports);
	udp_ports = NULL;
	pause_ev = lim.ev = kill_ev = NULL;
}

/* nowait processes still running. */
size_t
accept_children(void)
{
	struct conn	*cn;
	size_t		 n = 0;

	TAILQ_FOREACH(cn, &acc_conns, cn_entry)
		n += cn->cn_pid > 0;
	return n;
}

static void
kill_children_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*cn;

	(void)fd;
	(void)what;
	(void)arg;
	TAILQ_FOREACH(cn, &acc_conns, cn_entry)
		if (cn->cn_pid > 0) {
			log_warnx("%s: pid %ld still running after the stop "
			    "signal, killing it", svc_name(cn->cn_svc),
			    (long)cn->cn_pid);
			(void)kill(-cn->cn_pid, SIGKILL);
			(void)kill(cn->cn_pid, SIGKILL);
		}
}

/*
 * At shutdown: each nowait process gets its service's stop signal, and
 * SIGKILL once the longest kill-timeout among them has passed.
 */
void
accept_stop_children(void)
{
	struct conn	*cn;
	struct timeval	 tv = { 0, 0 };

	TAILQ_FOREACH(cn, &acc_conns, cn_entry) {
		if (cn->cn_pid <= 0)
			continue;
		(void)kill(cn->cn_pid, cn->cn_svc->sv_conf->sc_stop_signal);
		if (cn->cn_svc->sv_conf->sc_kill_timeout > tv.tv_sec)
			tv.tv_sec = cn->cn_svc->sv_conf->sc_kill_timeout;
	}
	if (kill_ev == NULL &&
	    (kill_ev = evtimer_new(acc_base, kill_children_cb, NULL)) == NULL)
		fatal("evtimer_new");
	(void)evtimer_add(kill_ev, &tv);
}
