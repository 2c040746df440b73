/*
 * The watcher: a small root process, forked by the master, that the
 * services can hurt instead of the master.
 *
 * 1. It owns the O_ASYNC registration of every running service's
 *    listeners (the master names it with F_SETOWN), so arrival signals
 *    reach it, never the master.  A service shares the listener's open
 *    file and may pick any signal with F_SETSIG: whatever arrives with a
 *    SIGIO-style si_code is forwarded as its si_fd on the arrival pipe;
 *    plain SIGIO (real-time queue overflow, or no F_SETSIG) as -1, "some
 *    listener".  A signal that kills or stops it only costs a restart
 *    (arrival.c).
 *
 * 2. It outlives the master.  It holds the read end of a pipe whose write
 *    end only the master has: EOF means the master is gone, however it
 *    died.  It then SIGKILLs, at once, every service process it can find
 *    from the table the master keeps in shared memory: each instance and
 *    its process group, every process in an instance's session, and (on
 *    Linux) every process that still holds one of the master's listening
 *    sockets.  A new master can then bind every port.
 *
 * It holds no listener and no other fd of the master's but its two pipes.
 */
#include "config.h"

#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "soad.h"

static int			 watch_out = -1;
static volatile sig_atomic_t	 watch_overflow;

static void
watch_signal(int sig, siginfo_t *si, void *uc)
{
	int	saved = errno, fd;

	(void)uc;
#if defined(F_SETSIG) && defined(POLL_IN) && defined(POLL_HUP)
	if (si->si_code >= POLL_IN && si->si_code <= POLL_HUP)
		fd = si->si_fd;
	else
#endif
	if (sig == SIGIO && si->si_code != SI_USER && si->si_code != SI_QUEUE)
		fd = -1;
	else
		return;		/* kill(2) from someone: not an arrival */
	if (write(watch_out, &fd, sizeof(fd)) != (ssize_t)sizeof(fd))
		watch_overflow = 1;
	errno = saved;
}

static void
watch_signals(void)
{
	struct sigaction	sa;
	sigset_t		set;
	int			sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = watch_signal;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		/* A fault is a fault: die and be restarted, never loop. */
		if (!conf_signal_keeps_default(sig))
			(void)sigaction(sig, &sa, NULL);
	}
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

#ifdef __linux__
static int
table_has_pid(const struct watch_table *wt, long pid)
{
	size_t	i;

	for (i = 0; i < wt->wt_npid; i++)
		if (wt->wt_pid[i] > 0 && wt->wt_pid[i] == pid)
			return 1;
	return 0;
}

static int
holds_listener(const struct watch_table *wt, const char *pid)
{
	char			 path[600], target[64];
	DIR			*d;
	struct dirent		*e;
	unsigned long long	 ino;
	ssize_t			 n;
	size_t			 i;
	int			 found = 0;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, e->d_name);
		if ((n = readlink(path, target, sizeof(target) - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%llu]", &ino) != 1)
			continue;
		for (i = 0; i < wt->wt_nino; i++)
			if (wt->wt_ino[i] != 0 && wt->wt_ino[i] == ino)
				found = 1;
	}
	closedir(d);
	return found;
}

struct sweep_ctx {
	const struct watch_table	*sw_wt;
	int				 sw_killed;
};

static void
sweep_one(long pid, const struct proc_stat *ps, void *arg)
{
	struct sweep_ctx	*sw = arg;
	char			 name[32];

	if (pid <= 1 || pid == (long)getpid() || ps->ps_state == 'Z')
		return;
	snprintf(name, sizeof(name), "%ld", pid);
	if ((table_has_pid(sw->sw_wt, ps->ps_sid) ||
	    table_has_pid(sw->sw_wt, ps->ps_pgrp) ||
	    holds_listener(sw->sw_wt, name)) && kill((pid_t)pid, SIGKILL) == 0)
		sw->sw_killed++;
}

/* Every process of the dead master's services; returns how many. */
static int
sweep_proc(const struct watch_table *wt)
{
	struct sweep_ctx	sw = { wt, 0 };

	child_proc_each(sweep_one, &sw);
	return sw.sw_killed;
}
#endif

static void
sweep(const struct watch_table *wt)
{
	size_t	i;
	int	n = 0, round, more, any = 0;

	/* A clean exit leaves nothing behind: no need to look. */
	for (i = 0; i < wt->wt_npid; i++)
		any |= wt->wt_pid[i] > 0;
	for (i = 0; i < wt->wt_nino; i++)
		any |= wt->wt_ino[i] != 0;
	if (!any)
		return;
	for (i = 0; i < wt->wt_npid; i++) {
		if (wt->wt_pid[i] <= 0)
			continue;
		(void)kill(-wt->wt_pid[i], SIGKILL);
		if (kill(wt->wt_pid[i], SIGKILL) == 0)
			n++;
	}
#ifdef __linux__
	/* A few rounds: a process may fork while we look. */
	for (round = 0; round < 5; round++) {
		if ((more = sweep_proc(wt)) == 0)
			break;
		n += more;
	}
#else
	(void)round;
	(void)more;
#endif
	if (n > 0)
		log_warnx("watcher: the master is gone; killed %d service "
		    "process%s", n, n == 1 ? "" : "es");
}

/* The watcher's life: forward arrivals until the master goes. */
void
watcher_main(int life, int out, const struct watch_table *wt)
{
	struct pollfd	pfd;
	int		fd = -1;

	watch_out = out;
#ifdef __linux__
	(void)prctl(PR_SET_NAME, "soad-watcher");
#endif
	(void)setpgid(0, 0);	/* no terminal signals meant for soad */
	watch_signals();
	pfd.fd = life;
	pfd.events = POLLIN;
	for (;;) {
		if (watch_overflow) {
			watch_overflow = 0;
			if (write(out, &fd, sizeof(fd)) != (ssize_t)sizeof(fd))
				watch_overflow = 1;
		}
		if (poll(&pfd, 1, -1) > 0)
			break;	/* EOF: the master is gone */
	}
	signal(SIGPIPE, SIG_IGN);
	sweep(wt);
	_exit(0);
}
