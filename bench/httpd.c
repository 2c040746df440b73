/*
 * httpd: the serving model of tests/fdserver (one forked process per
 * connection, HTTP/1.1 keep-alive unless "Connection: close") but the
 * response goes out in ONE write().  fdserver writes header and body
 * separately, so on a keep-alive connection Nagle holds the body until the
 * client's delayed ACK (~40 ms) and wrk measures that timer, not the
 * server.  This one shows what the machine can do.
 *
 *	httpd --port N		bind 127.0.0.1:N
 *	httpd			socket-activated: LISTEN_FDS/LISTEN_PID, fd 3
 * SIGTERM: default action (dies); its connection processes die with the
 * process group or when the peer closes.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
serve(int c)
{
	static const char ka[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 3\r\nConnection: keep-alive\r\n\r\nok\n";
	static const char cl[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 3\r\nConnection: close\r\n\r\nok\n";
	char	 req[8192], *end;
	size_t	 have = 0;
	ssize_t	 n;
	int	 keep;

	for (;;) {
		while ((end = memmem(req, have, "\r\n\r\n", 4)) == NULL) {
			if (have == sizeof(req) ||
			    (n = read(c, req + have, sizeof(req) - have)) <= 0)
				return;
			have += (size_t)n;
		}
		keep = memmem(req, (size_t)(end - req), "HTTP/1.1", 8) &&
		    !memmem(req, (size_t)(end - req), "onnection: close", 16);
		if (keep ? write(c, ka, sizeof(ka) - 1) != sizeof(ka) - 1 :
		    write(c, cl, sizeof(cl) - 1) != sizeof(cl) - 1)
			return;
		if (!keep)
			return;
		have -= (size_t)(end + 4 - req);
		memmove(req, end + 4, have);
	}
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	const char		*e = getenv("LISTEN_PID");
	int			 lfd = 3, c, on = 1;

	signal(SIGCHLD, SIG_IGN);	/* no zombies, no reaping */
	if (argc == 3 && strcmp(argv[1], "--port") == 0) {
		sin.sin_port = htons((unsigned short)atoi(argv[2]));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1 ||
		    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(lfd, 1024) == -1) {
			perror("httpd: bind");
			return 2;
		}
	} else if (e == NULL || atoi(e) != (int)getpid()) {
		fprintf(stderr, "usage: httpd --port N (or socket-activated)\n");
		return 2;
	}
	for (;;) {
		if ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		if (fork() == 0) {
			close(lfd);
			serve(c);
			_exit(0);
		}
		close(c);
	}
}
