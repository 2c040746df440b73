/*
 * soad-wrap, the access-check helper: a program the master (wrap.c)
 * starts, never run by hand, that answers one tcp_wrappers check at a
 * time.  It holds fds 0-2, its channel to the master (fd 3) and, during
 * a check, the connection; it closes anything else it inherited first.
 * It is a program of its own so that libwrap and the libraries it pulls
 * in (nsl, tirpc, krb5...) are never mapped into the master.
 *
 * libwrap runs here, never in the master.  If hosts.allow/hosts.deny
 * have no option but allow/deny (hostsscan.c), hosts_access() runs in
 * this process; it is made "resident", so a twist that appears between
 * scan and check is refused by libwrap, and any other change to this
 * process makes it exit after answering (the master starts another).
 * Otherwise each check runs in a throwaway fork, where options act as
 * under tcpd: twist execs a shell on the connection (the answer pipe,
 * close-on-exec, then ends without a verdict: WRAP_TAKEN), spawn runs
 * its command.  user, group, nice, umask and setenv would only change
 * that fork: they cannot apply to a service shared by every connection,
 * so the fork reports them and we log that they were ignored.
 *
 * We are a subreaper: spawn's background commands and twist shells are
 * reaped here, never by the master while we live.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <tcpd.h>

#include "soad.h"

#define CHAN_FD		3	/* the channel, where the master put it */

/* libwrap's logging levels; it expects the program to define them. */
int	allow_severity = LOG_INFO;
int	deny_severity = LOG_WARNING;

extern char	**environ;

#define CHECK_TIMEOUT	120	/* seconds for a check with options */

#define CHG_USER	0x01
#define CHG_GROUP	0x02
#define CHG_NICE	0x04
#define CHG_UMASK	0x08
#define CHG_ENV		0x10

static const char *const chg_names[] = {
	"user", "group", "nice", "umask", "setenv"
};

/* What hosts_options(5) can change in the process that runs them. */
struct proc_state {
	uid_t		 ps_uid, ps_euid;
	gid_t		 ps_gid, ps_egid;
	int		 ps_nice;
	mode_t		 ps_umask;
	uint64_t	 ps_envhash;
};

struct answer {
	uint32_t	 an_verdict;
	uint32_t	 an_changed;
};

static const char	*allow_path, *deny_path;
static int		 chan = -1;
static int		 maybe_children;

static void
state_get(struct proc_state *ps)
{
	char		**e;
	const char	*p;
	uint64_t	  h = 14695981039346656037ULL;	/* FNV-1a */

	ps->ps_uid = getuid();
	ps->ps_euid = geteuid();
	ps->ps_gid = getgid();
	ps->ps_egid = getegid();
	errno = 0;
	ps->ps_nice = getpriority(PRIO_PROCESS, 0);
	ps->ps_umask = umask(022);
	(void)umask(ps->ps_umask);
	for (e = environ; e != NULL && *e != NULL; e++)
		for (p = *e; ; p++) {
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
			if (*p == '\0')
				break;
		}
	ps->ps_envhash = h;
}

static uint32_t
state_diff(const struct proc_state *a, const struct proc_state *b)
{
	uint32_t	c = 0;

	if (a->ps_uid != b->ps_uid || a->ps_euid != b->ps_euid)
		c |= CHG_USER;
	if (a->ps_gid != b->ps_gid || a->ps_egid != b->ps_egid)
		c |= CHG_GROUP;
	if (a->ps_nice != b->ps_nice)
		c |= CHG_NICE;
	if (a->ps_umask != b->ps_umask)
		c |= CHG_UMASK;
	if (a->ps_envhash != b->ps_envhash)
		c |= CHG_ENV;
	return c;
}

static void
chg_format(uint32_t c, char *buf, size_t len)
{
	size_t	i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(chg_names) / sizeof(chg_names[0]); i++)
		if ((c & (1U << i)) && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
			    n > 0 ? ", " : "", chg_names[i]);
}

static void
peer_format(int fd, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	const void		*a = NULL;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			a = &((struct sockaddr_in *)&ss)->sin_addr;
		else if (ss.ss_family == AF_INET6)
			a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	}
	if (a == NULL || inet_ntop(ss.ss_family, a, buf, len) == NULL)
		snprintf(buf, len, "an unknown address");
}

static int
is_inet(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

static int
run_hosts_access(int fd, const char *daemon)
{
	struct request_info	req;

	dry_run = 0;
	request_init(&req, RQ_DAEMON, daemon, RQ_FILE, fd, 0);
	fromhost(&req);
	return hosts_access(&req);
}

/* Options-free rules: check in this process. */
static enum wrap_verdict
check_here(int fd, const char *daemon, int *tainted)
{
	struct proc_state	before, after;
	char			what[64];
	int			ok;

	state_get(&before);
	resident = 1;		/* libwrap refuses twist in a resident one */
	allow_severity = LOG_INFO;
	deny_severity = LOG_WARNING;
	ok = run_hosts_access(fd, daemon);
	state_get(&after);
	if (state_diff(&before, &after) != 0) {
		chg_format(state_diff(&before, &after), what, sizeof(what));
		log_warnx("wrap: %s: hosts.allow/hosts.deny changed during a "
		    "check and changed this helper (%s); it exits", daemon,
		    what);
		*tainted = 1;
	}
	return ok ? WRAP_ALLOW : WRAP_DENY;
}

static void __attribute__((__noreturn__))
check_child(int fd, const char *daemon, int out)
{
	struct proc_state	before, after;
	struct answer		an;
	int			fl;

#ifdef __linux__
	/* Never outlive the helper holding the client hostage. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	/* A twist command gets a blocking socket, as under tcpd.  The
	 * flag is shared with the master's copy: every user of an allowed
	 * connection there (relay, internal, nowait) sets its own. */
	if ((fl = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	state_get(&before);
	resident = -1;		/* one connection, like tcpd */
	an.an_verdict = run_hosts_access(fd, daemon) ? WRAP_ALLOW : WRAP_DENY;
	state_get(&after);
	an.an_changed = state_diff(&before, &after);
	(void)write(out, &an, sizeof(an));
	_exit(0);
}

/* The fork's answer, or EOF; -1 if none came in CHECK_TIMEOUT. */
static int
read_answer(int fd, struct answer *an, size_t *got)
{
	struct pollfd	pfd;
	struct timespec	now, end;
	ssize_t		n;
	long		ms;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += CHECK_TIMEOUT;
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (*got = 0; *got < sizeof(*an); ) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (end.tv_sec - now.tv_sec) * 1000 +
		    (end.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return -1;
		if (poll(&pfd, 1, (int)ms) <= 0)
			continue;
		n = read(fd, (char *)an + *got, sizeof(*an) - *got);
		if (n == 0 || (n == -1 && errno != EINTR))
			break;
		if (n > 0)
			*got += (size_t)n;
	}
	return 0;
}

/* Rules with options: check in a throwaway fork. */
static enum wrap_verdict
check_forked(int fd, const char *daemon)
{
	struct answer	 an;
	char		 what[64], addr[INET6_ADDRSTRLEN];
	size_t		 got;
	pid_t		 pid;
	int		 p[2];

	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("wrap: %s: pipe", daemon);
		return WRAP_FAILED;
	}
	if ((pid = fork()) == -1) {
		log_warn("wrap: %s: fork", daemon);
		close(p[0]);
		close(p[1]);
		return WRAP_FAILED;
	}
	if (pid == 0) {
		close(p[0]);
		close(chan);
		check_child(fd, daemon, p[1]);
	}
	close(p[1]);
	maybe_children = 1;
	if (read_answer(p[0], &an, &got) == -1) {
		/* A spawn command that never ends, say: the client would
		 * wait for ever, and this helper with it. */
		(void)kill(pid, SIGKILL);
		close(p[0]);
		peer_format(fd, addr, sizeof(addr));
		log_warnx("wrap: %s: check of a connection from %s took over "
		    "%d s; killed", daemon, addr, CHECK_TIMEOUT);
		return WRAP_FAILED;
	}
	close(p[0]);
	if (got != sizeof(an))
		return WRAP_TAKEN;	/* twist (or it died): not ours now */
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;			/* it is exiting */
	if (an.an_changed != 0) {
		chg_format(an.an_changed, what, sizeof(what));
		peer_format(fd, addr, sizeof(addr));
		log_warnx("wrap: %s: hosts_options %s ignored for a connection "
		    "from %s: the service is shared by every connection",
		    daemon, what, addr);
	}
	if (an.an_verdict != WRAP_ALLOW && an.an_verdict != WRAP_DENY)
		return WRAP_FAILED;
	return an.an_verdict;
}

static enum wrap_verdict
check(int fd, const char *daemon, int *tainted)
{
	if (!is_inet(fd)) {
		log_warnx("wrap: %s: not a TCP/IP connection, no address to "
		    "check; refused", daemon);
		return WRAP_DENY;
	}
	if (hostsscan_files(allow_path, deny_path) == 0)
		return check_here(fd, daemon, tainted);
	return check_forked(fd, daemon);
}

static void
reap(void)
{
	pid_t	pid;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		;
	if (pid == -1 && errno == ECHILD)
		maybe_children = 0;
}

/* One request: 0 after an answer, -1 when the channel is done. */
static int
serve_one(int *tainted)
{
	struct wrap_msg		 msg;
	struct wrap_reply	 rep;
	struct msghdr		 mh;
	struct iovec		 iov;
	struct cmsghdr		*cm;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}			 cbuf;
	ssize_t			 n;
	int			 fd = -1;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = &msg;
	iov.iov_len = sizeof(msg);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	if ((n = recvmsg(chan, &mh, MSG_CMSG_CLOEXEC)) == -1)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1;		/* the master retired us */
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (fd == -1 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n <= offsetof(struct wrap_msg, wm_daemon) ||
	    memchr(msg.wm_daemon, '\0',
	    (size_t)n - offsetof(struct wrap_msg, wm_daemon)) == NULL) {
		log_warnx("wrap: malformed request from the master");
		return -1;
	}
	rep.wr_id = msg.wm_id;
	rep.wr_verdict = check(fd, msg.wm_daemon, tainted);
	close(fd);
	if (send(chan, &rep, sizeof(rep), MSG_NOSIGNAL) != sizeof(rep))
		return -1;
	return 0;
}

static void __attribute__((__noreturn__))
usage(void)
{
	fprintf(stderr, "usage: soad-wrap [-d] masterpid hosts.allow "
	    "hosts.deny (started by soad, channel on fd 3)\n");
	exit(EXIT_USAGE);
}

/* A pid as the master writes it: decimal, no sign, no leading zero. */
static pid_t
parse_pid(const char *s)
{
	const char	*p;
	long		 v = 0;

	if (*s < '1' || *s > '9')
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > (INT_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return (pid_t)v;
}

/* Fd 3 is a SOCK_SEQPACKET socket, as the master's channel is. */
static int
chan_ok(int fd)
{
	int		type;
	socklen_t	len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    type == SOCK_SEQPACKET;
}

int
main(int argc, char *argv[])
{
	struct pollfd	pfd;
	pid_t		master;
	int		i = 1, debug = 0, tainted = 0;

	/* Whatever the master failed to mark close-on-exec stops here. */
	closefrom(CHAN_FD + 1);
	if (argc > 1 && strcmp(argv[1], "-d") == 0) {
		debug = 1;
		i++;
	}
	if (argc - i != 3 || (master = parse_pid(argv[i])) == -1 ||
	    argv[i + 1][0] == '\0' || argv[i + 2][0] == '\0' ||
	    !chan_ok(CHAN_FD))
		usage();
	log_init(debug, LOG_DAEMON);
	chan = CHAN_FD;
	allow_path = argv[i + 1];
	deny_path = argv[i + 2];
#ifdef __linux__
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
	if (getppid() != master)
		_exit(0);	/* the master died before PDEATHSIG was set */
	(void)setpgid(0, 0);	/* no terminal signals meant for soad */
	/* libwrap keeps the table names; they live as long as we do. */
	hosts_allow_table = (char *)allow_path;
	hosts_deny_table = (char *)deny_path;
	pfd.fd = chan;
	pfd.events = POLLIN;
	while (!tainted) {
		reap();
		if (poll(&pfd, 1, maybe_children ? 1000 : -1) <= 0)
			continue;
		if (serve_one(&tainted) == -1)
			break;
	}
	close(chan);
	/* Twist shells and spawned commands still running stay ours. */
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	return 0;
}
