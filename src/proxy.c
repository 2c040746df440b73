/*
 * Proxy mode, after the accept path has allowed a connection: a
 * connection to the service, then a relay (relay.c) between the two.
 *
 * Without a backend the service gets private listeners (fds 3..,
 * LISTEN_*): UNIX sockets in a directory only the master's user can
 * enter, made fresh for each run of soad, so nothing but the master can
 * connect and the access checks cannot be bypassed.  The master connects
 * the moment a connection is allowed; the kernel queues it on the private
 * listener while the service starts, so no readiness polling is needed.
 *
 * With a backend the app binds its own address and is handed no socket:
 * the first connection starts it, and connects are retried with short,
 * growing delays until the app accepts or start-timeout has passed since
 * the client arrived.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "soad.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif

#define RETRY_FIRST_MS	5
#define RETRY_MAX_MS	250

static struct event_base	*px_base;
static char			 px_dir[64];

static void	try_connect(struct conn *);

int
proxy_init(struct event_base *base)
{
	px_base = base;
	return 0;
}

/*
 * The private directory: under the run-state directory, else /run or
 * /tmp; mkdtemp(3) makes it 0700 with a name nobody could predict.
 */
static const char *
private_dir(void)
{
	static const char	*bases[] = { RUNSTATEDIR, "/run", "/tmp" };
	size_t			 i;

	if (px_dir[0] != '\0')
		return px_dir;
	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		if (snprintf(px_dir, sizeof(px_dir), "%s/soad-proxy.XXXXXX",
		    bases[i]) >= (int)sizeof(px_dir))
			continue;
		if (mkdtemp(px_dir) != NULL) {
			log_debug("private listeners in %s", px_dir);
			return px_dir;
		}
	}
	px_dir[0] = '\0';
	fatal("cannot make a directory for proxy-mode private listeners");
}

/* At exit, once the listeners are closed (and their files unlinked). */
void
proxy_cleanup(void)
{
	if (px_dir[0] != '\0')
		(void)rmdir(px_dir);
}

/*
 * A proxy service: the configured listeners become the master's public
 * ones (sa_pub); sv_ls become the private ones the service is handed,
 * one per public listener and with its fd name, or none with a backend.
 */
void
proxy_service(struct service *sv)
{
	const struct svc_conf	*sc = sv->sv_conf;
	struct svc_accept	*sa = sv->sv_acc;
	struct listen_conf	*lc;
	struct sockaddr_un	*sun;
	size_t			 i;

	sa->sa_pub = sv->sv_ls;
	sa->sa_npub = sv->sv_nls;
	sv->sv_ls = NULL;
	sv->sv_nls = 0;
	if (sc->sc_accept->ac_backend.ad_family != 0)
		return;
	if ((sa->sa_privconf = calloc(sa->sa_npub, sizeof(*lc))) == NULL ||
	    (sv->sv_ls = calloc(sa->sa_npub, sizeof(*sv->sv_ls))) == NULL)
		fatal("calloc");
	sv->sv_nls = sa->sa_npub;
	for (i = 0; i < sv->sv_nls; i++) {
		lc = &sa->sa_privconf[i];
		lc->lc_fdname = sc->sc_listen[i].lc_fdname;
		lc->lc_line = sc->sc_listen[i].lc_line;
		lc->lc_addr.ad_family = AF_UNIX;
		sun = &lc->lc_addr.ad_ss.sun;
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%zu.%zu",
		    private_dir(), sv->sv_index, i);
		lc->lc_addr.ad_len = sizeof(*sun);
		sv->sv_ls[i].ls_svc = sv;
		sv->sv_ls[i].ls_conf = lc;
		sv->sv_ls[i].ls_fd = -1;
	}
}

/* Which address CN goes to: its listener's private twin, or the backend. */
static const struct addr *
target(const struct conn *cn)
{
	const struct service	*sv = cn->cn_svc;
	size_t			 i;

	if (sv->sv_nls == 0)
		return &sv->sv_conf->sc_accept->ac_backend;
	for (i = 0; i < sv->sv_acc->sa_npub; i++)
		if (sv->sv_acc->sa_pub[i].ls_fd == cn->cn_lfd)
			return &sv->sv_ls[i].ls_conf->lc_addr;
	return &sv->sv_ls[0].ls_conf->lc_addr;
}

static void
relay_done(void *arg)
{
	struct conn	*cn = arg;

	/* The relay closed both sockets. */
	cn->cn_relay = NULL;
	cn->cn_fd = cn->cn_out = -1;
	conn_close(cn);
}

static void
start_relay(struct conn *cn)
{
	const struct accept_conf	*ac = cn->cn_svc->sv_conf->sc_accept;
	union addr_sa		 local;
	socklen_t		 llen = sizeof(local);
	char			 hdr[PROXYPROTO_MAX];
	size_t			 hlen = 0;

	/* The address the client reached: asked only when a header
	 * needs it, not for every connection. */
	if (ac->ac_proxyproto != 0) {
		if (getsockname(cn->cn_fd, &local.sa, &llen) == -1)
			local.sa.sa_family = AF_UNSPEC;
		hlen = proxyproto_header(ac->ac_proxyproto,
		    cn->cn_peer.sa.sa_family == AF_UNIX ? NULL : &cn->cn_peer.sa,
		    &local.sa, hdr, sizeof(hdr));
	}
	if (cn->cn_ev != NULL) {
		event_free(cn->cn_ev);
		cn->cn_ev = NULL;
	}
	cn->cn_relay = relay_new(px_base, cn->cn_fd, cn->cn_out,
	    hlen > 0 ? hdr : NULL, hlen, relay_done, cn);
	if (cn->cn_relay == NULL)
		conn_refuse(cn, "cannot relay");
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*cn = arg;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	(void)fd;
	if (cn->cn_out != -1) {
		/* A connect in progress has finished, or timed out. */
		if (!(what & EV_WRITE))
			err = ETIMEDOUT;
		else if (getsockopt(cn->cn_out, SOL_SOCKET, SO_ERROR, &err,
		    &len) == -1)
			err = errno;
		if (err == 0) {
			start_relay(cn);
			return;
		}
		close(cn->cn_out);
		cn->cn_out = -1;
	}
	try_connect(cn);
}

/* Wait for CN's connect to finish (FD), or retry after a delay (-1). */
static void
wait_for(struct conn *cn, int fd)
{
	struct timeval	tv;
	long		ms;

	if (cn->cn_ev != NULL)
		event_free(cn->cn_ev);
	ms = RETRY_FIRST_MS << (cn->cn_tries < 6 ? cn->cn_tries : 6);
	if (ms > RETRY_MAX_MS)
		ms = RETRY_MAX_MS;
	cn->cn_tries++;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	cn->cn_ev = event_new(px_base, fd, fd == -1 ? 0 : EV_WRITE, retry_cb,
	    cn);
	/* A connect in progress gets start-timeout; a retry its delay. */
	if (fd != -1) {
		tv.tv_sec = cn->cn_svc->sv_conf->sc_accept->ac_start_timeout;
		tv.tv_usec = 0;
	}
	if (cn->cn_ev == NULL || event_add(cn->cn_ev, &tv) == -1)
		conn_refuse(cn, "cannot wait for the service");
}

static void
try_connect(struct conn *cn)
{
	const struct accept_conf	*ac = cn->cn_svc->sv_conf->sc_accept;
	const struct addr	*a = target(cn);
	int			 fd;

	if (svc_elapsed(&cn->cn_since) > (double)ac->ac_start_timeout) {
		conn_refuse(cn, "the service did not accept within "
		    "start-timeout");
		return;
	}
	/* Started, or starting: a crash or a stop meanwhile starts it again. */
	svc_want(cn->cn_svc);
	fd = socket(a->ad_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1 && (errno == EMFILE || errno == ENFILE ||
	    errno == ENOBUFS || errno == ENOMEM)) {
		wait_for(cn, -1);	/* out of fds: the client waits */
		return;
	}
	if (fd == -1) {
		conn_refuse(cn, strerror(errno));
		return;
	}
	if (connect(fd, &a->ad_ss.sa, a->ad_len) == 0) {
		cn->cn_out = fd;
		start_relay(cn);
		return;
	}
	if (errno == EINPROGRESS) {
		cn->cn_out = fd;
		wait_for(cn, fd);
		return;
	}
	close(fd);
	switch (errno) {
	case ECONNREFUSED:	/* the app is not listening yet */
	case ENOENT:
	case EAGAIN:		/* a private listener's backlog is full */
	case ETIMEDOUT:
	case ECONNRESET:
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
		wait_for(cn, -1);
		return;
	default:
		conn_refuse(cn, strerror(errno));
	}
}

/* The accept path allowed CN (and tcp_wrappers, if checked). */
void
proxy_allowed(struct conn *cn)
{
	try_connect(cn);
}

/* Tears down CN's proxy side; the accept path closes the client. */
void
proxy_conn_free(struct conn *cn)
{
	if (cn->cn_relay != NULL) {
		relay_free(cn->cn_relay);	/* closes both sockets */
		cn->cn_relay = NULL;
		cn->cn_fd = cn->cn_out = -1;
	}
	if (cn->cn_ev != NULL) {
		event_free(cn->cn_ev);
		cn->cn_ev = NULL;
	}
	if (cn->cn_out != -1) {
		close(cn->cn_out);
		cn->cn_out = -1;
	}
}
