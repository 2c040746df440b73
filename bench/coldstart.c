/*
 * coldstart: time one cold start of a socket-activated HTTP server.
 *
 *	coldstart once PORT
 *		An activator (soad) already listens on PORT and its service is
 *		not running.  Prints connect() -> first response byte.
 *	coldstart activate PORT IDLE_MS -- CMD ARGS...
 *		Spawns CMD (e.g. systemd-socket-activate -l ADDR SERVER), waits
 *		until PORT is in LISTEN (sock_diag, so without connecting),
 *		sleeps IDLE_MS, then times connect() -> first byte.
 *	coldstart standalone PORT -- CMD ARGS...
 *		Spawns CMD (a server that binds PORT itself) and times spawn ->
 *		first byte, retrying connect() every 100 us while it is refused:
 *		the server's own start-to-ready time.
 *
 * After the cold request a second one on the now running server gives the
 * warm latency.  What it spawned it stops with SIGTERM by pid (SIGKILL after
 * 5 s) and waits until PORT no longer listens.
 * Output, one line: "cold_us=N warm_us=N listen_us=N".  Exit 1 on failure.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* Does an IPv4 TCP socket listen on port?  Dumps LISTEN sockets only. */
static int
listening(int port)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req),
		    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP,
		    .idiag_states = 1 << 10 },	/* TCP_LISTEN */
	};
	static char	 buf[32768];
	struct nlmsghdr	*h;
	ssize_t		 n;
	int		 fd, found = 0, done = 0;

	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1)
		return 0;
	if (send(fd, &req, sizeof(req), 0) == -1)
		done = 1;
	while (!done && (n = recv(fd, buf, sizeof(buf), 0)) > 0)
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		    h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_ERROR) {
				done = 1;
				break;
			}
			if (ntohs(((struct inet_diag_msg *)NLMSG_DATA(h))
			    ->id.idiag_sport) == port)
				found = 1;
		}
	close(fd);
	return found;
}

static int
dial(int port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	int			fd, e;

	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Send a request on fd; return the time of the first response byte. */
static double
first_byte(int fd)
{
	static const char	req[] = "GET / HTTP/1.0\r\nHost: bench\r\n\r\n";
	struct timeval		tv = { .tv_sec = 10 };
	char			buf[4096];
	double			t;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1 ||
	    read(fd, buf, sizeof(buf)) <= 0) {
		close(fd);
		return -1;
	}
	t = now_us();
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return t;
}

/* Cold request then warm request; 0 on success. */
static int
request_pair(int port, double t0, int fd, double *cold, double *warm)
{
	double	t;

	if ((t = first_byte(fd)) < 0)
		return -1;
	*cold = t - t0;
	t0 = now_us();
	if ((fd = dial(port)) == -1 || (t = first_byte(fd)) < 0)
		return -1;
	*warm = t - t0;
	return 0;
}

static pid_t	child = -1;

static void
reap(int port)
{
	int	i;

	if (child > 0) {
		kill(child, SIGTERM);
		for (i = 0; i < 500 && waitpid(child, NULL, WNOHANG) == 0; i++)
			nap_us(10000);
		if (i == 500) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
		}
		child = -1;
	}
	for (i = 0; i < 2000 && listening(port); i++)
		nap_us(1000);
}

static pid_t
spawn(char **argv)
{
	pid_t	pid;

	if ((pid = fork()) == 0) {
		execv(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	return pid;
}

int
main(int argc, char *argv[])
{
	double	t0, cold = -1, warm = -1, listen_us = 0;
	int	port, fd = -1, rc = 1;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 3)
		goto usage;
	port = atoi(argv[2]);
	if (strcmp(argv[1], "once") == 0 && argc == 3) {
		t0 = now_us();
		if ((fd = dial(port)) == -1)
			perror("connect");
		else
			rc = request_pair(port, t0, fd, &cold, &warm) ? 1 : 0;
	} else if (strcmp(argv[1], "activate") == 0 && argc > 5 &&
	    strcmp(argv[4], "--") == 0) {
		if (listening(port))
			goto busy;
		t0 = now_us();
		child = spawn(argv + 5);
		while (!listening(port) && now_us() - t0 < 10e6)
			nap_us(200);
		listen_us = now_us() - t0;
		nap_us(atol(argv[3]) * 1000L);
		t0 = now_us();
		if ((fd = dial(port)) == -1)
			perror("connect");
		else
			rc = request_pair(port, t0, fd, &cold, &warm) ? 1 : 0;
		reap(port);
	} else if (strcmp(argv[1], "standalone") == 0 && argc > 4 &&
	    strcmp(argv[3], "--") == 0) {
		if (listening(port))
			goto busy;
		t0 = now_us();
		child = spawn(argv + 4);
		while ((fd = dial(port)) == -1 && errno == ECONNREFUSED &&
		    now_us() - t0 < 10e6)
			nap_us(100);
		if (fd == -1)
			perror("connect");
		else
			rc = request_pair(port, t0, fd, &cold, &warm) ? 1 : 0;
		reap(port);
	} else
		goto usage;
	if (rc == 0)
		printf("cold_us=%.1f warm_us=%.1f listen_us=%.1f\n", cold, warm,
		    listen_us);
	else
		fprintf(stderr, "coldstart: request on port %d failed\n", port);
	return rc;
busy:
	fprintf(stderr, "coldstart: port %d already listens\n", port);
	return 1;
usage:
	fprintf(stderr, "usage: coldstart once PORT\n"
	    "       coldstart activate PORT IDLE_MS -- CMD ARGS...\n"
	    "       coldstart standalone PORT -- CMD ARGS...\n");
	return 2;
}
