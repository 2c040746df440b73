/*
 * The listening socket of a bench server (httpd.c, ehttpd.c): with
 * "--port N" a new one on 127.0.0.1:N, else fd 3 if it was passed to this
 * process (LISTEN_PID is ours).  -1 after a message on stderr.
 */
#ifndef BENCHLISTEN_H
#define BENCHLISTEN_H

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
bench_listener(int argc, char *argv[], const char *prog, int backlog)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	const char		*e = getenv("LISTEN_PID");
	int			 fd, on = 1;

	if (argc == 3 && strcmp(argv[1], "--port") == 0) {
		sin.sin_port = htons((unsigned short)atoi(argv[2]));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1 ||
		    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(fd, backlog) == -1) {
			fprintf(stderr, "%s: bind: %s\n", prog,
			    strerror(errno));
			return -1;
		}
		return fd;
	}
	if (e == NULL || atoi(e) != (int)getpid()) {
		fprintf(stderr, "usage: %s --port N (or socket-activated)\n",
		    prog);
		return -1;
	}
	return 3;
}

#endif
