/*
 * The master's children: a pid -> owner registry, the reap loop that
 * hands each exit to its owner, and the sweep of escapees.
 *
 * On Linux the master is a child subreaper, and so is every service
 * instance (spawn.c sets it before exec; it survives execve).  A process
 * that leaves its service's tree (a double fork, a worker whose parent
 * died) reparents to the instance while the instance lives, and to the
 * master only once the instance itself has exited.  So a child of the
 * master that is not in this registry always belongs to a dead instance:
 * child_reap() kills it, with its process group, and reaps it in turn
 * (its own orphans then come to the master and go the same way).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "soad.h"

#define CHILD_BUCKETS	1024	/* power of two */

struct child {
	struct child	*ch_next;
	pid_t		 ch_pid;
	enum child_kind	 ch_kind;
	void		*ch_owner;
};

static struct child	*buckets[CHILD_BUCKETS];

static struct child **
slot(pid_t pid)
{
	struct child	**cp;

	cp = &buckets[(unsigned long)pid & (CHILD_BUCKETS - 1)];
	while (*cp != NULL && (*cp)->ch_pid != pid)
		cp = &(*cp)->ch_next;
	return cp;
}

/* Become the reaper of every orphan our services leave behind. */
void
child_init(void)
{
#if defined(__linux__) && defined(PR_SET_CHILD_SUBREAPER)
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("cannot become a child subreaper; processes that "
		    "leave a service's session may outlive it");
#endif
}

void
child_add(pid_t pid, enum child_kind kind, void *owner)
{
	struct child	*ch;

	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		fatal("calloc");
	ch->ch_pid = pid;
	ch->ch_kind = kind;
	ch->ch_owner = owner;
	ch->ch_next = buckets[(unsigned long)pid & (CHILD_BUCKETS - 1)];
	buckets[(unsigned long)pid & (CHILD_BUCKETS - 1)] = ch;
}

static struct child *
child_take(pid_t pid)
{
	struct child	**cp = slot(pid), *ch = *cp;

	if (ch != NULL)
		*cp = ch->ch_next;
	return ch;
}

static int
child_known(pid_t pid)
{
	return *slot(pid) != NULL;
}

/* Kill it, and remember whose it was for the orphans it leaves. */
static void
kill_escapee(pid_t pid, void *svc)
{
	if (kill(pid, SIGKILL) == -1)
		return;
	(void)kill(-pid, SIGKILL);	/* its own session or group, if any */
	log_warnx("%s: killed pid %ld that outlived its service "
	    "(services must not daemonize)", svc_name(svc), (long)pid);
	child_add(pid, CHILD_ESCAPEE, svc);
}

#ifdef __linux__
/*
 * Call FN for every process in /proc with its state, parent, process
 * group and session (the watcher uses this too).
 */
void
child_proc_each(void (*fn)(long, const struct proc_stat *, void *),
    void *arg)
{
	DIR		*d;
	struct dirent	*e;
	FILE		*fp;
	struct proc_stat ps;
	char		 path[64], buf[1024], *p, *end;
	long		 pid;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((fp = fopen(path, "re")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), fp);
		fclose(fp);
		/* The command name may hold anything: parse after its ')'. */
		if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %c %ld %ld %ld", &ps.ps_state, &ps.ps_ppid,
		    &ps.ps_pgrp, &ps.ps_sid) != 4)
			continue;
		fn(pid, &ps, arg);
	}
	closedir(d);
}

static void
sweep_one(long pid, const struct proc_stat *ps, void *svc)
{
	if (ps->ps_ppid == (long)getpid() && !child_known((pid_t)pid))
		kill_escapee((pid_t)pid, svc);
}

/* Our children, from the task's children file, else from every stat. */
static void
sweep(void *svc)
{
	char		 path[64];
	FILE		*fp;
	long		 pid;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children",
	    (long)getpid());
	if ((fp = fopen(path, "re")) != NULL) {
		while (fscanf(fp, "%ld", &pid) == 1)
			if (!child_known((pid_t)pid))
				kill_escapee((pid_t)pid, svc);
		fclose(fp);
		return;
	}
	child_proc_each(sweep_one, svc);
}
#else
static void
sweep(void *svc)
{
	(void)svc;
}
#endif

/*
 * Reap every child that has changed state.  A stopped child is reported
 * too: the watcher must never sit stopped (a service can pick SIGSTOP as
 * its arrival signal).
 */
void
child_reap(void)
{
	struct child	*ch;
	struct service	*sv;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED)) > 0) {
		if (WIFSTOPPED(status)) {
			if ((ch = *slot(pid)) != NULL &&
			    ch->ch_kind == CHILD_WATCHER)
				arrival_watcher_stopped(pid);
			/* A stopped check would hang its connection. */
			if (ch != NULL && ch->ch_kind == CHILD_WRAP)
				(void)kill(pid, SIGKILL);
			continue;
		}
		if ((ch = child_take(pid)) == NULL) {
			log_debug("reaped unknown pid %ld", (long)pid);
			continue;
		}
		switch (ch->ch_kind) {
		case CHILD_SERVICE:
			sv = ((struct instance *)ch->ch_owner)->in_svc;
			svc_reaped(ch->ch_owner, status);
			/* Its orphans are ours now, and only its. */
			sweep(sv);
			break;
		case CHILD_ESCAPEE:
			sweep(ch->ch_owner);	/* the service it came from */
			break;
		case CHILD_WATCHER:
			arrival_watcher_exited(pid, status);
			break;
		case CHILD_WRAP:
			wrap_reaped(pid, status);
			break;
		}
		free(ch);
	}
}

void
child_free_all(void)
{
	struct child	*ch;
	size_t		 i;

	for (i = 0; i < CHILD_BUCKETS; i++)
		while ((ch = buckets[i]) != NULL) {
			buckets[i] = ch->ch_next;
			free(ch);
		}
}
