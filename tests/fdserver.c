/*
 * fdserver: a tiny socket-activatable HTTP server for soad's tests and
 * benchmarks.  It takes its listeners from LISTEN_FDS/LISTEN_PID (fds 3..)
 * or binds --port itself, forks one process per connection (HTTP/1.1
 * keep-alive), and on SIGTERM stops accepting, lets the connections in
 * flight finish and exits 0: the graceful stop soad's docs ask for.
 *
 *	GET /fds   the fds open at start, one "N TARGET" line each
 *	GET /env   the LISTEN_* variables and a few others, NAME=value lines
 *	GET /environ  the whole environment, one NAME=value per line
 *	GET /sig   SigBlk and SigIgn from /proc/self/status at start
 *	GET /flags O_NONBLOCK and O_ASYNC of fd 3 as it was handed over
 *	GET /id    uid, gid and groups
 *	GET /cwd   the working directory
 *	GET /hold  answers, then keeps the connection open until the peer
 *	           closes it
 *	GET /orphan  the connection's process forks a grandchild and exits;
 *	           the grandchild waits (up to 5 s) to be re-parented and
 *	           answers "ppid N" with its new parent
 *	other      "hello from PID\n"
 *
 * Options: --port N, --ignore-term, --crash (exit 3 at once),
 * --delay-ms N (sleep before serving), --exit-after N (connections),
 * --linger-ms N (after SIGTERM: close the listeners, wait N ms, exit),
 * --clobber-flags (set fd 3 to exactly O_NONBLOCK, dropping O_ASYNC, as a
 * careless server might).
 *
 * --echo: no HTTP: one process serves every connection with poll(2) and
 * echoes each byte back (bounded buffer: a peer that does not read stops
 * being read), passes the peer's half-close on once its bytes are out,
 * and exits at once on SIGTERM.  For the proxy-mode tests: bulk data,
 * thousands of concurrent connections, soak.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXL	64
#define ECHOBUF	65536

static char		 fdinfo[8192], siginfo[512], flaginfo[64];
static volatile sig_atomic_t stopping;
static int		 lfd[MAXL], nl;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void
snapshot(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*e;
	char		 path[300], target[256], line[600];
	FILE		*f;
	ssize_t		 n;
	size_t		 used = 0;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		if ((n = readlink(path, target, sizeof(target) - 1)) < 0)
			continue;
		target[n] = '\0';
		n = snprintf(line, sizeof(line), "%s %s\n", e->d_name, target);
		if (used + (size_t)n < sizeof(fdinfo)) {
			memcpy(fdinfo + used, line, (size_t)n);
			used += (size_t)n;
		}
	}
	closedir(d);
	n = fcntl(3, F_GETFL);
	snprintf(flaginfo, sizeof(flaginfo), "nonblock=%d async=%d\n",
	    n != -1 && (n & O_NONBLOCK) != 0, n != -1 && (n & O_ASYNC) != 0);
	if ((f = fopen("/proc/self/status", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "SigBlk:", 7) == 0 ||
			    strncmp(line, "SigIgn:", 7) == 0)
				strncat(siginfo, line,
				    sizeof(siginfo) - strlen(siginfo) - 1);
		fclose(f);
	}
}

static void
body_env(char *buf, size_t len)
{
	static const char *keys[] = { "LISTEN_FDS", "LISTEN_PID",
	    "LISTEN_FDNAMES", "PATH", "HOME", "USER", "FOO", NULL };
	size_t	used = 0;
	int	i;

	buf[0] = '\0';
	for (i = 0; keys[i] != NULL && used < len; i++)
		if (getenv(keys[i]) != NULL)
			used += (size_t)snprintf(buf + used, len - used,
			    "%s=%s\n", keys[i], getenv(keys[i]));
}

extern char **environ;

static void
body_environ(char *buf, size_t len)
{
	size_t	used = 0;
	char	**e;

	buf[0] = '\0';
	for (e = environ; *e != NULL && used < len; e++)
		used += (size_t)snprintf(buf + used, len - used, "%s\n", *e);
}

static void
body_id(char *buf, size_t len)
{
	gid_t	g[64];
	int	n = getgroups(64, g), i;
	size_t	used;

	used = (size_t)snprintf(buf, len, "uid=%d gid=%d groups=",
	    (int)getuid(), (int)getgid());
	for (i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d",
		    i ? "," : "", (int)g[i]);
	if (used < len)
		snprintf(buf + used, len - used, "\n");
}

static int
reply(int c, const char *body, int keep)
{
	char	buf[8192 + 256];
	int	n;

	/* One write: a separate header write stalls on Nagle + delayed ACK. */
	n = snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "text/plain\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n%s",
	    strlen(body), keep ? "keep-alive" : "close", body);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return write(c, buf, (size_t)n) == n ? 0 : -1;
}

/* Orphan a grandchild and let it say who adopted it. */
static void
orphan(int c)
{
	char	body[64];
	pid_t	parent = getpid();
	int	i;

	if (fork() != 0)
		return;			/* the parent exits after serve() */
	for (i = 0; i < 500 && getppid() == parent; i++)
		usleep(10000);
	snprintf(body, sizeof(body), "ppid %d\n", (int)getppid());
	reply(c, body, 0);
	_exit(0);
}

static void
serve(int c)
{
	char	req[8192], body[8192], *end, path[256];
	size_t	have = 0;
	ssize_t	n;
	int	keep;

	for (;;) {
		while ((end = memmem(req, have, "\r\n\r\n", 4)) == NULL) {
			if (have == sizeof(req))
				return;
			if ((n = read(c, req + have, sizeof(req) - have)) <= 0)
				return;
			have += (size_t)n;
		}
		path[0] = '\0';
		sscanf(req, "%*s %255s", path);
		keep = memmem(req, (size_t)(end - req), "HTTP/1.1", 8) &&
		    !memmem(req, (size_t)(end - req), "onnection: close", 16);
		if (strcmp(path, "/fds") == 0)
			snprintf(body, sizeof(body), "%s", fdinfo);
		else if (strcmp(path, "/env") == 0)
			body_env(body, sizeof(body));
		else if (strcmp(path, "/flags") == 0)
			snprintf(body, sizeof(body), "%s", flaginfo);
		else if (strcmp(path, "/environ") == 0)
			body_environ(body, sizeof(body));
		else if (strcmp(path, "/sig") == 0)
			snprintf(body, sizeof(body), "%s", siginfo);
		else if (strcmp(path, "/id") == 0)
			body_id(body, sizeof(body));
		else if (strcmp(path, "/cwd") == 0) {
			if (getcwd(body, sizeof(body) - 1) == NULL)
				body[0] = '\0';
			strcat(body, "\n");
		} else
			snprintf(body, sizeof(body), "hello from %d\n",
			    (int)getppid());
		if (strcmp(path, "/orphan") == 0) {
			orphan(c);
			return;
		}
		if (strcmp(path, "/hold") == 0) {
			snprintf(body, sizeof(body), "held\n");
			if (reply(c, body, 1) == 0)
				while (read(c, req, sizeof(req)) > 0)
					;
			return;
		}
		if (reply(c, body, keep) == -1 || !keep)
			return;
		have -= (size_t)(end + 4 - req);
		memmove(req, end + 4, have);
	}
}

static void
bind_port(int port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	int			fd, on = 1;

	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 1024) == -1) {
		perror("fdserver: bind");
		exit(2);
	}
	lfd[nl++] = fd;
}

/* --echo: every connection in one process, each byte sent back. */
struct econn {
	int	 fd;
	int	 eof;		/* the peer shut down its writing */
	size_t	 off, len;
	char	*buf;
};

static void
echo_loop(void)
{
	struct econn	*cs = NULL;
	struct pollfd	*pfd = NULL;
	size_t		 nc = 0, cap = 0, i, np;
	ssize_t		 n;
	int		 c;

	while (!stopping) {
		if (nc + (size_t)nl > cap) {
			cap = cap ? cap * 2 : 1024;
			if ((cs = realloc(cs, cap * sizeof(*cs))) == NULL ||
			    (pfd = realloc(pfd, (cap + MAXL) *
			    sizeof(*pfd))) == NULL) {
				perror("fdserver: realloc");
				exit(2);
			}
		}
		for (i = 0; i < (size_t)nl; i++) {
			pfd[i].fd = lfd[i];
			pfd[i].events = POLLIN;
		}
		for (i = 0; i < nc; i++) {
			pfd[nl + i].fd = cs[i].fd;
			pfd[nl + i].events = cs[i].len > 0 ? POLLOUT :
			    cs[i].eof ? 0 : POLLIN;
		}
		np = (size_t)nl + nc;
		if (poll(pfd, (nfds_t)np, 500) <= 0)
			continue;
		for (i = nc; i-- > 0;) {
			struct econn	*e = &cs[i];
			short		 re = pfd[nl + i].revents;
			int		 done = 0;

			if (re == 0)
				continue;
			if (e->len > 0 && (re & (POLLOUT | POLLERR | POLLHUP))) {
				n = write(e->fd, e->buf + e->off, e->len);
				if (n > 0) {
					e->off += (size_t)n;
					e->len -= (size_t)n;
				} else if (n == -1 && errno != EAGAIN &&
				    errno != EINTR)
					done = 1;
			} else if (e->len == 0 && !e->eof &&
			    (re & (POLLIN | POLLERR | POLLHUP))) {
				n = read(e->fd, e->buf, ECHOBUF);
				if (n > 0) {
					e->off = 0;
					e->len = (size_t)n;
				} else if (n == 0)
					e->eof = 1;
				else if (errno != EAGAIN && errno != EINTR)
					done = 1;
			}
			if (!done && e->eof && e->len == 0) {
				/* All echoed: pass the half-close on. */
				(void)shutdown(e->fd, SHUT_WR);
				done = 1;
			}
			if (done) {
				close(e->fd);
				free(e->buf);
				cs[i] = cs[--nc];
			}
		}
		for (i = 0; i < (size_t)nl; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			while (nc < cap && (c = accept4(lfd[i], NULL, NULL,
			    SOCK_CLOEXEC | SOCK_NONBLOCK)) != -1) {
				cs[nc].fd = c;
				cs[nc].eof = 0;
				cs[nc].off = cs[nc].len = 0;
				if ((cs[nc].buf = malloc(ECHOBUF)) == NULL) {
					close(c);
					break;
				}
				nc++;
			}
		}
	}
	fprintf(stderr, "fdserver: stopped\n");
	exit(0);
}

int
main(int argc, char *argv[])
{
	struct pollfd		 pfd[MAXL];
	struct sigaction	 sa;
	const char		*e;
	int			 i, c, port = 0, ignore = 0, delay = 0;
	int			 exit_after = 0, served = 0, linger = 0;
	int			 echo = 0;

	snapshot();
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--ignore-term") == 0)
			ignore = 1;
		else if (strcmp(argv[i], "--crash") == 0) {
			fprintf(stderr, "fdserver: crashing on purpose\n");
			exit(3);
		} else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
			delay = atoi(argv[++i]);
		else if (strcmp(argv[i], "--exit-after") == 0 && i + 1 < argc)
			exit_after = atoi(argv[++i]);
		else if (strcmp(argv[i], "--clobber-flags") == 0)
			(void)fcntl(3, F_SETFL, O_NONBLOCK);
		else if (strcmp(argv[i], "--linger-ms") == 0 && i + 1 < argc)
			linger = atoi(argv[++i]);
		else if (strcmp(argv[i], "--echo") == 0)
			echo = 1;
	}
	if (port > 0)
		bind_port(port);
	else if ((e = getenv("LISTEN_PID")) != NULL &&
	    atoi(e) == (int)getpid() && getenv("LISTEN_FDS") != NULL) {
		nl = atoi(getenv("LISTEN_FDS"));
		if (nl > MAXL)
			nl = MAXL;
		for (i = 0; i < nl; i++)
			lfd[i] = 3 + i;
	}
	if (nl == 0) {
		fprintf(stderr, "fdserver: no listener\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ignore ? SIG_IGN : on_term;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGCHLD, SIG_DFL);
	if (delay > 0)
		usleep((useconds_t)delay * 1000);
	fprintf(stderr, "fdserver: ready, pid %d, %d listeners\n",
	    (int)getpid(), nl);
	if (echo) {
		for (i = 0; i < nl; i++)
			(void)fcntl(lfd[i], F_SETFL,
			    fcntl(lfd[i], F_GETFL) | O_NONBLOCK);
		echo_loop();
	}
	while (!stopping) {
		for (i = 0; i < nl; i++) {
			pfd[i].fd = lfd[i];
			pfd[i].events = POLLIN;
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (poll(pfd, (nfds_t)nl, 500) <= 0)
			continue;
		for (i = 0; i < nl; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if ((c = accept4(lfd[i], NULL, NULL,
			    SOCK_CLOEXEC)) == -1)
				continue;
			if (fork() == 0) {
				serve(c);
				_exit(0);
			}
			close(c);
			if (exit_after > 0 && ++served >= exit_after)
				stopping = 1;
		}
	}
	/* Graceful: no new accepts; let the connections in flight finish. */
	for (i = 0; i < nl; i++)
		close(lfd[i]);
	if (linger > 0)
		usleep((useconds_t)linger * 1000);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	fprintf(stderr, "fdserver: stopped\n");
	return 0;
}
