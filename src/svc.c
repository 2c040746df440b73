/*
 * The service state machine.  Every transition goes through svc_enter(),
 * which is the one place that decides which events are armed:
 *
 *	UNBOUND	 bind retry timer; no listener is watched
 *	IDLE	 listener read events (an arrival starts the service)
 *	RUNNING	 idle-check timer; arrivals come from arrival.c
 *	STOPPING kill timer; arrivals wait in the backlog
 *	BACKOFF	 backoff timer; arrivals wait in the backlog
 *
 * The listeners are never closed while the daemon runs, so a connection
 * that arrives in any state waits in the kernel's backlog for the next
 * instance.  Nothing here polls: each service has one timer, armed only
 * at a deadline.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "soad.h"

#define BIND_RETRY	5	/* seconds between bind attempts */
#define START_GRACE	5.0	/* an exit sooner than this is a failed start */
#define BACKOFF_MAX	60	/* seconds, cap of the doubling delay */

static struct event_base	*svc_base;
static struct svc_list		 svc_all = TAILQ_HEAD_INITIALIZER(svc_all);
static int			 svc_exiting;
static size_t			 svc_count, svc_nlisteners;

static void	svc_enter(struct service *, enum svc_state, long);
static void	svc_timer(evutil_socket_t, short, void *);
static pid_t	svc_pid(const struct service *);
static void	svc_start(struct service *);
static int	svc_readable(const struct service *);

int
svc_init(struct event_base *base)
{
	svc_base = base;
	return 0;
}

static void
svc_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

/* Seconds since SINCE, a CLOCK_MONOTONIC time. */
double
svc_elapsed(const struct timespec *since)
{
	struct timespec	now;

	svc_now(&now);
	return (double)(now.tv_sec - since->tv_sec) +
	    (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static const char *
svc_state_name(enum svc_state st)
{
	static const char *names[] = {
		"unbound", "idle", "running", "stopping", "backoff"
	};

	return names[st];
}

static void
arm(struct service *sv, double secs)
{
	struct timeval	tv;

	if (secs < 0)
		secs = 0;
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	/* Made on demand: an idle service, the common case, has none. */
	if (sv->sv_timer == NULL &&
	    (sv->sv_timer = evtimer_new(svc_base, svc_timer, sv)) == NULL)
		fatal("evtimer_new");
	if (evtimer_add(sv->sv_timer, &tv) == -1)
		fatalx("%s: cannot arm a timer", sv->sv_conf->sc_name);
}

static void
watch_listeners(struct service *sv, int on)
{
	size_t	i;

	for (i = 0; i < sv->sv_nls; i++) {
		if (sv->sv_ls[i].ls_ev == NULL)
			continue;
		if (on && event_add(sv->sv_ls[i].ls_ev, NULL) == -1)
			fatalx("%s: cannot watch a listener",
			    sv->sv_conf->sc_name);
		if (!on)
			(void)event_del(sv->sv_ls[i].ls_ev);
	}
}

static void
send_stop(struct service *sv)
{
	const struct svc_conf	*sc = sv->sv_conf;
	pid_t			 pid = svc_pid(sv);
	char			 sig[32];

	if (pid <= 0)		/* kill(0) would hit soad's own group */
		return;
	conf_signal_name(sc->sc_stop_signal, sig, sizeof(sig));
	if (kill(pid, sc->sc_stop_signal) == -1 && errno != ESRCH)
		log_warn("%s: kill %ld", sc->sc_name, (long)pid);
	log_debug("%s: sent %s to pid %ld", sc->sc_name, sig, (long)pid);
}

static void
send_kill(struct service *sv)
{
	pid_t	pid = svc_pid(sv);

	if (pid <= 0)
		return;
	/* The whole process group: helpers must not keep the listeners. */
	(void)kill(-pid, SIGKILL);
	(void)kill(pid, SIGKILL);
}

/*
 * A listener the last instance broke (shut it down, unlinked or replaced
 * its socket file) is made whole before anything waits on it again: by
 * listening again on the same socket where that works, else by closing it
 * for svc_bind() to create afresh.  Returns 1 if any must be re-created.
 */
static int
svc_heal(struct service *sv)
{
	const struct svc_conf	*sc = sv->sv_conf;
	struct listener		*ls;
	const char		*why;
	char			 buf[128];
	size_t			 i;
	int			 lost = 0;

	for (i = 0; i < sv->sv_nls; i++) {
		ls = &sv->sv_ls[i];
		if (ls->ls_fd == -1 || (why = listener_broken(ls)) == NULL)
			continue;
		addr_fmt(&ls->ls_conf->lc_addr, buf, sizeof(buf));
		if (listener_relisten(ls, sc) == 0) {
			log_warnx("%s: listener %s %s; listening on it again",
			    sc->sc_name, buf, why);
			continue;
		}
		log_warnx("%s: listener %s %s; re-creating it", sc->sc_name,
		    buf, why);
		if (ls->ls_ev != NULL)
			event_free(ls->ls_ev);
		ls->ls_ev = NULL;
		arrival_forget(ls);
		listener_close(ls);
		lost = 1;
	}
	return lost;
}

/*
 * The one place transitions happen.  ARG is the backoff delay for
 * SVC_BACKOFF and ignored otherwise.
 */
static void
svc_enter(struct service *sv, enum svc_state st, long arg)
{
	const struct svc_conf	*sc = sv->sv_conf;
	int			 proxy = sc->sc_mode == MODE_PROXY;

	/* Nothing waits on a listener the last instance broke (one just
	 * bound is whole). */
	if (st == SVC_IDLE && !svc_exiting && sv->sv_state != SVC_UNBOUND &&
	    svc_heal(sv)) {
		svc_bind(sv);
		return;
	}
	log_debug("%s: %s -> %s", sc->sc_name, svc_state_name(sv->sv_state),
	    svc_state_name(st));
	/* Arrivals only matter while running; listeners are armed only by
	 * svc_start, never while unbound. */
	if (st != SVC_RUNNING && sv->sv_state != SVC_UNBOUND)
		arrival_mute(sv, 1);
	sv->sv_state = st;
	if (sv->sv_timer != NULL) {
		if (sv->sv_timer != NULL)
		event_free(sv->sv_timer);	/* deletes it too */
		sv->sv_timer = NULL;
	}
	if (sc->sc_accept != NULL)
		accept_watch(sv, svc_can_accept(sv));
	else
		watch_listeners(sv, st == SVC_IDLE && !svc_exiting);
	switch (st) {
	case SVC_UNBOUND:
		arm(sv, BIND_RETRY);
		break;
	case SVC_IDLE:
		/* Proxy: a connection allowed meanwhile, or one still open
		 * (queued for a service that died), starts it again. */
		if (proxy && !svc_exiting && (sv->sv_acc->sa_wanted ||
		    sv->sv_acc->sa_conns > 0))
			svc_start(sv);
		break;
	case SVC_RUNNING:
		svc_now(&sv->sv_active);
		sv->sv_busy = 0;
		sv->sv_muted = 0;	/* svc_start armed O_ASYNC */
		if (sc->sc_timeout > 0 && (!proxy || sv->sv_acc->sa_conns == 0))
			arm(sv, (double)sc->sc_timeout);
		break;
	case SVC_STOPPING:
		if (sc->sc_kill_timeout == 0)
			send_kill(sv);
		else {
			send_stop(sv);
			arm(sv, (double)sc->sc_kill_timeout);
		}
		break;
	case SVC_BACKOFF:
		arm(sv, (double)arg);
		break;
	}
}

static void
svc_fail_start(struct service *sv)
{
	long	delay;

	sv->sv_failures++;
	if (sv->sv_failures < 2) {
		svc_enter(sv, SVC_IDLE, 0);
		return;
	}
	delay = sv->sv_failures - 2 < 6 ? 1L << (sv->sv_failures - 2) :
	    BACKOFF_MAX;
	if (delay > BACKOFF_MAX)
		delay = BACKOFF_MAX;
	log_warnx("%s: %d failed starts in a row; next start in %ld s",
	    sv->sv_conf->sc_name, sv->sv_failures, delay);
	svc_enter(sv, SVC_BACKOFF, delay);
}

static void
svc_start(struct service *sv)
{
	const struct svc_conf	*sc = sv->sv_conf;
	struct spawn_plan	 plan;
	struct instance		*inst;
	struct outlog		*ol;
	int			 wfd = -1;
	pid_t			 pid;
	size_t			 i;

	if (sv->sv_acc != NULL)
		sv->sv_acc->sa_wanted = 0;
	/* A proxy's private listeners need no arrival signals: the master
	 * sees every connection. */
	for (i = 0; i < sv->sv_nls; i++)
		if (arrival_arm(sv->sv_ls[i].ls_fd, sc->sc_timeout > 0 &&
		    sc->sc_mode == MODE_PASS) == -1)
			log_warn("%s: listener flags", sc->sc_name);
	if ((ol = outlog_open(svc_base, sc->sc_name, &wfd)) == NULL) {
		log_warn("%s: output pipe", sc->sc_name);
		svc_fail_start(sv);
		return;
	}
	spawn_plan_pass(&plan, sv, wfd);
	pid = spawn_service(sc, &plan);
	close(wfd);
	if (pid == -1) {
		log_warn("%s: fork", sc->sc_name);
		svc_fail_start(sv);	/* the pipe's EOF frees the logger */
		return;
	}
	outlog_setpid(ol, pid);
	if ((inst = calloc(1, sizeof(*inst))) == NULL)
		fatal("calloc");
	inst->in_svc = sv;
	child_add(pid, CHILD_SERVICE, inst);
	arrival_instance(sv, pid);
	sv->sv_inst = inst;
	inst->in_pid = pid;
	svc_now(&inst->in_started);
	log_info("%s: started pid %ld", sc->sc_name, (long)pid);
	svc_enter(sv, SVC_RUNNING, 0);
}

static void
svc_ready(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*ls = arg;

	(void)fd;
	(void)what;
	if (ls->ls_svc->sv_state != SVC_IDLE || svc_exiting)
		return;
	/* A dead listener is always readable: heal it, never start on it. */
	if (listener_broken(ls) != NULL)
		svc_enter(ls->ls_svc, SVC_IDLE, 0);
	else
		svc_start(ls->ls_svc);
}

/* Open connections, or 0 when they cannot be counted (warned once). */
static int
open_conns(struct service *sv)
{
	static int	warned;
	int		n = conncount_open(sv);

	if (n < 0 && !warned) {
		warned = 1;
		log_warnx("cannot count open connections (sock_diag "
		    "unavailable?); only arrivals count as activity");
	}
	return n < 0 ? 0 : n;
}

/*
 * After an arrival, mute arrival signals this long: a tenth of the
 * timeout keeps every stop within 1.1 times the timeout of the last
 * arrival.  While connections are open they are counted again after
 * conncount_delay(): every max(timeout/10, 1 s), on a grid that all busy
 * services share so that one dump counts them all.
 */
static double
busy_interval(const struct svc_conf *sc)
{
	return (double)sc->sc_timeout / 10;
}

/*
 * The service's one timer while it runs.  Each branch re-arms it for the
 * next deadline; only the last one stops the service.
 */
static void
svc_idle_check(struct service *sv)
{
	const struct svc_conf	*sc = sv->sv_conf;
	double			 idle;
	int			 n;
	char			 sig[32];

	if (sc->sc_mode == MODE_PROXY) {
		/* Exact: the master counts every connection; the last one to
		 * close re-arms this timer (svc_conns_changed). */
		if (sv->sv_acc->sa_conns > 0)
			return;
		goto counted;
	}
	if (sv->sv_muted) {
		/* Arrivals in the muted window went unseen: count it all. */
		arrival_mute(sv, 0);
		sv->sv_muted = 0;
		svc_now(&sv->sv_active);
		arm(sv, sv->sv_busy ? conncount_delay(sc->sc_timeout) :
		    (double)sc->sc_timeout);
		return;
	}
	if (arrival_reassert(sv)) {
		svc_now(&sv->sv_active);
		arm(sv, (double)sc->sc_timeout);
		return;
	}
	if (sv->sv_busy) {
		/* The last connection closed at some point since the last
		 * count; idleness is counted from now, so the service never
		 * stops before a full timeout without connections. */
		svc_now(&sv->sv_active);
		if ((n = open_conns(sv)) > 0) {
			arm(sv, conncount_delay(sc->sc_timeout));
			return;
		}
		sv->sv_busy = 0;
	}
counted:
	idle = svc_elapsed(&sv->sv_active);
	if (idle < (double)sc->sc_timeout) {
		arm(sv, (double)sc->sc_timeout - idle);
		return;
	}
	/* Connections (or datagrams) waiting to be taken are not idleness:
	 * a service still starting has not accepted them yet, and a waiting
	 * UNIX connection is not always in the count. */
	if (sc->sc_mode == MODE_PASS && svc_readable(sv)) {
		log_debug("%s: connections wait to be accepted, not idle",
		    sc->sc_name);
		svc_now(&sv->sv_active);
		arm(sv, (double)sc->sc_timeout);
		return;
	}
	if (sc->sc_mode == MODE_PASS && sc->sc_socktype == SOCK_STREAM &&
	    (n = open_conns(sv)) > 0) {
		log_debug("%s: %d connections open, not idle", sc->sc_name, n);
		sv->sv_busy = 1;
		svc_now(&sv->sv_active);
		arm(sv, conncount_delay(sc->sc_timeout));
		return;
	}
	log_info("%s: idle for %d s, stopping pid %ld with %s", sc->sc_name,
	    sc->sc_timeout, (long)svc_pid(sv),
	    conf_signal_name(sc->sc_stop_signal, sig, sizeof(sig)));
	svc_enter(sv, SVC_STOPPING, 0);
}

static void
svc_timer(evutil_socket_t fd, short what, void *arg)
{
	struct service	*sv = arg;

	(void)fd;
	(void)what;
	switch (sv->sv_state) {
	case SVC_UNBOUND:
		svc_bind(sv);
		break;
	case SVC_RUNNING:
		svc_idle_check(sv);
		break;
	case SVC_STOPPING:
		log_warnx("%s: pid %ld still running %d s after the stop "
		    "signal, killing it", sv->sv_conf->sc_name,
		    (long)svc_pid(sv), sv->sv_conf->sc_kill_timeout);
		send_kill(sv);
		break;
	case SVC_BACKOFF:
		svc_enter(sv, SVC_IDLE, 0);
		break;
	case SVC_IDLE:
		break;
	}
}

struct service *
svc_create(struct svc_conf *sc)
{
	struct service	*sv;
	size_t		 i;

	if ((sv = calloc(1, sizeof(*sv))) == NULL ||
	    (sc->sc_accept != NULL &&
	    (sv->sv_acc = calloc(1, sizeof(*sv->sv_acc))) == NULL))
		fatal("calloc");
	sv->sv_conf = sc;
	sv->sv_index = svc_count++;
	sv->sv_nls = sc->sc_nlisten;
	if ((sv->sv_ls = calloc(sv->sv_nls, sizeof(*sv->sv_ls))) == NULL)
		fatal("calloc");
	for (i = 0; i < sv->sv_nls; i++) {
		sv->sv_ls[i].ls_svc = sv;
		sv->sv_ls[i].ls_conf = &sc->sc_listen[i];
		sv->sv_ls[i].ls_fd = -1;
		sv->sv_ls[i].ls_index = svc_nlisteners++;
	}
	if (sc->sc_mode == MODE_PROXY) {
		proxy_service(sv);
		for (i = 0; i < sv->sv_nls; i++)
			sv->sv_ls[i].ls_index = svc_nlisteners++;
	} else if (sc->sc_accept != NULL) {
		/* nowait, internal: only the master uses the listeners. */
		sv->sv_acc->sa_pub = sv->sv_ls;
		sv->sv_acc->sa_npub = sv->sv_nls;
		sv->sv_ls = NULL;
		sv->sv_nls = 0;
	}
	sv->sv_state = SVC_UNBOUND;
	TAILQ_INSERT_TAIL(&svc_all, sv, sv_entry);
	return sv;
}

static void
svc_free(struct service *sv)
{
	struct svc_accept	*sa = sv->sv_acc;
	size_t			 i;

	TAILQ_REMOVE(&svc_all, sv, sv_entry);
	for (i = 0; i < sv->sv_nls; i++) {
		if (sv->sv_ls[i].ls_ev != NULL)
			event_free(sv->sv_ls[i].ls_ev);
		arrival_forget(&sv->sv_ls[i]);
		listener_close(&sv->sv_ls[i]);
	}
	for (i = 0; sa != NULL && i < sa->sa_npub; i++) {
		if (sa->sa_pub[i].ls_ev != NULL)
			event_free(sa->sa_pub[i].ls_ev);
		listener_close(&sa->sa_pub[i]);
	}
	if (sv->sv_timer != NULL)
		event_free(sv->sv_timer);
	free(sv->sv_ls);
	if (sa != NULL) {
		free(sa->sa_pub);
		free(sa->sa_privconf);
		free(sa);
	}
	free(sv->sv_inst);	/* only if soad exits with it running */
	free(sv);
}

/*
 * Bind LS if it is not yet; 0 once it is.  Only the first failure of a
 * service is logged, not every retry.  A listener the master accepts on
 * (PUBLIC) gets the accept path's event; a pass-mode one the arrival
 * watch; a private one, which only its service accepts on, neither.
 */
static int
bind_one(struct service *sv, struct listener *ls, int public)
{
	int	r;

	if (ls->ls_fd != -1)
		return 0;
	if (sv->sv_bindwarned)
		log_setquiet(1);
	r = listener_open(ls, sv->sv_conf);
	log_setquiet(0);
	if (r == -1)
		return -1;
	if (public) {
		if (accept_listen(ls) == -1)
			fatal("%s: accept setup", svc_name(sv));
	} else if (sv->sv_conf->sc_accept == NULL) {
		ls->ls_ev = event_new(svc_base, ls->ls_fd, EV_READ | EV_PERSIST,
		    svc_ready, ls);
		if (ls->ls_ev == NULL)
			fatal("event_new");
		arrival_watch(ls);
	}
	return 0;
}

/* Bind what is not bound yet; the service goes IDLE once all are. */
void
svc_bind(struct service *sv)
{
	struct svc_accept	*sa = sv->sv_acc;
	size_t			 i, npub = sa != NULL ? sa->sa_npub : 0;
	size_t			 bound = 0;

	for (i = 0; i < sv->sv_nls; i++)
		bound += bind_one(sv, &sv->sv_ls[i], 0) == 0;
	if (bound == sv->sv_nls)
		for (i = 0; i < npub; i++)
			bound += bind_one(sv, &sa->sa_pub[i], 1) == 0;
	if (bound == sv->sv_nls + npub) {
		if (sv->sv_bindwarned)
			log_info("%s: all listeners bound", sv->sv_conf->sc_name);
		sv->sv_bindwarned = 0;
		svc_enter(sv, SVC_IDLE, 0);
		return;
	}
	if (!sv->sv_bindwarned)
		log_warnx("%s: not started until every listener is bound; "
		    "retrying every %d s", sv->sv_conf->sc_name, BIND_RETRY);
	sv->sv_bindwarned = 1;
	svc_enter(sv, SVC_UNBOUND, 0);
}

/*
 * An arrival while running.  Later arrivals in the next window (the
 * re-count interval) are not worth a signal each: soad stops listening
 * for them and credits the whole window as activity when it ends, which
 * can only delay a stop by one window, never cause one.
 */
void
svc_arrival(struct listener *ls)
{
	struct service	*sv = ls->ls_svc;

	if (sv->sv_state != SVC_RUNNING || sv->sv_muted ||
	    sv->sv_conf->sc_timeout == 0)
		return;
	svc_now(&sv->sv_active);
	arrival_mute(sv, 1);
	sv->sv_muted = 1;
	arm(sv, busy_interval(sv->sv_conf));
}

static void
describe_status(int status, char *buf, size_t len)
{
	char	sig[32];

	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by %s%s",
		    conf_signal_name(WTERMSIG(status), sig, sizeof(sig)),
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "ended with status 0x%x", status);
}

static pid_t
svc_pid(const struct service *sv)
{
	return sv->sv_inst != NULL ? sv->sv_inst->in_pid : 0;
}

const char *
svc_name(const struct service *sv)
{
	return sv->sv_conf->sc_name;
}

/* Is a connection or datagram waiting on one of the listeners? */
static int
svc_readable(const struct service *sv)
{
	struct pollfd	pfd;
	size_t		i;

	for (i = 0; i < sv->sv_nls; i++) {
		if (sv->sv_ls[i].ls_fd == -1)
			continue;
		pfd.fd = sv->sv_ls[i].ls_fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		/* A listener a service shut down polls as readable and
		 * hung up: nothing waits there. */
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) &&
		    !(pfd.revents & (POLLHUP | POLLERR)))
			return 1;
	}
	return 0;
}

/* An instance was reaped (child.c found it in its registry); freed here. */
void
svc_reaped(struct instance *inst, int status)
{
	struct service	*sv = inst->in_svc;
	const char	*name = sv->sv_conf->sc_name;
	pid_t		 pid = inst->in_pid;
	double		 ran;
	char		 how[64];
	int		 clean, current;

	/* Whatever it left behind in its process group goes too. */
	(void)kill(-pid, SIGKILL);
	ran = svc_elapsed(&inst->in_started);
	current = sv->sv_inst == inst;
	free(inst);
	if (!current)
		return;		/* not the service's current process */
	sv->sv_inst = NULL;
	arrival_instance(sv, 0);
	describe_status(status, how, sizeof(how));
	if (sv->sv_state == SVC_STOPPING) {
		log_info("%s: pid %ld stopped (%s)", name, (long)pid, how);
		svc_enter(sv, SVC_IDLE, 0);
		return;
	}
	clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (clean)
		log_info("%s: pid %ld %s after %.1f s", name, (long)pid, how,
		    ran);
	else
		log_warnx("%s: pid %ld %s after %.1f s", name, (long)pid, how,
		    ran);
	/* An inetd "wait" server may serve and exit by itself (tftpd);
	 * one that left its socket readable took nothing: a failed start,
	 * or it would be started again at once, forever. */
	if (svc_exiting || ran >= START_GRACE || (clean &&
	    (sv->sv_conf->sc_inetd || sv->sv_conf->sc_socktype == SOCK_DGRAM) &&
	    !svc_readable(sv))) {
		sv->sv_failures = 0;
		svc_enter(sv, SVC_IDLE, 0);
	} else
		svc_fail_start(sv);
}

/* An arrival somewhere, on a listener we cannot tell: credit them all. */
void
svc_arrival_all(void)
{
	struct service	*sv;

	TAILQ_FOREACH(sv, &svc_all, sv_entry)
		if (sv->sv_nls > 0)
			svc_arrival(&sv->sv_ls[0]);
}

/* A new watcher: point the unmuted running services' listeners at it. */
void
svc_watcher_changed(void)
{
	struct service	*sv;

	TAILQ_FOREACH(sv, &svc_all, sv_entry)
		if (sv->sv_state == SVC_RUNNING && !sv->sv_muted &&
		    sv->sv_conf->sc_timeout > 0)
			arrival_mute(sv, 0);
}

/*
 * The watcher died.  A running service whose listener carries a signal
 * other than ours is the likely culprit: its arrivals are no longer
 * watched until its next start (its idle accounting then rests on
 * open-connection counts), so it cannot kill the watcher again.  Arrivals
 * of the others may have gone unseen meanwhile: they are credited.
 */
void
svc_watcher_lost(void)
{
	struct service	*sv;

	TAILQ_FOREACH(sv, &svc_all, sv_entry) {
		if (sv->sv_state != SVC_RUNNING)
			continue;
		if (!sv->sv_inst->in_nowatch && arrival_tampered(sv)) {
			log_warnx("%s: pid %ld changed the arrival signal of "
			    "its listener; its arrivals are not watched until "
			    "it restarts", sv->sv_conf->sc_name,
			    (long)svc_pid(sv));
			sv->sv_inst->in_nowatch = 1;
			arrival_mute(sv, 1);
		}
	}
	svc_arrival_all();
}

/*
 * Modes in which the master accepts: may the listeners be accepted on
 * now?  A proxy accepts while idle or running; nowait and internal
 * services are idle unless paused (BACKOFF) over max-per-minute.
 */
int
svc_can_accept(const struct service *sv)
{
	return !svc_exiting && (sv->sv_state == SVC_IDLE ||
	    (sv->sv_state == SVC_RUNNING &&
	    sv->sv_conf->sc_mode == MODE_PROXY));
}

/*
 * nowait: one more start this minute.  Over max-per-minute the service
 * is paused for rate-pause seconds, as inetd does, and this one refused.
 */
int
svc_rate_over(struct service *sv, long rate)
{
	const struct accept_conf	*ac = sv->sv_conf->sc_accept;
	struct svc_accept		*sa = sv->sv_acc;
	struct timespec			 now;

	svc_now(&now);
	if (now.tv_sec - sa->sa_rate_t >= 60) {
		sa->sa_rate_t = now.tv_sec;
		sa->sa_rate_n = 0;
	}
	if (++sa->sa_rate_n <= rate)
		return 0;
	log_warnx("%s: more than %ld connections in a minute "
	    "(max-per-minute); paused for %ld s", sv->sv_conf->sc_name, rate,
	    ac->ac_rate_pause);
	sa->sa_rate_n = 0;
	svc_enter(sv, SVC_BACKOFF, ac->ac_rate_pause);
	return 1;
}

/* Proxy mode: an allowed connection needs the service. */
void
svc_want(struct service *sv)
{
	if (sv->sv_state == SVC_RUNNING || svc_exiting)
		return;
	sv->sv_acc->sa_wanted = 1;
	if (sv->sv_state == SVC_IDLE)
		svc_start(sv);
}

/*
 * Proxy mode: the count of connections that keep the service up went
 * from 0 to 1 or back.  The stop is timeout seconds after the last one
 * closed.
 */
void
svc_conns_changed(struct service *sv)
{
	if (sv->sv_acc->sa_conns > 0 || sv->sv_state != SVC_RUNNING)
		return;
	svc_now(&sv->sv_active);
	if (sv->sv_conf->sc_timeout > 0)
		arm(sv, (double)sv->sv_conf->sc_timeout);
}

/* SIGUSR1: one line per service. */
void
svc_log_state(void)
{
	struct service	*sv;
	char		 pid[32], act[48];

	TAILQ_FOREACH(sv, &svc_all, sv_entry) {
		pid[0] = act[0] = '\0';
		if (svc_pid(sv) != 0)
			snprintf(pid, sizeof(pid), " pid %ld",
			    (long)svc_pid(sv));
		if (sv->sv_conf->sc_accept != NULL)
			snprintf(act, sizeof(act), ", %d connections open",
			    sv->sv_acc->sa_open);
		else if (sv->sv_state == SVC_RUNNING)
			snprintf(act, sizeof(act), ", last active %.0f s ago%s",
			    svc_elapsed(&sv->sv_active),
			    sv->sv_busy ? ", connections open" : "");
		log_info("%s: %s%s%s, %d failed start%s in a row",
		    sv->sv_conf->sc_name, svc_state_name(sv->sv_state), pid,
		    act, sv->sv_failures, sv->sv_failures == 1 ? "" : "s");
	}
}

/* Stop every service for good: no restart after this. */
void
svc_shutdown_all(void)
{
	struct service	*sv;
	char		 sig[32];

	svc_exiting = 1;
	accept_stop_children();
	TAILQ_FOREACH(sv, &svc_all, sv_entry) {
		if (sv->sv_state == SVC_RUNNING) {
			log_info("%s: stopping pid %ld with %s",
			    sv->sv_conf->sc_name, (long)svc_pid(sv),
			    conf_signal_name(sv->sv_conf->sc_stop_signal, sig,
			    sizeof(sig)));
			svc_enter(sv, SVC_STOPPING, 0);
		} else if (sv->sv_state != SVC_STOPPING)
			svc_enter(sv, SVC_IDLE, 0);
	}
}

int
svc_all_stopped(void)
{
	struct service	*sv;

	TAILQ_FOREACH(sv, &svc_all, sv_entry)
		if (svc_pid(sv) != 0)
			return 0;
	return accept_children() == 0;
}

/* Close every listener (unlinking our UNIX sockets) and free it all. */
void
svc_free_all(void)
{
	struct service	*sv;

	while ((sv = TAILQ_FIRST(&svc_all)) != NULL)
		svc_free(sv);
}
