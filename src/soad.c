/*
 * soad: main.  Options, configuration, daemonizing, the pidfile, the one
 * libevent loop and the master's signals.  Services, listeners and
 * timers live in svc.c; this file only wires them up and tears them down.
 *
 * Start-up order matters: the config is checked in full before anything
 * happens; when daemonizing, the parent waits on a pipe until the child
 * has bound its listeners, so the exit status of `soad` tells whether it
 * came up.  The event base is made after fork, as libevent requires.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "soad.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif

static struct event_base *base;
static int		 shutting_down;
static const char	*pidfile;
static int		 pidfd = -1;

static void __attribute__((__noreturn__))
usage(void)
{
	fprintf(stderr, "usage: soad [-dnv] [-f file] [-i inetd.conf] "
	    "[-p pidfile]\n"
	    "       soad -C inetd.conf\n");
	exit(EXIT_USAGE);
}

/* Fork; the parent exits with the child's start-up verdict. */
static int
daemon_start(void)
{
	int	 p[2], fd;
	char	 c;
	pid_t	 pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			_exit(0);
		_exit(EXIT_OSERR);
	}
	close(p[0]);
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return p[1];
}

static void
daemon_ready(int fd)
{
	int	nul;

	if (fd == -1)
		return;
	if (write(fd, "", 1) != 1)
		log_warn("start-up pipe");
	close(fd);
	/* From here on everything goes to syslog. */
	if ((nul = open("/dev/null", O_RDWR)) != -1) {
		dup2(nul, STDERR_FILENO);
		if (nul > STDERR_FILENO)
			close(nul);
	}
}

/*
 * Lock before daemonizing, so a second soad is told on its terminal; the
 * flock belongs to the open file and survives the fork.
 */
static void
pidfile_lock(void)
{
	char	 buf[32], cwd[PATH_MAX], *abs;
	ssize_t	 len;

	if (pidfile == NULL)
		return;
	/* Daemonizing changes to /: keep the path meaning what it said. */
	if (*pidfile != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    asprintf(&abs, "%s/%s", cwd, pidfile) == -1)
			fatal("pidfile %s", pidfile);
		pidfile = abs;
	}
	pidfd = open(pidfile, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (pidfd == -1)
		fatal("pidfile %s", pidfile);
	if (flock(pidfd, LOCK_EX | LOCK_NB) == -1) {
		len = read(pidfd, buf, sizeof(buf) - 1);
		buf[len > 0 ? len : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fatalx("pidfile %s is locked: soad is running as pid %s",
		    pidfile, buf);
	}
}

static void
pidfile_write(void)
{
	char	buf[32];
	int	len;

	if (pidfd == -1)
		return;
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(pidfd, 0) == -1 ||
	    pwrite(pidfd, buf, (size_t)len, 0) != len)
		fatal("pidfile %s", pidfile);
}

static void
pidfile_remove(void)
{
	if (pidfd == -1)
		return;
	(void)unlink(pidfile);
	close(pidfd);
}

static void
on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	child_reap();
	if (shutting_down && svc_all_stopped())
		event_base_loopbreak(base);
}

static void
on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (shutting_down)
		return;
	log_info("received %s, stopping every service",
	    sig == SIGINT ? "SIGINT" : sig == SIGQUIT ? "SIGQUIT" : "SIGTERM");
	shutting_down = 1;
	svc_shutdown_all();
	if (svc_all_stopped())
		event_base_loopbreak(base);
}

static void
on_sighup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_warnx("SIGHUP: configuration reload is not supported yet; "
	    "restart soad to apply changes");
}

static void
on_sigusr(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sig == SIGUSR1) {
		log_info("SIGUSR1: state of every service");
		svc_log_state();
	} else
		log_info("SIGUSR2 ignored");
}

/* The signals libevent dispatches to the loop; SIGCHLD first. */
static const struct {
	int	  sig;
	void	(*fn)(evutil_socket_t, short, void *);
} handled[] = {
	{ SIGCHLD, on_sigchld }, { SIGTERM, on_sigterm },
	{ SIGINT, on_sigterm }, { SIGQUIT, on_sigterm },
	{ SIGHUP, on_sighup }, { SIGUSR1, on_sigusr }, { SIGUSR2, on_sigusr },
};
#define NHANDLED	(sizeof(handled) / sizeof(handled[0]))

/*
 * Every other signal that could end or stop the master (ALRM, PIPE, IO,
 * the real-time ones, TSTP...) is ignored: nobody gets to kill soad by
 * accident.  Faults keep their default: a crash must not loop.  Services
 * get every disposition back to default (spawn.c).
 */
static void
ignore_signals(void)
{
	struct sigaction	sa;
	size_t			i;
	int			sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		if (conf_signal_keeps_default(sig))
			continue;
		for (i = 0; i < NHANDLED; i++)
			if (handled[i].sig == sig)
				break;
		if (i == NHANDLED)
			(void)sigaction(sig, &sa, NULL);	/* EINVAL: 32, 33 */
	}
}

/*
 * Every listener, pipe and spawn needs an fd, and the listeners sit above
 * SOAD_FD_FLOOR: a limit too low for that would let soad bind until
 * EMFILE and then never start a service.  spawn_init() raises the soft
 * limit to the hard one; check against that, before anything is bound.
 */
static void
nofile_check(const struct conf *cf)
{
	struct rlimit	rl;
	long		need = (long)conf_nofile_needed(cf) + SOAD_FD_FLOOR;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (rl.rlim_max != RLIM_INFINITY && (long)rl.rlim_max < need)
		fatalx("RLIMIT_NOFILE is %llu; this configuration needs %ld "
		    "file descriptors (raise the hard limit, e.g. ulimit -Hn "
		    "%ld)", (unsigned long long)rl.rlim_max, need, need);
}

/*
 * The configuration: soad.conf FILE, or with -i the inetd.conf IFILE
 * added to soad.conf (if -f gave one: then it may hold only global
 * settings) or to the built-in globals.  Both files are checked, even if
 * the first has errors; *nerr gets the number of errors of both.
 */
static struct conf *
config_load(const char *file, int fset, const char *ifile, int flags,
    int *nerr)
{
	struct conf	*cf, *tmp;
	int		 n;

	if (ifile == NULL)
		return conf_load(file, flags, nerr);
	*nerr = 0;
	if (!fset)
		cf = conf_inetd_defaults();
	else if ((cf = conf_load(file, flags | CONF_GLOBALS_ONLY, nerr)) ==
	    NULL) {
		tmp = conf_inetd_defaults();
		*nerr += conf_inetd_add(tmp, file, ifile, flags);
		conf_free(tmp);
		return NULL;
	}
	if ((n = conf_inetd_add(cf, fset ? file : NULL, ifile, flags)) > 0) {
		*nerr += n;
		conf_free(cf);
		return NULL;
	}
	return cf;
}

int
main(int argc, char *argv[])
{
	const char	*file = SYSCONFDIR "/soad.conf", *convert = NULL;
	const char	*ifile = NULL;
	struct conf	*cf;
	struct event	*ev[NHANDLED];
	int		 ch, debug = 0, check = 0, verbose = 0, nerr, fset = 0;
	int		 readyfd = -1;
	size_t		 i, nls = 0, nproxy = 0, nwrap = 0, nudp = 0;
	uint16_t	*udp = NULL;
	struct rlimit	 rl;
	sigset_t	 mask;

	while ((ch = getopt(argc, argv, "C:df:i:np:v")) != -1) {
		switch (ch) {
		case 'C':
			convert = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			file = optarg;
			fset = 1;
			break;
		case 'i':
			ifile = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	/* A mask inherited from whoever started us would make soad deaf to
	 * TERM or CHLD. */
	sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);

	/* Started with 0, 1 or 2 closed, the next open() would take it and
	 * a later dup2 of /dev/null would close the pidfile or a socket. */
	while ((ch = open("/dev/null", O_RDWR)) >= 0 && ch <= STDERR_FILENO)
		;
	if (ch > STDERR_FILENO)
		close(ch);

	log_init(1, LOG_DAEMON);
	log_setverbose(verbose);
	if (convert != NULL) {
		if ((nerr = inetd_convert(convert, 0, stdout)) > 0) {
			fprintf(stderr, "soad: %d configuration error%s found\n",
			    nerr, nerr == 1 ? "" : "s");
			exit(EXIT_CONFIG);
		}
		exit(0);
	}
	if ((cf = config_load(file, fset, ifile, CONF_CHECK_FILES |
	    (check ? CONF_CHECK_SOCKETS : 0), &nerr)) == NULL) {
		fprintf(stderr, "soad: %d configuration error%s found\n",
		    nerr, nerr == 1 ? "" : "s");
		exit(EXIT_CONFIG);
	}
	for (i = 0; i < cf->cf_nsvcs; i++) {
		nls += conf_nlisteners(cf->cf_svcs[i]);
		nproxy += cf->cf_svcs[i]->sc_mode == MODE_PROXY;
		nwrap += cf->cf_svcs[i]->sc_accept != NULL &&
		    cf->cf_svcs[i]->sc_accept->ac_wrapname != NULL;
	}
	/* Before daemonizing, and with -n too: a missing tcp_wrappers
	 * helper program is said on stderr, not at the first check. */
	if (nwrap > 0 && wrap_prepare(debug) == -1)
		exit(EXIT_OSERR);
	if (check) {
		conf_free(cf);
		exit(0);
	}
	nofile_check(cf);

	if (!debug && pidfile == NULL)
		pidfile = RUNSTATEDIR "/soad.pid";
	pidfile_lock();
	if (!debug) {
		readyfd = daemon_start();
		log_init(0, LOG_DAEMON);
	}
	pidfile_write();
	ignore_signals();
	spawn_init();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("file descriptor limit %llu",
		    (unsigned long long)rl.rlim_cur);
	child_init();

	if ((base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	svc_init(base);
	for (i = 0; i < NHANDLED; i++) {
		ev[i] = evsignal_new(base, handled[i].sig, handled[i].fn, NULL);
		if (ev[i] == NULL || event_add(ev[i], NULL) == -1)
			fatalx("cannot watch signals");
	}
	accept_init(base);
	proxy_init(base);
	if (internal_udp_ports(cf, &udp, &nudp) == -1)
		fatal("internal_udp_ports");
	accept_udp_ports(udp, nudp);
	if (nproxy > 0)
		relay_init();
	/* Helpers only if some service is checked. */
	if (nwrap > 0 &&
	    wrap_init(base, cf->cf_hosts_allow, cf->cf_hosts_deny) == -1)
		fatal("cannot start tcp_wrappers checks");
	if (arrival_init(base, cf->cf_nsvcs, nls) == -1)
		fatal("cannot start the arrival watcher");

	listener_reserve(1);
	for (i = 0; i < cf->cf_nsvcs; i++)
		svc_bind(svc_create(cf->cf_svcs[i]));
	listener_reserve(0);
	log_info("started with %zu service%s from %s%s%s (%s)", cf->cf_nsvcs,
	    cf->cf_nsvcs == 1 ? "" : "s", ifile == NULL || fset ? file : "",
	    ifile != NULL && fset ? " and " : "", ifile != NULL ? ifile : "",
	    event_base_get_method(base));
	daemon_ready(readyfd);
#ifdef __GLIBC__
	/* libconfuse's parse peak (a copy of the option table per section)
	 * is freed by now; give what glibc can back to the system. */
	malloc_trim(0);
#endif

	if (event_base_dispatch(base) == -1)
		fatalx("event loop failed");

	outlog_drain_all();
	accept_close_all();
	relay_shutdown();
	wrap_shutdown();
	svc_free_all();
	proxy_cleanup();
	arrival_free();
	child_free_all();
	for (i = 0; i < NHANDLED; i++)
		event_free(ev[i]);
	event_base_free(base);
	conf_free(cf);
	pidfile_remove();
	log_info("exiting");
	return 0;
}
