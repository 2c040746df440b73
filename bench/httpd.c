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

#include "benchlisten.h"

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
	int	lfd, c;

	signal(SIGCHLD, SIG_IGN);	/* no zombies, no reaping */
	if ((lfd = bench_listener(argc, argv, "httpd", 1024)) == -1)
		return 2;
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
