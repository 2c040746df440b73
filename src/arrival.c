/*
 * Pass-mode arrival detection, master side.  A running service accepts on
 * the listeners it shares with the master, often before the master could
 * look, so readiness is no witness.  Instead a running service's
 * listeners are O_ASYNC: the kernel signals a connection's arrival,
 * whoever accepts it.
 *
 * O_ASYNC's owner and F_SETSIG's signal live on the open file the service
 * shares, so the service can change them.  The master therefore never
 * receives these signals: it names the watcher (watcher.c) as the owner,
 * and the watcher forwards each si_fd on a pipe.  The kernel checks the
 * credentials of whoever set the owner when it signals, so a service that
 * re-points the owner reaches only processes it could signal anyway; one
 * that picks a deadly signal kills the watcher, which is restarted, and
 * from then on that instance's arrivals are not watched (its idle
 * accounting falls back to open-connection counts).
 *
 * The master enables O_ASYNC itself, so si_fd is the master's own fd
 * number, which byfd maps back to the listener.  An unknown number (a
 * service enabled O_ASYNC on its own copy) credits every running service,
 * which can only delay a stop, never cause one.
 *
 * The master also keeps, in memory shared with the watcher, each running
 * instance's pid and each listener's socket inode: what the watcher kills
 * if the master dies.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "soad.h"

#ifdef F_SETSIG
#define ARRIVAL_SIG	(SIGRTMIN + 1)
#endif
#define RESTART_BURST	10	/* watcher restarts before slowing down */
#define RESTART_DELAY	5	/* seconds, once past the burst */

static int			 arr_pipe[2] = { -1, -1 };	/* watcher -> us */
static int			 life_pipe[2] = { -1, -1 };	/* EOF: we died */
static struct event		*arr_ev, *restart_ev;
static pid_t			 watcher_pid;
static int			 watcher_restarts;
static time_t			 watcher_window;
static struct listener		**byfd;
static size_t			 nbyfd;
static struct watch_table	 wt;

static void	watcher_start(void);

static void
arrival_read(evutil_socket_t fd, short what, void *arg)
{
	int	 fds[256];
	ssize_t	 n, i;
	int	 all = 0;

	(void)what;
	(void)arg;
	while ((n = read(fd, fds, sizeof(fds))) > 0) {
		for (i = 0; i < n / (ssize_t)sizeof(int); i++) {
			if (fds[i] < 0 || (size_t)fds[i] >= nbyfd ||
			    byfd[fds[i]] == NULL)
				all = 1;
			else
				svc_arrival(byfd[fds[i]]);
		}
	}
	if (all)
		svc_arrival_all();
}

static void
restart_later(void)
{
	struct timeval	tv = { RESTART_DELAY, 0 };

	if (evtimer_add(restart_ev, &tv) == -1)
		fatalx("cannot arm the watcher's restart timer");
}

static void
restart_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	watcher_start();
}

static void
watcher_start(void)
{
	pid_t	pid;
	int	fd, out;

	if ((pid = fork()) == -1) {
		log_warn("cannot start the watcher");
		restart_later();
		return;
	}
	if (pid == 0) {
		/* Keep the two pipe ends at 3 and 4, nothing else; copy
		 * both out of the way first, as either may sit at 3 or 4. */
		if ((fd = fcntl(life_pipe[0], F_DUPFD, 5)) == -1 ||
		    (out = fcntl(arr_pipe[1], F_DUPFD, 5)) == -1 ||
		    dup2(fd, 3) == -1 || dup2(out, 4) == -1)
			_exit(71);
		closefrom(5);
		watcher_main(3, 4, &wt);
	}
	watcher_pid = pid;
	child_add(pid, CHILD_WATCHER, NULL);
	log_debug("watcher: started pid %ld", (long)pid);
	svc_watcher_changed();
}

int
arrival_init(struct event_base *base, size_t nsvcs, size_t nls)
{
	size_t	 len;
	void	*p;

	if (pipe2(arr_pipe, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    pipe2(life_pipe, O_CLOEXEC) == -1)
		return -1;
	len = (nsvcs + 1) * sizeof(*wt.wt_pid) + (nls + 1) * sizeof(*wt.wt_ino);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return -1;
	wt.wt_ino = p;
	wt.wt_pid = (pid_t *)(void *)(wt.wt_ino + nls + 1);
	wt.wt_nino = nls;
	wt.wt_npid = nsvcs;
	wt.wt_len = len;
	arr_ev = event_new(base, arr_pipe[0], EV_READ | EV_PERSIST,
	    arrival_read, NULL);
	restart_ev = evtimer_new(base, restart_cb, NULL);
	if (arr_ev == NULL || restart_ev == NULL ||
	    event_add(arr_ev, NULL) == -1)
		return -1;
	watcher_start();
	return 0;
}

/* At a clean exit: the watcher sees EOF, finds nothing left, exits. */
void
arrival_free(void)
{
	if (arr_ev != NULL)
		event_free(arr_ev);
	if (restart_ev != NULL)
		event_free(restart_ev);
	arr_ev = restart_ev = NULL;
	close(arr_pipe[0]);
	close(arr_pipe[1]);
	close(life_pipe[0]);
	close(life_pipe[1]);
	if (wt.wt_ino != NULL)
		munmap(wt.wt_ino, wt.wt_len);
	memset(&wt, 0, sizeof(wt));
	free(byfd);
	byfd = NULL;
	nbyfd = 0;
}

void
arrival_watcher_stopped(pid_t pid)
{
	/* Stopped by a signal a service chose: useless, so restart it. */
	log_warnx("watcher: pid %ld stopped by a service's arrival signal; "
	    "restarting it", (long)pid);
	(void)kill(pid, SIGKILL);
}

void
arrival_watcher_exited(pid_t pid, int status)
{
	struct timespec	now;
	char		sig[32];

	if (pid != watcher_pid)
		return;
	watcher_pid = 0;
	if (WIFSIGNALED(status))
		log_warnx("watcher: pid %ld killed by %s; a service may have "
		    "chosen it as its arrival signal", (long)pid,
		    conf_signal_name(WTERMSIG(status), sig, sizeof(sig)));
	else
		log_warnx("watcher: pid %ld exited with status %d", (long)pid,
		    WEXITSTATUS(status));
	/* Find who did it; no arrival of theirs is watched from now on. */
	svc_watcher_lost();
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - watcher_window > 60) {
		watcher_window = now.tv_sec;
		watcher_restarts = 0;
	}
	if (++watcher_restarts > RESTART_BURST) {
		restart_later();
		return;
	}
	watcher_start();
}

void
arrival_watch(struct listener *ls)
{
	struct listener	**n;
	size_t		  want = (size_t)ls->ls_fd + 1;

	if (want > nbyfd) {
		if (want < nbyfd * 2)
			want = nbyfd * 2;
		if ((n = reallocarray(byfd, want, sizeof(*byfd))) == NULL)
			fatal("reallocarray");
		memset(n + nbyfd, 0, (want - nbyfd) * sizeof(*n));
		byfd = n;
		nbyfd = want;
	}
	byfd[ls->ls_fd] = ls;
}

void
arrival_forget(struct listener *ls)
{
	if (ls->ls_fd >= 0 && (size_t)ls->ls_fd < nbyfd)
		byfd[ls->ls_fd] = NULL;
	if (ls->ls_index < wt.wt_nino)
		wt.wt_ino[ls->ls_index] = 0;
}

/*
 * What the watcher kills if we die: the running instance of SV (PID, or
 * 0 when there is none) and whoever holds its listeners' sockets.  Only
 * a running service's sockets matter: nothing else of ours holds them.
 */
void
arrival_instance(const struct service *sv, pid_t pid)
{
	const struct listener	*ls;
	struct stat		 st;
	size_t			 i;

	if (sv->sv_index < wt.wt_npid)
		wt.wt_pid[sv->sv_index] = pid;
	for (i = 0; i < sv->sv_nls; i++) {
		ls = &sv->sv_ls[i];
		if (ls->ls_index >= wt.wt_nino)
			continue;
		wt.wt_ino[ls->ls_index] = pid != 0 && ls->ls_fd != -1 &&
		    fstat(ls->ls_fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
	}
}

/*
 * Flags live on the open file the master shares with every instance, so
 * an instance that set O_NONBLOCK (gunicorn, uwsgi, puma do) or dropped
 * O_ASYNC would leave that to the next one.  The master re-arms its own
 * fd before each start: blocking, as systemd passes sockets, and with
 * O_ASYNC if WATCH.  O_ASYNC is switched off and on again so that the
 * registration, and the fd number the kernel reports, are the master's.
 */
int
arrival_arm(int fd, int watch)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETOWN, watch ? watcher_pid : 0) == -1 ||
#ifdef ARRIVAL_SIG
	    fcntl(fd, F_SETSIG, ARRIVAL_SIG) == -1 ||
#endif
	    fcntl(fd, F_SETFL, fl & ~(O_NONBLOCK | O_ASYNC)) == -1 ||
	    (watch && fcntl(fd, F_SETFL, (fl & ~O_NONBLOCK) | O_ASYNC) == -1))
		return -1;
	return 0;
}

/*
 * Arrival signals on or off, by owner: with no owner the kernel sends no
 * signal, and the file's flags, which the service shares, are never
 * rewritten under it.
 */
void
arrival_mute(const struct service *sv, int mute)
{
	size_t	i;
	pid_t	owner = mute || (sv->sv_inst != NULL &&
	    sv->sv_inst->in_nowatch) ? 0 : watcher_pid;

	for (i = 0; i < sv->sv_nls; i++)
		if (sv->sv_ls[i].ls_fd != -1 && fcntl(sv->sv_ls[i].ls_fd,
		    F_SETOWN, owner) == -1)
			log_warn("%s: F_SETOWN on fd %d", sv->sv_conf->sc_name,
			    sv->sv_ls[i].ls_fd);
}

/* Whether a listener's registration is still the one we made. */
static int
arrival_intact(int fd, int fl)
{
	if (!(fl & O_ASYNC) || fcntl(fd, F_GETOWN) != watcher_pid)
		return 0;
#ifdef ARRIVAL_SIG
	if (fcntl(fd, F_GETSIG) != ARRIVAL_SIG)
		return 0;
#endif
	return 1;
}

/*
 * A service may clear O_ASYNC (fcntl(F_SETFL, O_NONBLOCK) does), re-point
 * the owner or change the signal.  Restore all three from the master's fd.
 * Returns 1 if anything had changed: arrivals may have gone unseen, which
 * the caller counts as activity.
 */
int
arrival_reassert(const struct service *sv)
{
	size_t	i;
	int	fd, fl, lost = 0;

	if (watcher_pid == 0 || (sv->sv_inst != NULL &&
	    sv->sv_inst->in_nowatch))
		return 0;
	for (i = 0; i < sv->sv_nls; i++) {
		fd = sv->sv_ls[i].ls_fd;
		if ((fl = fcntl(fd, F_GETFL)) == -1 || arrival_intact(fd, fl))
			continue;
		lost = 1;
		if (fcntl(fd, F_SETFL, fl & ~O_ASYNC) == -1 ||
		    fcntl(fd, F_SETOWN, watcher_pid) == -1 ||
#ifdef ARRIVAL_SIG
		    fcntl(fd, F_SETSIG, ARRIVAL_SIG) == -1 ||
#endif
		    fcntl(fd, F_SETFL, fl | O_ASYNC) == -1)
			log_warn("%s: re-arming fd %d", sv->sv_conf->sc_name,
			    fd);
	}
	if (lost)
		log_debug("%s: the service changed its listeners' arrival "
		    "signalling; set again", sv->sv_conf->sc_name);
	return lost;
}

/*
 * After the watcher died: did this service's listeners carry a signal
 * other than ours?  Then it is the likely culprit (an owner it re-pointed
 * reaches only processes it may signal anyway).
 */
int
arrival_tampered(const struct service *sv)
{
	size_t	i;
	int	fd;

	for (i = 0; i < sv->sv_nls; i++) {
		fd = sv->sv_ls[i].ls_fd;
#ifdef ARRIVAL_SIG
		if (fd != -1 && fcntl(fd, F_GETSIG) != ARRIVAL_SIG)
			return 1;
#else
		(void)fd;
#endif
	}
	return 0;
}
