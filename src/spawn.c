/*
 * Starting a service process from an explicit fd plan.  The child sees
 * exactly the plan's fds: target fd i gets the plan's source fd i (or
 * /dev/null for -1) for every i below sp_nfd, and nothing else: every
 * other fd is closed before exec.  Signal handlers are reset and the mask
 * emptied, whatever the master uses; it runs in its own session;
 * privileges are dropped for good (groups, gid, uid, then verified); on
 * Linux it dies with SIGKILL when the master dies and is the subreaper of
 * its own descendants.  On any failure it exits 127 and
 * "soad: cannot start: WHAT: STRERROR" reaches the plan's fd 2 (unless
 * that is /dev/null).
 *
 * On Linux the child is a clone(CLONE_VM | CLONE_VFORK) on a stack of its
 * own: it borrows the master's address space until execve, so a start
 * costs the same whatever the master's size (fork copies its page tables
 * and they grow with the number of services).  The master is suspended
 * meanwhile, and the child may touch nothing the master could be using:
 * no malloc, no stdio, no NSS, no locale.  So everything is prepared in
 * the parent: argv, the whole environment (LISTEN_PID as a buffer the
 * child fills with its own pid), the supplementary groups and the
 * user's passwd fields.  The child only makes system calls, and writes
 * its failure (what, errno) into the shared memory for the parent to
 * format.  Elsewhere a plain fork() runs the same child code.
 *
 * No fd is created in the master; what spawn_service allocates is freed
 * before it returns.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#ifdef __linux__
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "soad.h"

/* -DSPAWN_FORK builds the portable fork() path on Linux too, to test it. */
#if defined(__linux__) && defined(CLONE_VM) && defined(CLONE_VFORK) && \
    !defined(SPAWN_FORK)
#define SPAWN_CLONE	1
#endif

/* Raw credential syscalls in the child: glibc's wrappers may broadcast
 * to the master's threads, and where 16-bit ids were the original ABI
 * the plain numbers are the 16-bit calls. */
#ifdef SPAWN_CLONE
#ifdef SYS_setresuid32
#define NR_SETGROUPS	SYS_setgroups32
#define NR_SETRESGID	SYS_setresgid32
#define NR_SETRESUID	SYS_setresuid32
#define NR_GETRESGID	SYS_getresgid32
#define NR_GETRESUID	SYS_getresuid32
#define NR_SETUID	SYS_setuid32
#else
#define NR_SETGROUPS	SYS_setgroups
#define NR_SETRESGID	SYS_setresgid
#define NR_SETRESUID	SYS_setresuid
#define NR_GETRESGID	SYS_getresgid
#define NR_GETRESUID	SYS_getresuid
#define NR_SETUID	SYS_setuid
#endif
#define SPAWN_STACK	(256 * 1024)	/* touched: a few KiB */
#endif

/*
 * ASan does not know the child's stack: it warns at the first noreturn
 * call there, then reports false stack errors in the master.  The
 * child's code is left uninstrumented instead.
 */
#if defined(__SANITIZE_ADDRESS__)
#define CHILD_CODE	__attribute__((__no_sanitize_address__))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHILD_CODE	__attribute__((__no_sanitize_address__))
#endif
#endif
#ifndef CHILD_CODE
#define CHILD_CODE
#endif

#define DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
			"/sbin:/bin"
#define PIDLEN		24		/* digits of any pid_t, and the NUL */

/* What the parent prepares and the child reads (or, failing, writes). */
struct child {
	const struct svc_conf	 *ch_sc;
	const struct spawn_plan	 *ch_plan;
	char			**ch_env;
	char			 *ch_pidbuf;	/* LISTEN_PID's value, or NULL */
	gid_t			 *ch_groups;	/* for setgroups */
	int			  ch_ngroups;	/* -1: no privilege drop */
	pid_t			  ch_master;
	const char		 *ch_fail;	/* set by a failing child */
	int			  ch_errno;
};

static struct rlimit	orig_nofile;	/* before the master raised it */
static int		have_orig_nofile;
#ifdef SPAWN_CLONE
static char		*child_stack;
#endif

/*
 * The master may need thousands of fds (one per listener); services get
 * the limit soad was started with, as select()-based code expects.
 */
void
spawn_init(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &orig_nofile) == -1)
		return;
	have_orig_nofile = 1;
	rl = orig_nofile;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* Pass mode: fd 0 /dev/null (or the first listener), 1 and 2 the output
 * pipe, the listeners from fd 3 in config order, named for LISTEN_*. */
void
spawn_plan_pass(struct spawn_plan *sp, const struct service *sv, int outfd)
{
	size_t	i;

	memset(sp, 0, sizeof(*sp));
	sp->sp_fd[0] = sv->sv_conf->sc_fd0 && sv->sv_nls > 0 ?
	    sv->sv_ls[0].ls_fd : -1;
	sp->sp_fd[1] = sp->sp_fd[2] = outfd;
	for (i = 0; i < sv->sv_nls && i < SOAD_MAXLISTEN; i++) {
		sp->sp_fd[3 + i] = sv->sv_ls[i].ls_fd;
		sp->sp_fdname[i] = sv->sv_ls[i].ls_conf->lc_fdname;
	}
	sp->sp_nlisten = i;
	sp->sp_nfd = 3 + i;
}

/*
 * The child's one way out on failure.  Under CLONE_VM the parent, which
 * resumes only after this exit, formats the message: strerror may
 * allocate or take locale locks.  After fork the child can do it.
 */
static CHILD_CODE __attribute__((__noreturn__)) void
child_fail(struct child *ch, const char *what)
{
	ch->ch_fail = what;
	ch->ch_errno = errno;
#ifndef SPAWN_CLONE
	if (!ch->ch_plan->sp_logfail)
		dprintf(STDERR_FILENO, "soad: cannot start: %s: %s\n", what,
		    strerror(ch->ch_errno));
#endif
	_exit(127);
}

/*
 * Every signal to its default, the mask empty.  On Linux the raw
 * rt_sigaction syscall: glibc's sigaction() refuses its reserved signals
 * (32, 33), yet an ignored one is inherited across exec like any other.
 * An all-zero struct is SIG_DFL, no flags and an empty mask whatever the
 * architecture's layout, as SIG_DFL is 0.  The child has its own copy of
 * the handlers (no CLONE_SIGHAND): the master's stay as they are.
 */
static CHILD_CODE void
reset_signals(void)
{
	sigset_t		set;
	int			sig;
#if defined(__linux__) && defined(SYS_rt_sigaction)
	static const unsigned long zero[8];

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)syscall(SYS_rt_sigaction, sig, zero, NULL,
			    (size_t)(NSIG / 8));
#else
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);	/* EINVAL for KILL/STOP */
#endif
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/*
 * Copy every planned source above the target range first, so a target
 * slot that holds a source (or any master fd) is never overwritten
 * before it is copied; dup2 then clears close-on-exec, and closefrom
 * drops the copies with everything else.
 */
static CHILD_CODE void
layout_fds(struct child *ch)
{
	const struct spawn_plan	*sp = ch->ch_plan;
	int			 high[SPAWN_MAXFD], null = -1, src, n, i;

	n = (int)sp->sp_nfd;
	for (i = 0; i < n; i++) {
		if ((src = sp->sp_fd[i]) == -1) {
			if (null == -1 && (null = open("/dev/null", O_RDWR |
			    O_CLOEXEC)) == -1)
				child_fail(ch, "/dev/null");
			src = null;
		}
		if ((high[i] = fcntl(src, F_DUPFD_CLOEXEC, n)) == -1)
			child_fail(ch, "dup");
	}
	for (i = 0; i < n; i++)
		if (dup2(high[i], i) == -1)
			child_fail(ch, "dup2");
	/* The lowest numbers are the plan's; /dev/null, if it was opened
	 * below n, was just replaced by a target. */
	closefrom(n);
}

static CHILD_CODE void
set_limits(struct child *ch)
{
	const struct svc_conf	*sc = ch->ch_sc;
	struct rlimit		 rl;
	int			 k;

	if (have_orig_nofile && !(sc->sc_limitset & (1U << LIM_NOFILE)) &&
	    setrlimit(RLIMIT_NOFILE, &orig_nofile) == -1)
		child_fail(ch, "setrlimit");
	for (k = 0; k < LIM_COUNT; k++) {
		if (!(sc->sc_limitset & (1U << k)))
			continue;
		rl.rlim_cur = rl.rlim_max = sc->sc_limits[k].lm_value;
		if (setrlimit(conf_limit_resource((enum limit_kind)k), &rl)
		    == -1)
			child_fail(ch, "setrlimit");
	}
}

#ifdef SPAWN_CLONE
#define child_getpid()		((long)syscall(SYS_getpid))
#define c_setgroups(n, g)	syscall(NR_SETGROUPS, (n), (g))
#define c_setresgid(r, e, s)	syscall(NR_SETRESGID, (r), (e), (s))
#define c_setresuid(r, e, s)	syscall(NR_SETRESUID, (r), (e), (s))
#define c_getresgid(r, e, s)	syscall(NR_GETRESGID, (r), (e), (s))
#define c_getresuid(r, e, s)	syscall(NR_GETRESUID, (r), (e), (s))
#define c_setuid(u)		syscall(NR_SETUID, (u))
#else
#define child_getpid()		((long)getpid())
#define c_setgroups(n, g)	setgroups((n), (g))
#define c_setresgid(r, e, s)	setresgid((r), (e), (s))
#define c_setresuid(r, e, s)	setresuid((r), (e), (s))
#define c_getresgid(r, e, s)	getresgid((r), (e), (s))
#define c_getresuid(r, e, s)	getresuid((r), (e), (s))
#define c_setuid(u)		setuid(u)
#endif

/* The group list comes from the parent (getgrouplist needs NSS). */
static CHILD_CODE void
drop_privileges(struct child *ch)
{
	const struct svc_conf	*sc = ch->ch_sc;
	uid_t			 ru, eu, su;
	gid_t			 rg, eg, sg;

	if (ch->ch_ngroups < 0)
		return;
	if (c_setgroups((size_t)ch->ch_ngroups, ch->ch_groups) == -1)
		child_fail(ch, "setgroups");
	if (c_setresgid(sc->sc_gid, sc->sc_gid, sc->sc_gid) == -1)
		child_fail(ch, "setresgid");
	if (c_setresuid(sc->sc_uid, sc->sc_uid, sc->sc_uid) == -1)
		child_fail(ch, "setresuid");
	if (c_getresgid(&rg, &eg, &sg) == -1 ||
	    c_getresuid(&ru, &eu, &su) == -1)
		child_fail(ch, "getresuid");
	if (rg != sc->sc_gid || eg != sc->sc_gid || sg != sc->sc_gid ||
	    ru != sc->sc_uid || eu != sc->sc_uid || su != sc->sc_uid) {
		errno = EPERM;
		child_fail(ch, "privilege drop did not stick");
	}
	if (sc->sc_uid != 0 && c_setuid(0) != -1) {
		errno = EPERM;
		child_fail(ch, "could regain root");
	}
}

/* Decimal, right here: snprintf is not for a CLONE_VM child. */
static CHILD_CODE void
fmt_pid(char *buf, long pid)
{
	char	tmp[PIDLEN];
	size_t	n = 0, i;

	do {
		tmp[n++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0 && n < sizeof(tmp) - 1);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
}

static CHILD_CODE int
child_main(void *arg)
{
	struct child		*ch = arg;
	const struct svc_conf	*sc = ch->ch_sc;

	reset_signals();
	if (setsid() == -1)
		child_fail(ch, "setsid");
	layout_fds(ch);
	set_limits(ch);
	drop_privileges(ch);
#ifdef __linux__
	/*
	 * If the master dies, nobody would ever stop this instance, and it
	 * would keep ports a restarted master must bind: SIGKILL, not the
	 * stop-signal, which the service may ignore.  Set after the
	 * privilege drop, which clears it; a master that died before this
	 * point is caught by getppid().
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		child_fail(ch, "prctl(PR_SET_PDEATHSIG)");
	if (getppid() != ch->ch_master) {
		errno = ESRCH;
		child_fail(ch, "master exited");
	}
	/*
	 * The instance is the subreaper of everything it starts (the
	 * attribute survives execve): a process its descendants orphan,
	 * such as a double-forked daemon, is re-parented to the instance
	 * while it lives, never straight to the master.  So a child the
	 * master does not know is an escapee of an instance that died.
	 */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		child_fail(ch, "prctl(PR_SET_CHILD_SUBREAPER)");
#endif
	umask(sc->sc_umask);
	if (chdir(sc->sc_dir) == -1)
		child_fail(ch, sc->sc_dir);
	if (ch->ch_pidbuf != NULL)
		fmt_pid(ch->ch_pidbuf, child_getpid());
	execve(sc->sc_server, sc->sc_argv, ch->ch_env);
	child_fail(ch, sc->sc_server);
}

/* Append "NAME=value" at *p, as env's next entry. */
static void
env_put(char **env, size_t *n, char **p, const char *name, const char *value)
{
	size_t	nl = strlen(name), vl = strlen(value);

	env[(*n)++] = *p;
	memcpy(*p, name, nl);
	(*p)[nl] = '=';
	memcpy(*p + nl + 1, value, vl + 1);
	*p += nl + vl + 2;
}

/* NAME=value into env, replacing an earlier NAME. */
static void
env_set(char **env, size_t *n, const char *nv)
{
	size_t	j, klen = strcspn(nv, "=") + 1;

	for (j = 0; j < *n; j++)
		if (strncmp(env[j], nv, klen) == 0)
			break;
	env[j] = (char *)(uintptr_t)nv;
	if (j == *n)
		(*n)++;
}

/*
 * A clean environment: base variables, the config's (which may override
 * them), then LISTEN_*, which the config may not set.  Our strings live
 * in one allocation, *mem; the config's are pointed to.  LISTEN_PID's
 * value is PIDLEN bytes at *pidbuf for the child to fill.  NULL on
 * failure.
 */
static char **
build_env(const struct svc_conf *sc, const struct spawn_plan *sp,
    const struct passwd *pw, char **mem, char **pidbuf)
{
	char			**env, *p, *names, num[32];
	size_t			  n = 0, i, j, len, klen;

	*pidbuf = NULL;
	len = sizeof("PATH=" DEFAULT_PATH);
	if (pw != NULL)
		len += 4 * 10 + strlen(pw->pw_dir) + 2 * strlen(pw->pw_name) +
		    strlen(pw->pw_shell);
	len += sizeof("LISTEN_FDS=LISTEN_PID=LISTEN_FDNAMES=") + sizeof(num) +
	    PIDLEN + 3;
	for (i = 0; i < sp->sp_nlisten; i++)
		len += strlen(sp->sp_fdname[i]) + 1;
	for (i = 0; sc->sc_env[i] != NULL; i++)
		;
	for (j = 0; sp->sp_env[j] != NULL; j++)
		i++;
	if ((env = calloc(i + 9, sizeof(*env))) == NULL)
		return NULL;
	if ((*mem = p = malloc(len)) == NULL) {
		free(env);
		return NULL;
	}
	env_put(env, &n, &p, "PATH", DEFAULT_PATH);
	if (pw != NULL) {
		env_put(env, &n, &p, "HOME", pw->pw_dir);
		env_put(env, &n, &p, "USER", pw->pw_name);
		env_put(env, &n, &p, "LOGNAME", pw->pw_name);
		env_put(env, &n, &p, "SHELL", pw->pw_shell);
	}
	for (i = 0; sc->sc_env[i] != NULL; i++)
		env_set(env, &n, sc->sc_env[i]);
	/* The plan's (a nowait client's address) after the config's. */
	for (i = 0; sp->sp_env[i] != NULL; i++)
		env_set(env, &n, sp->sp_env[i]);
	if (sp->sp_nlisten > 0) {
		snprintf(num, sizeof(num), "%zu", sp->sp_nlisten);
		env_put(env, &n, &p, "LISTEN_FDS", num);
		memset(num, '0', PIDLEN - 1);	/* room for any pid */
		num[PIDLEN - 1] = '\0';
		env_put(env, &n, &p, "LISTEN_PID", num);
		*pidbuf = p - PIDLEN;
		names = p + sizeof("LISTEN_FDNAMES");
		env_put(env, &n, &p, "LISTEN_FDNAMES", "");
		p = names;
		for (i = 0; i < sp->sp_nlisten; i++) {
			if (i > 0)
				*p++ = ':';
			klen = strlen(sp->sp_fdname[i]);
			memcpy(p, sp->sp_fdname[i], klen);
			p += klen;
		}
		*p = '\0';
	}
	env[n] = NULL;
	return env;
}

/*
 * A nowait service starts a process per connection: its user's groups
 * and passwd fields are looked up at most once a minute, not for every
 * connection, since NSS (LDAP, sssd) may be slow and this runs in the
 * master's loop.  Other services look them up at each start.
 */
struct ucache {
	struct ucache		*uc_next;
	const struct svc_conf	*uc_sc;
	time_t			 uc_when;
	gid_t			*uc_groups;
	int			 uc_ngroups;	/* -1: lookup failed */
	int			 uc_havepw;
	struct passwd		 uc_pw;		/* dir, name, shell */
};

static struct ucache	*ucache[64];

static int	user_groups(const struct svc_conf *, gid_t **);

static void
ucache_clear(struct ucache *uc)
{
	free(uc->uc_groups);
	free(uc->uc_pw.pw_dir);
	free(uc->uc_pw.pw_name);
	free(uc->uc_pw.pw_shell);
	uc->uc_groups = NULL;
	uc->uc_havepw = 0;
	memset(&uc->uc_pw, 0, sizeof(uc->uc_pw));
}

static struct ucache *
ucache_get(const struct svc_conf *sc)
{
	struct ucache	**b = &ucache[((uintptr_t)sc >> 4) % 64], *uc;
	struct passwd	 *pw;
	struct timespec	  now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (uc = *b; uc != NULL; uc = uc->uc_next)
		if (uc->uc_sc == sc)
			break;
	if (uc != NULL && now.tv_sec - uc->uc_when < 60)
		return uc;
	if (uc == NULL) {
		if ((uc = calloc(1, sizeof(*uc))) == NULL)
			return NULL;
		uc->uc_sc = sc;
		uc->uc_next = *b;
		*b = uc;
	} else
		ucache_clear(uc);
	uc->uc_when = now.tv_sec;
	uc->uc_ngroups = geteuid() == 0 && sc->sc_setuser ?
	    user_groups(sc, &uc->uc_groups) : -1;
	if ((pw = getpwuid(sc->sc_uid)) != NULL) {
		uc->uc_pw.pw_dir = strdup(pw->pw_dir);
		uc->uc_pw.pw_name = strdup(pw->pw_name);
		uc->uc_pw.pw_shell = strdup(pw->pw_shell);
		uc->uc_havepw = uc->uc_pw.pw_dir != NULL &&
		    uc->uc_pw.pw_name != NULL && uc->uc_pw.pw_shell != NULL;
	}
	return uc;
}

/* The user's supplementary groups, or -1 with *groups NULL on failure. */
static int
user_groups(const struct svc_conf *sc, gid_t **groups)
{
	gid_t	*g = NULL, *ng;
	int	 n = 32, tries;

	for (tries = 0; tries < 8; tries++) {
		if ((ng = reallocarray(g, (size_t)n, sizeof(*g))) == NULL)
			break;
		g = ng;
		if (getgrouplist(sc->sc_user, sc->sc_gid, g, &n) != -1) {
			*groups = g;
			return n;
		}
		if (n < 64)		/* some libcs do not say how many */
			n = 64;
		n *= 2;
	}
	free(g);
	*groups = NULL;
	return -1;
}

#ifdef SPAWN_CLONE
static pid_t
start_child(struct child *ch)
{
	char	*top;

	if (child_stack == NULL) {
		child_stack = mmap(NULL, SPAWN_STACK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (child_stack == MAP_FAILED) {
			child_stack = NULL;
			return -1;
		}
		/* A guard page where the stack would overflow. */
		(void)mprotect(child_stack, (size_t)sysconf(_SC_PAGESIZE),
		    PROT_NONE);
	}
	/* Reused by every start: CLONE_VFORK returns only once the child
	 * has exec'd or exited, done with it.  It grows down (but on hppa). */
#ifdef __hppa__
	top = child_stack;
#else
	top = child_stack + SPAWN_STACK;
#endif
	return clone(child_main, top, CLONE_VM | CLONE_VFORK | SIGCHLD, ch);
}
#else
static pid_t
start_child(struct child *ch)
{
	pid_t	pid;

	if ((pid = fork()) == 0)
		child_main(ch);
	return pid;
}
#endif

/*
 * Start sc's server with plan sp; returns its pid or -1 (errno set).
 * A child that fails after it started is still returned: it exits 127,
 * and its reason is on the plan's fd 2.
 */
pid_t
spawn_service(const struct svc_conf *sc, const struct spawn_plan *sp)
{
	struct child	 ch;
	struct ucache	*uc = NULL;
	const struct passwd *pw;
	char		*envmem;
	sigset_t	 all, old;
	pid_t		 pid;
	int		 saved, fail = 0;

	memset(&ch, 0, sizeof(ch));
	ch.ch_sc = sc;
	ch.ch_plan = sp;
	ch.ch_master = getpid();
	ch.ch_ngroups = -1;
	if (sp->sp_nfd > SPAWN_MAXFD || sp->sp_nlisten > SOAD_MAXLISTEN) {
		errno = EINVAL;
		return -1;
	}
	if (sc->sc_mode == MODE_NOWAIT) {
		if ((uc = ucache_get(sc)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		ch.ch_ngroups = uc->uc_ngroups;
		ch.ch_groups = uc->uc_groups;
		pw = uc->uc_havepw ? &uc->uc_pw : NULL;
		fail = geteuid() == 0 && sc->sc_setuser && ch.ch_ngroups == -1;
	} else {
		if (geteuid() == 0 && sc->sc_setuser)
			fail = (ch.ch_ngroups = user_groups(sc,
			    &ch.ch_groups)) == -1;
		pw = getpwuid(sc->sc_uid);
	}
	if (fail) {
		log_warnx("%s: cannot get the groups of user %s",
		    sc->sc_name, sc->sc_user);
		errno = ENOMEM;
		return -1;
	}
	if ((ch.ch_env = build_env(sc, sp, pw, &envmem,
	    &ch.ch_pidbuf)) == NULL) {
		if (uc == NULL)
			free(ch.ch_groups);
		return -1;
	}

	/* No handler may run in the child before it resets them all. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = start_child(&ch);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);

	if (pid != -1 && ch.ch_fail != NULL && sp->sp_logfail)
		log_warnx("%s: cannot start: %s: %s", sc->sc_name, ch.ch_fail,
		    strerror(ch.ch_errno));
	else if (pid != -1 && ch.ch_fail != NULL && sp->sp_fd[2] != -1)
		dprintf(sp->sp_fd[2], "soad: cannot start: %s: %s\n",
		    ch.ch_fail, strerror(ch.ch_errno));
	free(ch.ch_env);
	free(envmem);
	if (uc == NULL)
		free(ch.ch_groups);
	errno = saved;
	return pid;
}
