/*
 * Listening sockets.  The master creates every listener, keeps it for the
 * daemon's life and hands copies to services; its own copy is close-on-exec
 * so it never leaks into another service.  Listeners stay blocking, as
 * systemd passes them: the master never accepts on a pass-mode listener,
 * it only watches for readiness.
 *
 * A UNIX socket path is replaced only if it is a socket nobody listens on;
 * anything else there (a file, a live socket) is an error and left alone.
 * The socket is bound under umask 0177, then given its configured owner
 * and mode, so it is never reachable with laxer permissions.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "soad.h"

/*
 * Replace PATH only if it is a socket nobody listens on: a non-blocking
 * probe connect() that is refused.  Anything else (a live or hung server,
 * a permission or LSM denial, not a socket) leaves the file alone.
 */
static int
unix_prepare(const char *path)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd, r, saved;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		log_warnx("%s exists and is not a socket; not replacing it",
		    path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	if (r == -1 && saved == ECONNREFUSED) {
		log_debug("%s: replacing stale socket", path);
		return unlink(path);
	}
	if (r == 0 || saved == EAGAIN || saved == EINPROGRESS)
		log_warnx("%s: another process listens on this socket", path);
	else
		log_warnx("%s: cannot tell whether this socket is in use (%s); "
		    "not replacing it", path, strerror(saved));
	errno = EADDRINUSE;
	return -1;
}

static int
unix_bind(struct listener *ls, const struct svc_conf *sc, int fd)
{
	const struct addr	*a = &ls->ls_conf->lc_addr;
	const char		*path = addr_path(a);
	struct stat		 st;
	mode_t			 old;
	int			 r, saved;
	char			 err[PATH_MAX + 128];

	/* Never where another user could choose where the socket lands. */
	if (sockpath_check(path, sc->sc_sock_uid, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", sc->sc_name, err);
		errno = EPERM;
		return -1;
	}
	if (unix_prepare(path) == -1)
		return -1;
	old = umask(0177);
	r = bind(fd, (const struct sockaddr *)&a->ad_ss, a->ad_len);
	umask(old);
	if (r == -1)
		return -1;
	/* Never follow a link someone swapped in: lchown, and fchmodat
	 * without following (it refuses symlinks). */
	if (lstat(path, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	ls->ls_dev = st.st_dev;
	ls->ls_ino = st.st_ino;
	if (((st.st_uid != sc->sc_sock_uid || st.st_gid != sc->sc_sock_gid) &&
	    lchown(path, sc->sc_sock_uid, sc->sc_sock_gid) == -1) ||
	    fchmodat(AT_FDCWD, path, sc->sc_sock_mode,
	    AT_SYMLINK_NOFOLLOW) == -1) {
		saved = errno;
		(void)unlink(path);	/* ours: made by this bind */
		errno = saved;
		return -1;
	}
	return 0;
}

static int
inet_socket(const struct addr *a, struct addr *bound, int type)
{
	struct sockaddr_in	*sin;
	int			 fd, off = 0, on = 1;

	*bound = *a;
	fd = socket(a->ad_family, type | SOCK_CLOEXEC, 0);
	if (fd == -1 && a->ad_any && errno == EAFNOSUPPORT) {
		/* No IPv6 in this kernel: "PORT" means every IPv4 address. */
		memset(&bound->ad_ss, 0, sizeof(bound->ad_ss));
		sin = (struct sockaddr_in *)&bound->ad_ss;
		sin->sin_family = bound->ad_family = AF_INET;
		sin->sin_port = htons((in_port_t)addr_port(a));
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		bound->ad_len = sizeof(*sin);
		fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	}
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (bound->ad_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, a->ad_any ? &off : &on, sizeof(on)) == -1)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Bind and listen; on failure log why and return -1 (retried later). */
int
listener_open(struct listener *ls, const struct svc_conf *sc)
{
	const struct addr	*a = &ls->ls_conf->lc_addr;
	struct addr		 bound;
	char			 buf[128];
	int			 fd, high, saved;

	addr_fmt(a, buf, sizeof(buf));
	if (a->ad_family == AF_UNIX)
		fd = socket(AF_UNIX, sc->sc_socktype | SOCK_CLOEXEC, 0);
	else
		fd = inet_socket(a, &bound, sc->sc_socktype);
	if (fd == -1) {
		log_warn("%s: socket for %s", sc->sc_name, buf);
		return -1;
	}
	if (a->ad_family == AF_UNIX) {
		if (unix_bind(ls, sc, fd) == -1)
			goto fail;
	} else if (bind(fd, (struct sockaddr *)&bound.ad_ss,
	    bound.ad_len) == -1)
		goto fail;
	/* A datagram socket is ready once bound. */
	if (sc->sc_socktype == SOCK_STREAM && listen(fd, sc->sc_backlog) == -1)
		goto fail;
	/* Above every fd number a service is handed, so an si_fd from a
	 * service's own O_ASYNC never names one of ours by accident. */
	if (fd < SOAD_FD_FLOOR) {
		if ((high = fcntl(fd, F_DUPFD_CLOEXEC, SOAD_FD_FLOOR)) == -1)
			goto fail;
		close(fd);
		fd = high;
	}
	ls->ls_fd = fd;
	ls->ls_vfs_known = 0;	/* a new socket file: learn its ids anew */
	log_debug("%s: listening on %s (fd %d)", sc->sc_name, buf, fd);
	return 0;

fail:
	saved = errno;
	close(fd);
	errno = saved;
	log_warn("%s: cannot listen on %s", sc->sc_name, buf);
	return -1;
}

void
listener_close(struct listener *ls)
{
	const char	*path = addr_path(&ls->ls_conf->lc_addr);
	struct stat	 st;

	if (ls->ls_fd == -1)
		return;
	close(ls->ls_fd);
	ls->ls_fd = -1;
	/* Unlink only the socket file we made, not a successor's. */
	if (path != NULL && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == ls->ls_dev && st.st_ino == ls->ls_ino)
		(void)unlink(path);
}

/*
 * What a service did to a listener it shared, or NULL if it is whole: no
 * longer listening (shutdown(2), or connected elsewhere afterwards), or
 * its socket file unlinked or replaced.
 */
const char *
listener_broken(const struct listener *ls)
{
	const char	*path = addr_path(&ls->ls_conf->lc_addr);
	struct stat	 st;
	socklen_t	 len = sizeof(int);
	int		 on = 0;

	if (path != NULL) {
		if (lstat(path, &st) == -1)
			return "lost its socket file";
		if (st.st_dev != ls->ls_dev || st.st_ino != ls->ls_ino)
			return "had its socket file replaced";
	}
	if (getsockopt(ls->ls_fd, SOL_SOCKET, SO_TYPE, &on, &len) == 0 &&
	    on == SOCK_DGRAM)
		return NULL;		/* nothing to shut down */
	len = sizeof(int);
	if (getsockopt(ls->ls_fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == -1 ||
	    !on)
		return "was shut down";
	return NULL;
}

/*
 * A socket shut down while listening is still bound: listen(2) again
 * brings it back with the same fd.  Returns -1 if it is not whole after.
 */
int
listener_relisten(struct listener *ls, const struct svc_conf *sc)
{
	const char	*path = addr_path(&ls->ls_conf->lc_addr);
	struct stat	 st;

	if (path != NULL && (lstat(path, &st) == -1 ||
	    st.st_dev != ls->ls_dev || st.st_ino != ls->ls_ino))
		return -1;
	if (listen(ls->ls_fd, sc->sc_backlog) == -1)
		return -1;
	return listener_broken(ls) == NULL ? 0 : -1;
}

/*
 * While binding many listeners at once, hold every fd below
 * SOAD_FD_FLOOR with /dev/null, so each new socket lands above the floor
 * at once instead of being moved there (two syscalls a listener saved).
 * ON false releases them.
 */
void
listener_reserve(int on)
{
	static int	held[SOAD_FD_FLOOR];
	static int	nheld;
	int		fd;

	if (!on) {
		while (nheld > 0)
			close(held[--nheld]);
		return;
	}
	while (nheld < SOAD_FD_FLOOR &&
	    (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1) {
		if (fd >= SOAD_FD_FLOOR) {
			close(fd);
			break;
		}
		held[nheld++] = fd;
	}
}
