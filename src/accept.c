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
#define SRC_BUCKETS	4096
#define LOG_RATE	20	/* refusal lines a second, sustained */
#define LOG_BURST	100

/* Connections open from one client address to one service. */
struct srcent {
	struct srcent		*se_next;
	const struct service	*se_svc;
	int			 se_n;		/* open */
	long			 se_r;		/* started in the minute */
	time_t			 se_t;		/* ... that began then */
	unsigned char		 se_addr[16];	/* IPv4 as mapped IPv6 */
};

static struct event_base	*acc_base;
static TAILQ_HEAD(, conn)	 acc_conns = TAILQ_HEAD_INITIALIZER(acc_conns);
static struct srcent		*src_tab[SRC_BUCKETS];
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
		log_warnx("%ld more refused connections not logged (more than "
		    "%d a second)", lim.dropped, LOG_RATE);
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
	if (!svc_can_accept(sv) || sv->sv_full)
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
	sv->sv_open++;
	if (at_limit(sv)) {
		sv->sv_full = 1;
		accept_watch(sv, 0);
	}
	(void)event_del(ls->ls_ev);
	nowait_start(cn);
}

/* A public listener: non-blocking (only the master accepts on it). */
int
accept_listen(struct listener *ls)
{
	int	dgram = ls->ls_svc->sv_conf->sc_socktype == SOCK_DGRAM;

	if (evutil_make_socket_nonblocking(ls->ls_fd) == -1)
		return -1;
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

	on = on && !sv->sv_full;
	for (i = 0; i < sv->sv_npub; i++) {
		ls = &sv->sv_pub[i];
		if (ls->ls_ev == NULL)
			continue;
		for (j = 0; j < npaused; j++)
			if (paused[j] == ls)
				paused[j] = NULL;
		if (!on)
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
static void
log_refusal(const char *fmt, ...)
    __attribute__((__format__(printf, 1, 2)));

static void
log_refusal(const char *fmt, ...)
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
	const struct sockaddr_in	*sin = &cn->cn_peer.sin;
	const struct sockaddr_in6	*sin6 = &cn->cn_peer.sin6;
	char				 a[INET6_ADDRSTRLEN];

	if (cn->cn_peer.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	} else if (cn->cn_peer.sa.sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		inet_ntop(AF_INET, sin6->sin6_addr.s6_addr + 12, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(sin6->sin6_port));
	} else if (cn->cn_peer.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else
		snprintf(buf, len, "local");
}

/* The client's address as a mapped IPv6 key; 0 for UNIX clients. */
static int
src_key(const struct conn *cn, unsigned char key[16])
{
	memset(key, 0, 16);
	if (cn->cn_peer.sa.sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &cn->cn_peer.sin.sin_addr, 4);
		return 1;
	}
	if (cn->cn_peer.sa.sa_family == AF_INET6) {
		memcpy(key, &cn->cn_peer.sin6.sin6_addr, 16);
		return 1;
	}
	return 0;
}

static size_t
src_hash(const struct service *sv, const unsigned char key[16])
{
	uint64_t	h = (uint64_t)(uintptr_t)sv * 0x9e3779b97f4a7c15ULL;
	size_t		i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 29)) & (SRC_BUCKETS - 1);
}

static int
src_expired(const struct srcent *se, time_t now)
{
	return se->se_n == 0 && now - se->se_t >= 60;
}

/*
 * Count CN against its source: open connections against MAX and starts
 * in the current minute against RATE (0: no limit).  Returns NULL, or
 * why the source is over.  An entry outlives its connections while its
 * minute runs; expired ones are dropped as their chain is walked.
 */
static const char *
src_take(struct conn *cn, long max, long rate)
{
	unsigned char	  key[16];
	struct srcent	 *se, **pp;
	time_t		  now = cn->cn_since.tv_sec;
	size_t		  h;

	if ((max <= 0 && rate <= 0) || !src_key(cn, key))
		return NULL;
	h = src_hash(cn->cn_svc, key);
	for (pp = &src_tab[h]; (se = *pp) != NULL; ) {
		if (se->se_svc == cn->cn_svc &&
		    memcmp(se->se_addr, key, 16) == 0)
			break;
		if (src_expired(se, now)) {
			*pp = se->se_next;
			free(se);
		} else
			pp = &se->se_next;
	}
	if (se == NULL) {
		if ((se = calloc(1, sizeof(*se))) == NULL)
			return "out of memory";
		se->se_svc = cn->cn_svc;
		memcpy(se->se_addr, key, 16);
		se->se_t = now;
		se->se_next = src_tab[h];
		src_tab[h] = se;
	}
	if (now - se->se_t >= 60) {
		se->se_t = now;
		se->se_r = 0;
	}
	/* The key that set the limit names it. */
	if (max > 0 && se->se_n >= max)
		return cn->cn_svc->sv_conf->sc_mode == MODE_PROXY ?
		    "over max-connections-per-source" :
		    "over max-children-per-source";
	if (rate > 0 && se->se_r >= rate)
		return "over max-per-minute-per-source";
	se->se_n++;
	se->se_r++;
	cn->cn_src = se;
	return NULL;
}

static void
src_drop(struct conn *cn)
{
	struct srcent	*se = cn->cn_src, **pp;
	unsigned char	 key[16];
	struct timespec	 now;

	if (se == NULL)
		return;
	cn->cn_src = NULL;
	se->se_n--;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!src_expired(se, now.tv_sec))
		return;
	memcpy(key, se->se_addr, 16);
	for (pp = &src_tab[src_hash(se->se_svc, key)]; *pp != NULL;
	    pp = &(*pp)->se_next)
		if (*pp == se) {
			*pp = se->se_next;
			break;
		}
	free(se);
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

	return max > 0 && sv->sv_open >= max;
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

/* The mode's part, once the connection is allowed. */
static void
conn_allowed(struct conn *cn)
{
	const struct svc_conf	*sc = cn->cn_svc->sv_conf;

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
	struct service	*sv = cn->cn_svc;
	int		 was_full;

	TAILQ_REMOVE(&acc_conns, cn, cn_entry);
	if (cn->cn_wrap != NULL)
		wrap_cancel(cn->cn_wrap);
	if (cn->cn_ic != NULL)
		internal_stream_abort(cn->cn_ic);	/* closes it */
	proxy_conn_free(cn);
	if (cn->cn_fd != -1)
		close(cn->cn_fd);
	src_drop(cn);
	if (!cn->cn_counted) {
		free(cn);
		return;
	}
	was_full = sv->sv_full;
	sv->sv_open--;
	if (sv->sv_full && !at_limit(sv))
		sv->sv_full = 0;
	if (!cn->cn_ignored) {
		sv->sv_conns--;
		if (sv->sv_conns == 0)
			svc_conns_changed(sv);
	}
	if (was_full && !sv->sv_full && svc_can_accept(sv))
		accept_watch(sv, 1);
	else if (cn->cn_dgram != NULL && svc_can_accept(sv) && !sv->sv_full &&
	    event_add(cn->cn_dgram->ls_ev, NULL) == -1)
		fatalx("%s: cannot watch a listener", svc_name(sv));
	free(cn);
}

/* Closes CN after logging why (rate-limited). */
void
conn_refuse(struct conn *cn, const char *why)
{
	char	peer[INET6_ADDRSTRLEN + 16];

	accept_log_peer(cn, peer, sizeof(peer));
	log_refusal("%s: refused connection from %s: %s", svc_name(cn->cn_svc),
	    peer, why);
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
	int			 on = 1;

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
	cn->cn_locallen = sizeof(cn->cn_local);
	if (getsockname(fd, &cn->cn_local.sa, &cn->cn_locallen) == -1)
		cn->cn_locallen = 0;
	clock_gettime(CLOCK_MONOTONIC, &cn->cn_since);
	cn->cn_ignored = 1;	/* not counted as activity until it counts */
	/* Refusals first: a refused connection is never counted. */
	if ((why = src_take(cn, ac->ac_maxsrc, ac->ac_ratesrc)) != NULL) {
		conn_refuse(cn, why);
		return;
	}
	if (ac->ac_rate > 0 && svc_rate_over(sv, ac->ac_rate)) {
		conn_refuse(cn, "over max-per-minute");
		return;
	}
	cn->cn_counted = 1;
	cn->cn_ignored = is_ignored(cn);
	sv->sv_open++;
	if (!cn->cn_ignored && sv->sv_conns++ == 0)
		svc_conns_changed(sv);
	if (at_limit(sv) && !sv->sv_full) {
		sv->sv_full = 1;
		accept_watch(sv, 0);
		log_warnx("%s: %ld connections open (%s); new ones wait until "
		    "one closes", svc_name(sv), ac->ac_maxconn,
		    sv->sv_conf->sc_mode == MODE_PROXY ? "max-connections" :
		    "max-children");
	}
	if (peer->sa.sa_family != AF_UNIX) {
		/* A client that vanished must not hold the service up. */
		(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
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
	for (n = 0; n < ACCEPT_BURST && svc_can_accept(sv) && !sv->sv_full;
	    n++) {
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
