/*
 * inetd's nowait mode: one process per connection (stream) or per
 * readable datagram socket (dgram), with the socket on fds 0, 1 and 2.
 *
 * A stream connection comes from the accept path (accept.c) once its
 * limits and its tcp_wrappers check have passed; it stays counted there
 * (max-children, max-children-per-source) until its process exits.  The
 * master's copy of the connection is closed as soon as the process runs,
 * so a client sees EOF exactly when the server closes it.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "soad.h"

/* REMOTE_ADDR and REMOTE_PORT, as systemd's Accept=yes sets them. */
static void
client_env(const struct conn *cn, char *addr, size_t alen, char *port,
    size_t plen)
{
	char	host[INET6_ADDRSTRLEN];
	int	p = addr_peer_host(&cn->cn_peer.sa, host, sizeof(host));

	snprintf(addr, alen, "REMOTE_ADDR=%s", host);
	if (p == -1)
		port[0] = '\0';
	else
		snprintf(port, plen, "REMOTE_PORT=%d", p);
}

/* Discards the datagram a dgram nowait process did not take, if any. */
static void
drop_datagram(struct conn *cn)
{
	char	b;

	if (recv(cn->cn_dgram->ls_fd, &b, 1, MSG_DONTWAIT) >= 0)
		accept_log_limited("%s: dropped a datagram its server did "
		    "not read", svc_name(cn->cn_svc));
}

/* Runs the service's server for the allowed connection CN. */
void
nowait_start(struct conn *cn)
{
	const struct svc_conf	*sc = cn->cn_svc->sv_conf;
	struct spawn_plan	 plan;
	char			 addr[INET6_ADDRSTRLEN + 16], port[32];
	char			 peer[INET6_ADDRSTRLEN + 16];
	pid_t			 pid;
	int			 fl;

	memset(&plan, 0, sizeof(plan));
	plan.sp_fd[0] = plan.sp_fd[1] = plan.sp_fd[2] =
	    cn->cn_dgram != NULL ? cn->cn_dgram->ls_fd : cn->cn_fd;
	plan.sp_nfd = 3;
	plan.sp_logfail = 1;
	if (cn->cn_dgram == NULL && cn->cn_peer.sa.sa_family != AF_UNIX) {
		client_env(cn, addr, sizeof(addr), port, sizeof(port));
		plan.sp_env[0] = addr;
		plan.sp_env[1] = port;
	}
	/* inetd hands over a blocking socket; the master's copy is not.
	 * A shared datagram socket's flags are the master's too: the child
	 * gets it as the master keeps it. */
	if (cn->cn_dgram == NULL && (fl = fcntl(cn->cn_fd, F_GETFL)) != -1)
		(void)fcntl(cn->cn_fd, F_SETFL, fl & ~O_NONBLOCK);
	pid = spawn_service(sc, &plan);
	accept_log_peer(cn, peer, sizeof(peer));
	if (pid == -1) {
		accept_log_limited("%s: cannot start a server for %s: %s",
		    sc->sc_name, peer, strerror(errno));
		if (cn->cn_dgram != NULL)
			drop_datagram(cn);
		conn_close(cn);
		return;
	}
	log_debug("%s: connection from %s, pid %ld", sc->sc_name, peer,
	    (long)pid);
	cn->cn_pid = pid;
	child_add(pid, CHILD_CONN, cn);
	if (cn->cn_fd != -1)
		close(cn->cn_fd);
	cn->cn_fd = -1;
}

/* CN's process was reaped: the connection is done. */
void
nowait_reaped(struct conn *cn, int status)
{
	char	peer[INET6_ADDRSTRLEN + 16], sig[32];
	long	pid = (long)cn->cn_pid;

	cn->cn_pid = 0;
	accept_log_peer(cn, peer, sizeof(peer));
	if (WIFSIGNALED(status))
		accept_log_limited("%s: pid %ld (client %s) killed by %s",
		    svc_name(cn->cn_svc), pid, peer,
		    conf_signal_name(WTERMSIG(status), sig, sizeof(sig)));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		accept_log_limited("%s: pid %ld (client %s) exited with "
		    "status %d",
		    svc_name(cn->cn_svc), pid, peer,
		    WEXITSTATUS(status));
	/* A failed process may have left its datagram: it would start
	 * the next one at once, and that one fail too, forever. */
	if (cn->cn_dgram != NULL && !(WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0))
		drop_datagram(cn);
	conn_close(cn);
}
