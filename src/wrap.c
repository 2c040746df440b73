/*
 * tcp_wrappers checks, master side.  libwrap may block on DNS or ident
 * lookups, is not thread-safe, and its options change the process that
 * runs them, so the master never calls it, nor even links it: a pool of
 * helper processes running the soad-wrap program (wrapd.c) does, one
 * check at a time each.  A helper is started with posix_spawn (no copy
 * of the master's memory), its channel at fd 3, every signal default.
 *
 * A check sends {id, daemon name} and a copy of the connection
 * (SCM_RIGHTS) over the helper's SOCK_SEQPACKET channel; the helper
 * answers {id, verdict}.  The master never blocks: the pool grows while
 * every helper is busy (up to WRAP_MAXHELPERS), then requests wait in a
 * bounded queue; past that they fail.  The first helper is kept; extra
 * ones idle for WRAP_IDLE seconds are retired (their channel closed:
 * they exit when they see EOF), so a retirement never races a request.
 * A helper that dies fails its request, and the next request starts a
 * new one.  Every verdict reaches its caller from the event loop
 * (ev_done), never from inside wrap_check().
 *
 * Owns: each helper's channel (master end) and process (registered in
 * child.c as CHILD_WRAP; wrap_reaped() is its exit).  The helper
 * program's path is found once, by wrap_prepare(), before start-up goes
 * any further.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "soad.h"

#define WRAP_MAXHELPERS	32
#define WRAP_MAXQUEUE	4096	/* requests waiting for a helper */
#define WRAP_IDLE	60	/* seconds before an extra helper retires */
#define WRAP_LOGBURST	10	/* trouble lines a second, then a summary */

enum rq_state { RQ_QUEUED, RQ_SENT, RQ_DONE };

struct wrap_req {
	TAILQ_ENTRY(wrap_req)	 rq_entry;
	enum rq_state		 rq_state;
	uint32_t		 rq_id;
	int			 rq_fd;
	char			*rq_daemon;
	wrap_done_fn		 rq_fn;		/* NULL: cancelled in flight */
	void			*rq_arg;
	enum wrap_verdict	 rq_verdict;
};

struct helper {
	TAILQ_ENTRY(helper)	 hp_entry;
	pid_t			 hp_pid;
	int			 hp_fd;		/* -1: channel closed */
	struct event		*hp_ev;
	struct wrap_req		*hp_req;	/* in flight, or NULL */
	time_t			 hp_idle;	/* idle since (monotonic) */
	int			 hp_killed;	/* by us */
};

TAILQ_HEAD(req_list, wrap_req);
TAILQ_HEAD(helper_list, helper);

extern char			**environ;

static struct event_base	*wbase;
static char			 helper_prog[PATH_MAX];	/* "": not found */
static int			 helper_debug;	/* -d: it logs to stderr */
static char			*allow_path, *deny_path;
static struct helper_list	 helpers = TAILQ_HEAD_INITIALIZER(helpers);
static struct req_list		 queue = TAILQ_HEAD_INITIALIZER(queue);
static struct req_list		 done = TAILQ_HEAD_INITIALIZER(done);
static size_t			 nqueue, nlive;	/* live: channel open */
static struct event		*ev_done, *ev_idle;
static uint32_t			 next_id;
static time_t			 log_window;
static int			 log_count;

static void	dispatch(void);

static time_t
now_sec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Trouble an attacker may repeat: at most WRAP_LOGBURST lines a second. */
static int
log_allowed(void)
{
	time_t	now = now_sec();

	if (now != log_window) {
		if (log_count > WRAP_LOGBURST)
			log_warnx("wrap: %d more such lines suppressed",
			    log_count - WRAP_LOGBURST);
		log_window = now;
		log_count = 0;
	}
	return ++log_count <= WRAP_LOGBURST;
}

static void
req_free(struct wrap_req *rq)
{
	free(rq->rq_daemon);
	free(rq);
}

/* The verdict goes to the caller from the event loop. */
static void
req_finish(struct wrap_req *rq, enum wrap_verdict v)
{
	if (rq->rq_fn == NULL) {
		req_free(rq);
		return;
	}
	rq->rq_verdict = v;
	rq->rq_state = RQ_DONE;
	TAILQ_INSERT_TAIL(&done, rq, rq_entry);
	event_active(ev_done, EV_TIMEOUT, 0);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wrap_req		*rq;
	wrap_done_fn		 fn;
	enum wrap_verdict	 v;

	(void)fd;
	(void)what;
	(void)arg;
	while ((rq = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, rq, rq_entry);
		fn = rq->rq_fn;
		arg = rq->rq_arg;
		v = rq->rq_verdict;
		req_free(rq);
		fn(arg, v);
	}
}

static void
idle_arm(void)
{
	struct timeval	tv = { WRAP_IDLE, 0 };

	if (nlive > 1 && !evtimer_pending(ev_idle, NULL) &&
	    evtimer_add(ev_idle, &tv) == -1)
		log_warnx("wrap: cannot arm the idle timer");
}

/* Close the channel: the helper is gone for new work. */
static void
helper_close(struct helper *hp)
{
	if (hp->hp_fd == -1)
		return;
	if (hp->hp_ev != NULL)
		event_free(hp->hp_ev);
	hp->hp_ev = NULL;
	close(hp->hp_fd);
	hp->hp_fd = -1;
	nlive--;
}

/* Its work is lost: fail the request; KILL if it may still run. */
static void
helper_lost(struct helper *hp, int kill_it)
{
	struct wrap_req	*rq;

	helper_close(hp);
	if (kill_it && !hp->hp_killed) {
		(void)kill(hp->hp_pid, SIGKILL);
		hp->hp_killed = 1;
	}
	if ((rq = hp->hp_req) != NULL) {
		hp->hp_req = NULL;
		req_finish(rq, WRAP_FAILED);
	}
}

/* Read answers; 0 if the channel is still good. */
static int
helper_drain(struct helper *hp)
{
	struct wrap_reply	 rep;
	struct wrap_req		*rq;
	ssize_t			 n;

	for (;;) {
		n = recv(hp->hp_fd, &rep, sizeof(rep), MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return 0;
		if (n == 0 || (n == -1 && errno == ECONNRESET)) {
			errno = 0;	/* it is going */
			return -1;
		}
		if (n != (ssize_t)sizeof(rep) || (rq = hp->hp_req) == NULL ||
		    rep.wr_id != rq->rq_id || rep.wr_verdict > WRAP_FAILED) {
			errno = EPROTO;
			return -1;
		}
		hp->hp_req = NULL;
		hp->hp_idle = now_sec();
		req_finish(rq, (enum wrap_verdict)rep.wr_verdict);
	}
}

static void
helper_read(evutil_socket_t fd, short what, void *arg)
{
	struct helper	*hp = arg;

	(void)fd;
	(void)what;
	/* EOF: it is exiting, and its reaping says why.  Garbage: kill. */
	if (helper_drain(hp) == -1)
		helper_lost(hp, errno != 0);
	else
		idle_arm();
	dispatch();
}

/* The helper's process: fd 0 /dev/null, 1 and 2 ours, 3 its end of
 * the channel (CHAN), nothing else (ours are close-on-exec); every
 * signal default and none blocked; a process group of its own.  0 or
 * an errno. */
static int
helper_spawn(int chan, pid_t *pid)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 sa;
	sigset_t			 none, dfl;
	char				 master[24], *argv[6];
	int				 n = 0, error;

	(void)snprintf(master, sizeof(master), "%ld", (long)getpid());
	argv[n++] = (char *)WRAP_PROG;
	if (helper_debug)
		argv[n++] = (char *)"-d";
	argv[n++] = master;
	argv[n++] = allow_path;
	argv[n++] = deny_path;
	argv[n] = NULL;
	sigemptyset(&none);
	/* Not KILL and STOP: some posix_spawns fail on them. */
	sigfillset(&dfl);
	sigdelset(&dfl, SIGKILL);
	sigdelset(&dfl, SIGSTOP);
	if ((error = posix_spawn_file_actions_init(&fa)) != 0)
		return error;
	if ((error = posix_spawnattr_init(&sa)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return error;
	}
	if ((error = posix_spawn_file_actions_adddup2(&fa, chan, 3)) == 0 &&
	    (error = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
	    O_RDONLY, 0)) == 0 &&
	    (error = posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP)) == 0 &&
	    (error = posix_spawnattr_setsigmask(&sa, &none)) == 0 &&
	    (error = posix_spawnattr_setsigdefault(&sa, &dfl)) == 0 &&
	    (error = posix_spawnattr_setpgroup(&sa, 0)) == 0)
		error = posix_spawn(pid, helper_prog, &fa, &sa, argv, environ);
	posix_spawnattr_destroy(&sa);
	posix_spawn_file_actions_destroy(&fa);
	return error;
}

static struct helper *
helper_start(void)
{
	struct helper	*hp;
	pid_t		 pid;
	int		 sv[2], fd, error;

	if ((hp = calloc(1, sizeof(*hp))) == NULL)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("wrap: socketpair");
		free(hp);
		return NULL;
	}
	/* A dup2 onto itself would leave close-on-exec set: the helper's
	 * end must not be fd 3 already. */
	if (sv[1] == 3) {
		if ((fd = fcntl(sv[1], F_DUPFD_CLOEXEC, 4)) == -1) {
			log_warn("wrap: fcntl");
			close(sv[0]);
			close(sv[1]);
			free(hp);
			return NULL;
		}
		close(sv[1]);
		sv[1] = fd;
	}
	error = helper_spawn(sv[1], &pid);
	close(sv[1]);
	if (error != 0) {
		errno = error;
		if (log_allowed())
			log_warn("wrap: cannot start a helper, %s",
			    helper_prog);
		close(sv[0]);
		free(hp);
		return NULL;
	}
	child_add(pid, CHILD_WRAP, NULL);
	hp->hp_pid = pid;
	hp->hp_fd = sv[0];
	hp->hp_idle = now_sec();
	TAILQ_INSERT_TAIL(&helpers, hp, hp_entry);
	nlive++;
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1 ||
	    (hp->hp_ev = event_new(wbase, sv[0], EV_READ | EV_PERSIST,
	    helper_read, hp)) == NULL || event_add(hp->hp_ev, NULL) == -1) {
		log_warnx("wrap: cannot watch helper pid %ld", (long)pid);
		helper_lost(hp, 1);
		return NULL;
	}
	log_debug("wrap: started helper pid %ld", (long)pid);
	return hp;
}

static int
helper_send(struct helper *hp, struct wrap_req *rq)
{
	struct wrap_msg	 msg;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cbuf;
	size_t		 len = strlen(rq->rq_daemon) + 1;

	memset(&msg, 0, sizeof(msg));
	msg.wm_id = rq->rq_id;
	memcpy(msg.wm_daemon, rq->rq_daemon, len);
	iov.iov_base = &msg;
	iov.iov_len = offsetof(struct wrap_msg, wm_daemon) + len;
	memset(&mh, 0, sizeof(mh));
	memset(&cbuf, 0, sizeof(cbuf));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &rq->rq_fd, sizeof(int));
	if (sendmsg(hp->hp_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
		return -1;
	rq->rq_state = RQ_SENT;
	hp->hp_req = rq;
	return 0;
}

/* The idle helper used last: the others may then idle out. */
static struct helper *
helper_idle(void)
{
	struct helper	*hp, *best = NULL;

	TAILQ_FOREACH(hp, &helpers, hp_entry)
		if (hp->hp_fd != -1 && hp->hp_req == NULL &&
		    (best == NULL || hp->hp_idle >= best->hp_idle))
			best = hp;
	return best;
}

/* Hand queued requests to free helpers, starting helpers as needed. */
static void
dispatch(void)
{
	struct wrap_req	*rq;
	struct helper	*hp;

	while ((rq = TAILQ_FIRST(&queue)) != NULL) {
		if ((hp = helper_idle()) == NULL && nlive < WRAP_MAXHELPERS)
			hp = helper_start();
		if (hp == NULL)
			break;
		TAILQ_REMOVE(&queue, rq, rq_entry);
		nqueue--;
		if (helper_send(hp, rq) == -1) {
			if (log_allowed())
				log_warn("wrap: %s: sending to helper pid %ld",
				    rq->rq_daemon, (long)hp->hp_pid);
			/* EBADF: the caller's fd, not the helper. */
			if (errno != EBADF)
				helper_lost(hp, 1);
			req_finish(rq, WRAP_FAILED);
		}
	}
	/* No helper at all and none can be started: nobody will answer. */
	if (nlive == 0)
		while ((rq = TAILQ_FIRST(&queue)) != NULL) {
			TAILQ_REMOVE(&queue, rq, rq_entry);
			nqueue--;
			req_finish(rq, WRAP_FAILED);
		}
}

/* Retire extra helpers idle for WRAP_IDLE seconds; keep one. */
static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct helper	*hp;
	time_t		 now = now_sec();

	(void)fd;
	(void)what;
	(void)arg;
	TAILQ_FOREACH(hp, &helpers, hp_entry)
		if (nlive > 1 && hp->hp_fd != -1 && hp->hp_req == NULL &&
		    now - hp->hp_idle >= WRAP_IDLE) {
			log_debug("wrap: retiring idle helper pid %ld",
			    (long)hp->hp_pid);
			helper_close(hp);
		}
	idle_arm();
}

#ifdef HAVE_LIBWRAP
static int
is_program(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(path, X_OK) == 0;
}
#endif

/*
 * Find the helper program, before the master daemonizes (a missing one
 * is then said on stderr, and by -n): soad-wrap beside the running soad
 * if there is one, else the installed one.  The first is what lets soad
 * run from its build tree (the test suite does); it trusts no one new:
 * only whoever could replace soad itself can write its directory.
 * TOSTDERR: the helpers log to stderr, as the master does with -d.
 * -1, logged, if neither is an executable file.
 */
int
wrap_prepare(int tostderr)
{
#ifndef HAVE_LIBWRAP
	(void)tostderr;
	log_warnx("wrap: soad was built without libwrap");
	errno = ENOTSUP;
	return -1;
#else
	char		 beside[PATH_MAX];
	const char	*installed = PKGLIBEXECDIR "/" WRAP_PROG;

	helper_debug = tostderr;
	beside[0] = '\0';
#ifdef __linux__
	{
		char	*slash;
		ssize_t	 n;

		n = readlink("/proc/self/exe", beside, sizeof(beside) - 1);
		beside[n > 0 ? n : 0] = '\0';
		if ((slash = strrchr(beside, '/')) != NULL &&
		    (size_t)(slash + 1 - beside) + sizeof(WRAP_PROG) <=
		    sizeof(beside))
			memcpy(slash + 1, WRAP_PROG, sizeof(WRAP_PROG));
		else
			beside[0] = '\0';
	}
#endif
	if (beside[0] != '\0' && is_program(beside)) {
		memcpy(helper_prog, beside, strlen(beside) + 1);
		return 0;
	}
	if (is_program(installed) && strlen(installed) < sizeof(helper_prog)) {
		memcpy(helper_prog, installed, strlen(installed) + 1);
		return 0;
	}
	log_warnx("wrap: tcp_wrappers checks need the %s program: no "
	    "executable %s%s%s", WRAP_PROG, beside, beside[0] != '\0' ?
	    " nor " : "", installed);
	helper_prog[0] = '\0';
	errno = ENOENT;
	return -1;
#endif
}

/*
 * Set up the checks; ALLOW and DENY are the hosts.allow and hosts.deny
 * paths the helpers read.  After wrap_prepare(); starts the first
 * helper.
 */
int
wrap_init(struct event_base *base, const char *allow, const char *deny)
{
#ifndef HAVE_LIBWRAP
	(void)base;
	(void)allow;
	(void)deny;
	log_warnx("wrap: soad was built without libwrap");
	errno = ENOTSUP;
	return -1;
#else
	if (wbase != NULL) {
		errno = EALREADY;
		return -1;
	}
	if (helper_prog[0] == '\0') {
		errno = ENOENT;	/* wrap_prepare() first */
		return -1;
	}
	if ((allow_path = strdup(allow)) == NULL ||
	    (deny_path = strdup(deny)) == NULL ||
	    (ev_done = event_new(base, -1, 0, done_cb, NULL)) == NULL ||
	    (ev_idle = evtimer_new(base, idle_cb, NULL)) == NULL) {
		wrap_shutdown();
		errno = ENOMEM;
		return -1;
	}
	wbase = base;
	(void)helper_start();	/* on demand later if this failed */
	return 0;
#endif
}

static int
is_inet(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

/*
 * Check connection FD for DAEMON; FN(ARG, verdict) is called once, from
 * the event loop, unless wrap_cancel() comes first.  FD must stay open
 * until then (the helper gets its own copy).  NULL only if not even the
 * request could be made.
 */
struct wrap_req *
wrap_check(int fd, const char *daemon, wrap_done_fn fn, void *arg)
{
	struct wrap_req	*rq;

	if (wbase == NULL || fn == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((rq = calloc(1, sizeof(*rq))) == NULL ||
	    (rq->rq_daemon = strdup(daemon)) == NULL) {
		free(rq);
		return NULL;
	}
	rq->rq_id = ++next_id;
	rq->rq_fd = fd;
	rq->rq_fn = fn;
	rq->rq_arg = arg;
	if (strlen(daemon) >= WRAP_NAMEMAX) {
		log_warnx("wrap: daemon name %.32s... too long; refused",
		    daemon);
		req_finish(rq, WRAP_FAILED);
	} else if (!is_inet(fd)) {
		/* The callers check TCP only; a UNIX peer has no address. */
		log_warnx("wrap: %s: not a TCP/IP connection, no address to "
		    "check; refused", daemon);
		req_finish(rq, WRAP_DENY);
	} else if (nqueue >= WRAP_MAXQUEUE) {
		if (log_allowed())
			log_warnx("wrap: %s: %d checks waiting already; "
			    "refused", daemon, WRAP_MAXQUEUE);
		req_finish(rq, WRAP_FAILED);
	} else {
		rq->rq_state = RQ_QUEUED;
		TAILQ_INSERT_TAIL(&queue, rq, rq_entry);
		nqueue++;
		dispatch();
	}
	return rq;
}

/* The caller no longer wants the verdict: FN will not be called. */
void
wrap_cancel(struct wrap_req *rq)
{
	switch (rq->rq_state) {
	case RQ_QUEUED:
		TAILQ_REMOVE(&queue, rq, rq_entry);
		nqueue--;
		req_free(rq);
		break;
	case RQ_SENT:
		rq->rq_fn = NULL;	/* freed when its answer comes */
		break;
	case RQ_DONE:
		TAILQ_REMOVE(&done, rq, rq_entry);
		req_free(rq);
		break;
	}
}

/* A helper exited (child.c). */
void
wrap_reaped(pid_t pid, int status)
{
	struct helper	*hp;

	TAILQ_FOREACH(hp, &helpers, hp_entry)
		if (hp->hp_pid == pid)
			break;
	if (hp == NULL)
		return;
	/* An answer it wrote before dying still counts. */
	if (hp->hp_fd != -1)
		(void)helper_drain(hp);
	if (((WIFSIGNALED(status) && !hp->hp_killed) ||
	    (WIFEXITED(status) && WEXITSTATUS(status) != 0)) &&
	    log_allowed())
		log_warnx("wrap: helper pid %ld %s %d%s", (long)pid,
		    WIFSIGNALED(status) ? "killed by signal" :
		    "exited with status", WIFSIGNALED(status) ?
		    WTERMSIG(status) : WEXITSTATUS(status),
		    hp->hp_req != NULL ? "; its check failed" : "");
	helper_lost(hp, 0);
	TAILQ_REMOVE(&helpers, hp, hp_entry);
	free(hp);
	dispatch();
}

/* At exit: every helper killed and reaped, requests dropped unanswered. */
void
wrap_shutdown(void)
{
	struct helper	*hp;
	struct wrap_req	*rq;

	while ((hp = TAILQ_FIRST(&helpers)) != NULL) {
		TAILQ_REMOVE(&helpers, hp, hp_entry);
		if (hp->hp_req != NULL)
			req_free(hp->hp_req);
		helper_close(hp);
		(void)kill(hp->hp_pid, SIGKILL);
		while (waitpid(hp->hp_pid, NULL, 0) == -1 && errno == EINTR)
			;
		free(hp);
	}
	while ((rq = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, rq, rq_entry);
		req_free(rq);
	}
	while ((rq = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, rq, rq_entry);
		req_free(rq);
	}
	if (ev_done != NULL)
		event_free(ev_done);
	if (ev_idle != NULL)
		event_free(ev_idle);
	ev_done = ev_idle = NULL;
	free(allow_path);
	free(deny_path);
	allow_path = deny_path = NULL;
	nqueue = nlive = 0;
	wbase = NULL;
}
