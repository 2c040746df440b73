/*
 * Starting a service process.  The child sees exactly:
 *	fd 0	/dev/null, or the first listener when fd0 = yes
 *	fd 1, 2	the write end of its output pipe (logged by the master)
 *	fd 3..	its listeners in config order (LISTEN_FDS of them)
 * and nothing else: every other fd is closed before exec.  Signal
 * handlers are reset and the mask emptied, whatever the master uses;
 * privileges are dropped for good (groups, gid, uid, then verified).
 * On any failure the child writes why to fd 2 and exits 127.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "soad.h"

#define DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
			"/sbin:/bin"

static struct rlimit	orig_nofile;	/* before the master raised it */
static int		have_orig_nofile;

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

static void
child_fail(const char *what)
{
	dprintf(STDERR_FILENO, "soad: cannot start: %s: %s\n", what,
	    strerror(errno));
	_exit(127);
}

/*
 * Every signal to its default, the mask empty.  On Linux the raw
 * rt_sigaction syscall: glibc's sigaction() refuses its reserved signals
 * (32, 33), yet an ignored one is inherited across exec like any other.
 * An all-zero struct is SIG_DFL, no flags and an empty mask whatever the
 * architecture's layout, as SIG_DFL is 0.
 */
static void
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

static void
close_from(int lowfd)
{
#ifdef HAVE_CLOSE_RANGE
	if (close_range((unsigned int)lowfd, ~0U, 0) == 0)
		return;
#endif
	long	fd, max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 1048576)
		max = 1048576;
	for (fd = lowfd; fd < max; fd++)
		(void)close((int)fd);
}

/*
 * Move every fd the child keeps above the target range first, so a
 * target slot already holding a master fd (or a source) is never
 * clobbered before it is copied; dup2 then clears close-on-exec.
 */
static void
layout_fds(const struct service *sv, int outfd)
{
	int	 high[SOAD_MAXLISTEN], hout, hnull, devnull, base;
	size_t	 i;

	base = 3 + (int)sv->sv_nls;
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		child_fail("/dev/null");
	if ((hnull = fcntl(devnull, F_DUPFD_CLOEXEC, base)) == -1 ||
	    (hout = fcntl(outfd, F_DUPFD_CLOEXEC, base)) == -1)
		child_fail("dup");
	for (i = 0; i < sv->sv_nls; i++)
		if ((high[i] = fcntl(sv->sv_ls[i].ls_fd, F_DUPFD_CLOEXEC,
		    base)) == -1)
			child_fail("dup");
	if (dup2(sv->sv_conf->sc_fd0 ? high[0] : hnull, 0) == -1 ||
	    dup2(hout, 1) == -1 || dup2(hout, 2) == -1)
		child_fail("dup2");
	for (i = 0; i < sv->sv_nls; i++)
		if (dup2(high[i], 3 + (int)i) == -1)
			child_fail("dup2");
	close_from(base);
}

static void
set_limits(const struct svc_conf *sc)
{
	struct rlimit	rl;
	int		k;

	if (have_orig_nofile && !sc->sc_limits[LIM_NOFILE].lm_set &&
	    setrlimit(RLIMIT_NOFILE, &orig_nofile) == -1)
		child_fail("setrlimit");
	for (k = 0; k < LIM_COUNT; k++) {
		if (!sc->sc_limits[k].lm_set)
			continue;
		rl.rlim_cur = rl.rlim_max = sc->sc_limits[k].lm_value;
		if (setrlimit(conf_limit_resource((enum limit_kind)k), &rl)
		    == -1)
			child_fail("setrlimit");
	}
}

static void
drop_privileges(const struct svc_conf *sc)
{
	uid_t	ru, eu, su;
	gid_t	rg, eg, sg;

	if (geteuid() != 0 || !sc->sc_setuser)
		return;
	if (initgroups(sc->sc_user, sc->sc_gid) == -1)
		child_fail("initgroups");
	if (setresgid(sc->sc_gid, sc->sc_gid, sc->sc_gid) == -1)
		child_fail("setresgid");
	if (setresuid(sc->sc_uid, sc->sc_uid, sc->sc_uid) == -1)
		child_fail("setresuid");
	if (getresgid(&rg, &eg, &sg) == -1 || getresuid(&ru, &eu, &su) == -1)
		child_fail("getresuid");
	if (rg != sc->sc_gid || eg != sc->sc_gid || sg != sc->sc_gid ||
	    ru != sc->sc_uid || eu != sc->sc_uid || su != sc->sc_uid) {
		errno = EPERM;
		child_fail("privilege drop did not stick");
	}
	if (sc->sc_uid != 0 && setuid(0) != -1) {
		errno = EPERM;
		child_fail("could regain root");
	}
}

static char *
envdup(const char *name, const char *value)
{
	char	*s;

	if (asprintf(&s, "%s=%s", name, value) == -1)
		child_fail("asprintf");
	return s;
}

/* A clean environment: base variables, the config's (which may
 * override them), then LISTEN_*, which the config may not set. */
static char **
build_env(const struct service *sv, const struct passwd *pw)
{
	const struct svc_conf	 *sc = sv->sv_conf;
	char			**env, *names, *p, num[32];
	size_t			  n = 0, i, j, len = 0, klen;

	for (i = 0; sc->sc_env[i] != NULL; i++)
		;
	if ((env = calloc(i + 9, sizeof(*env))) == NULL)
		child_fail("calloc");
	env[n++] = envdup("PATH", DEFAULT_PATH);
	if (pw != NULL) {
		env[n++] = envdup("HOME", pw->pw_dir);
		env[n++] = envdup("USER", pw->pw_name);
		env[n++] = envdup("LOGNAME", pw->pw_name);
		env[n++] = envdup("SHELL", pw->pw_shell);
	}
	for (i = 0; sc->sc_env[i] != NULL; i++) {
		klen = strcspn(sc->sc_env[i], "=") + 1;
		for (j = 0; j < n; j++)
			if (strncmp(env[j], sc->sc_env[i], klen) == 0)
				break;
		env[j] = sc->sc_env[i];
		if (j == n)
			n++;
	}
	snprintf(num, sizeof(num), "%zu", sv->sv_nls);
	env[n++] = envdup("LISTEN_FDS", num);
	snprintf(num, sizeof(num), "%ld", (long)getpid());
	env[n++] = envdup("LISTEN_PID", num);
	for (i = 0; i < sv->sv_nls; i++)
		len += strlen(sv->sv_ls[i].ls_conf->lc_fdname) + 1;
	if ((names = p = malloc(len + 1)) == NULL)
		child_fail("malloc");
	*p = '\0';
	for (i = 0; i < sv->sv_nls; i++)
		p += sprintf(p, "%s%s", i ? ":" : "",
		    sv->sv_ls[i].ls_conf->lc_fdname);
	env[n++] = envdup("LISTEN_FDNAMES", names);
	env[n] = NULL;
	return env;
}

static void
child(const struct service *sv, int outfd, pid_t master)
{
	const struct svc_conf	*sc = sv->sv_conf;
	struct passwd		*pw;
	char			**env;

	reset_signals();
	layout_fds(sv, outfd);
	if (setsid() == -1)
		child_fail("setsid");
	pw = getpwuid(sc->sc_uid);
	set_limits(sc);
	drop_privileges(sc);
#ifdef __linux__
	/* If the master dies, nobody would ever stop this service, and its
	 * listeners would block a restarted master from binding them. */
	if (prctl(PR_SET_PDEATHSIG, sc->sc_stop_signal) == -1)
		child_fail("prctl");
	if (getppid() != master)
		_exit(127);
#else
	(void)master;
#endif
	umask(sc->sc_umask);
	if (chdir(sc->sc_dir) == -1)
		child_fail(sc->sc_dir);
	env = build_env(sv, pw);
	execve(sc->sc_server, sc->sc_argv, env);
	child_fail(sc->sc_server);
}

/* Fork and exec the service; returns its pid or -1. */
pid_t
spawn_service(const struct service *sv, int outfd)
{
	sigset_t	all, old;
	pid_t		pid, master = getpid();
	int		saved;

	/* No handler may run in the child before it resets them all. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		child(sv, outfd, master);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return pid;
}
