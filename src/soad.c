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
	fprintf(stderr, "usage: soad [-dnv] [-f file] [-p pidfile]\n");
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
	pid_t	pid;
	int	status;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!svc_reaped(pid, status))
			log_debug("reaped unknown pid %ld", (long)pid);
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
	    sig == SIGINT ? "SIGINT" : "SIGTERM");
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

int
main(int argc, char *argv[])
{
	const char	*file = SYSCONFDIR "/soad.conf";
	struct conf	*cf;
	struct event	*ev[4];
	int		 ch, debug = 0, check = 0, verbose = 0, nerr;
	int		 readyfd = -1;
	size_t		 i;
	sigset_t	 mask;

	while ((ch = getopt(argc, argv, "df:np:v")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			file = optarg;
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
	if ((cf = conf_load(file, CONF_CHECK_FILES |
	    (check ? CONF_CHECK_SOCKETS : 0), &nerr)) == NULL) {
		fprintf(stderr, "soad: %d configuration error%s found\n",
		    nerr, nerr == 1 ? "" : "s");
		exit(EXIT_CONFIG);
	}
	if (check) {
		conf_free(cf);
		exit(0);
	}

	if (!debug && pidfile == NULL)
		pidfile = RUNSTATEDIR "/soad.pid";
	pidfile_lock();
	if (!debug) {
		readyfd = daemon_start();
		log_init(0, LOG_DAEMON);
	}
	pidfile_write();
	signal(SIGPIPE, SIG_IGN);
	spawn_init();

	if ((base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	if (activity_init(base) == -1)
		fatal("activity_init");
	svc_init(base);
	ev[0] = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
	ev[1] = evsignal_new(base, SIGTERM, on_sigterm, NULL);
	ev[2] = evsignal_new(base, SIGINT, on_sigterm, NULL);
	ev[3] = evsignal_new(base, SIGHUP, on_sighup, NULL);
	for (i = 0; i < 4; i++)
		if (ev[i] == NULL || event_add(ev[i], NULL) == -1)
			fatalx("cannot watch signals");

	for (i = 0; i < cf->cf_nsvcs; i++)
		svc_bind(svc_create(cf->cf_svcs[i]));
	log_info("started with %zu service%s from %s (%s)", cf->cf_nsvcs,
	    cf->cf_nsvcs == 1 ? "" : "s", file, event_base_get_method(base));
	daemon_ready(readyfd);
#ifdef __GLIBC__
	/* libconfuse's parse peak (a copy of the option table per section)
	 * is freed by now; give what glibc can back to the system. */
	malloc_trim(0);
#endif

	if (event_base_dispatch(base) == -1)
		fatalx("event loop failed");

	outlog_drain_all();
	svc_free_all();
	activity_free();
	for (i = 0; i < 4; i++)
		event_free(ev[i]);
	event_base_free(base);
	conf_free(cf);
	pidfile_remove();
	log_info("exiting");
	return 0;
}
