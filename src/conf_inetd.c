/*
 * soad -i: the services of a classic inetd.conf added to a struct conf,
 * built as soad.conf would build the output of soad -C for the same file:
 * the same section names (inetd_groups()), modes and keys, so an admin
 * can move from one to the other without a surprise.
 *
 *   wait stream       pass mode, the listener on fd 0 and fd 3
 *   wait dgram        pass mode, socket-type dgram (the socket on fd 0, 3)
 *   nowait            mode = nowait, stream or dgram
 *   internal          the service soad serves itself (wait or not)
 *
 * Every service takes the global timeout, kill-timeout, stop-signal,
 * backlog and rate-pause of the struct conf it joins: soad.conf's with
 * -f, the built-in defaults (conf_inetd_defaults()) without; umask 022,
 * directory /, no extra environment, as inetd.  Limits of a nowait or
 * internal line go to its accept_conf; tcp_wrappers (tcpwrap defaults to
 * yes) checks every nowait and internal stream line under the daemon
 * name inetd.c chose, never a wait or dgram line.
 *
 * The one difference from soad -C + soad -n: a server that is missing
 * or not executable is a warning, not an error.  inetd starts with such
 * a line too, and fails each connection until the program is installed.
 * Opens and closes one fd (conftext_read()).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "soad.h"

/* One service name, and where it came from. */
struct name {
	const char	*nm_name;
	int		 nm_line;	/* inetd.conf line; 0: soad.conf */
	size_t		 nm_idx;	/* group index, if nm_line != 0 */
};

/*
 * A struct conf with the built-in global settings and no service: what
 * -i without -f adds its services to.
 */
struct conf *
conf_inetd_defaults(void)
{
	struct conf	*cf;

	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		fatal("calloc");
	cf->cf_hosts_allow = xstrdup("/etc/hosts.allow");
	cf->cf_hosts_deny = xstrdup("/etc/hosts.deny");
	cf->cf_timeout = CONF_TIMEOUT;
	cf->cf_kill_timeout = CONF_KILL_TIMEOUT;
	cf->cf_backlog = CONF_BACKLOG;
	cf->cf_stop_signal = SIGTERM;
	cf->cf_rate_pause = CONF_RATE_PAUSE;
	return cf;
}

static int
name_cmp(const void *a, const void *b)
{
	const struct name	*x = a, *y = b;
	int			 r;

	if ((r = strcmp(x->nm_name, y->nm_name)) != 0)
		return r;
	/* soad.conf's first, then in line order */
	return x->nm_line < y->nm_line ? -1 : x->nm_line > y->nm_line;
}

/*
 * Marks in DUP[] every group whose name a soad.conf service or an
 * earlier line has, and reports it at its line.
 */
static void
check_names(const struct conf *cf, const char *sfile,
    const struct inetd_group *g, size_t ng, int *dup)
{
	struct name	*v;
	size_t		 i, j, n = 0;

	if ((v = calloc(cf->cf_nsvcs + ng + 1, sizeof(*v))) == NULL)
		fatal("calloc");
	for (i = 0; i < cf->cf_nsvcs; i++)
		v[n++].nm_name = cf->cf_svcs[i]->sc_name;
	for (i = 0; i < ng; i++) {
		v[n].nm_name = g[i].ig_name;
		v[n].nm_line = g[i].ig_e->ie_line;
		v[n++].nm_idx = i;
	}
	qsort(v, n, sizeof(*v), name_cmp);
	for (i = 0; i < n; i = j)
		for (j = i + 1; j < n && strcmp(v[i].nm_name,
		    v[j].nm_name) == 0; j++) {
			dup[v[j].nm_idx] = 1;
			if (v[i].nm_line == 0)
				conf_error(v[j].nm_line, "service %s is already "
				    "defined in %s; rename that section",
				    v[j].nm_name, sfile);
			else
				conf_error(v[j].nm_line, "service %s is already "
				    "defined at line %d", v[j].nm_name,
				    v[i].nm_line);
		}
	free(v);
}

/* The server of SC: a warning only, the line still runs (see above). */
static void
check_server(const struct svc_conf *sc)
{
	struct stat	st;

	if (stat(sc->sc_server, &st) == -1)
		conf_warning(sc->sc_line, "service %s: server %s: %s; every "
		    "connection fails until it is installed", sc->sc_name,
		    sc->sc_server, strerror(errno));
	else if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0 ||
	    access(sc->sc_server, X_OK) == -1)
		conf_warning(sc->sc_line, "service %s: server %s is not an "
		    "executable file; every connection fails until it is",
		    sc->sc_name, sc->sc_server);
}

/* User, group and socket owner of SC from line E. */
static void
build_user(struct conf *cf, struct svc_conf *sc,
    const struct inetd_entry *e, uid_t euid, gid_t egid, const char *euser)
{
	struct passwd	*pw;
	struct group	*gr;
	mode_t		 m;

	sc->sc_uid = euid;
	sc->sc_gid = egid;
	sc->sc_user = conf_intern(cf, euser);
	/* An internal service runs no process: no user to switch to. */
	if (e->ie_internal == INETD_EXTERNAL) {
		sc->sc_setuser = 1;
		sc->sc_user = conf_intern(cf, e->ie_user);
		sc->sc_uid = e->ie_uid;
		sc->sc_gid = e->ie_gid;
		if (euid != 0 && (sc->sc_uid != euid || sc->sc_gid != egid))
			conf_error(e->ie_line, "service %s: user %s needs soad "
			    "to run as root", sc->sc_name, e->ie_user);
	}
	sc->sc_sock_uid = sc->sc_uid;
	sc->sc_sock_gid = sc->sc_gid;
	sc->sc_sock_mode = 0660;
	if (e->ie_sockuser == NULL)
		return;
	/* inetd.c has checked that they exist. */
	if ((pw = getpwnam(e->ie_sockuser)) != NULL)
		sc->sc_sock_uid = pw->pw_uid;
	if ((gr = getgrnam(e->ie_sockgroup)) != NULL)
		sc->sc_sock_gid = gr->gr_gid;
	if (conf_parse_octal(e->ie_sockmode, &m) == -1)
		conf_error(e->ie_line, "service %s: socket mode %s must be "
		    "from 0 to 0777", sc->sc_name, e->ie_sockmode);
	else
		sc->sc_sock_mode = m;
	if (euid != 0 && (sc->sc_sock_uid != euid || sc->sc_sock_gid != egid))
		conf_error(e->ie_line, "service %s: socket owner %s:%s needs "
		    "soad to run as root", sc->sc_name, e->ie_sockuser,
		    e->ie_sockgroup);
}

/* The service of line G. */
static struct svc_conf *
build(struct conf *cf, const struct inetd_group *g, int flags,
    uid_t euid, gid_t egid, const char *euser)
{
	const struct inetd_entry	*e = g->ig_e;
	struct svc_conf			*sc;
	struct accept_conf		*ac;
	size_t				 i, n;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		fatal("calloc");
	sc->sc_name = xstrdup(g->ig_name);
	sc->sc_line = e->ie_line;
	sc->sc_inetd = 1;
	sc->sc_socktype = (unsigned char)e->ie_socktype;
	sc->sc_internal = (unsigned char)e->ie_internal;

	/* one listener per address of the line */
	sc->sc_nlisten = g->ig_n;
	if (sc->sc_nlisten > SOAD_MAXLISTEN) {
		conf_error(e->ie_line, "service %s: more than %d addresses",
		    sc->sc_name, SOAD_MAXLISTEN);
		sc->sc_nlisten = SOAD_MAXLISTEN;
	}
	if ((sc->sc_listen = calloc(sc->sc_nlisten, sizeof(*sc->sc_listen)))
	    == NULL)
		fatal("calloc");
	for (i = 0; i < sc->sc_nlisten; i++) {
		sc->sc_listen[i].lc_addr = e[i].ie_addr;
		sc->sc_listen[i].lc_fdname = sc->sc_name;
		sc->sc_listen[i].lc_line = e->ie_line;
	}

	/* the globals, and what inetd gives every server */
	sc->sc_timeout = (int)cf->cf_timeout;
	sc->sc_kill_timeout = (int)cf->cf_kill_timeout;
	sc->sc_stop_signal = cf->cf_stop_signal;
	sc->sc_backlog = cf->cf_backlog;
	sc->sc_umask = 022;
	sc->sc_dir = conf_intern(cf, "/");
	sc->sc_env = conf_nostrings;
	build_user(cf, sc, e, euid, egid, euser);
	if (flags & CONF_CHECK_SOCKETS)
		for (i = 0; i < sc->sc_nlisten; i++)
			if (sc->sc_listen[i].lc_addr.ad_family == AF_UNIX)
				conf_check_socket(sc, &sc->sc_listen[i]);

	/* the program, if any */
	if (e->ie_internal != INETD_EXTERNAL)
		sc->sc_argv = conf_nostrings;
	else {
		sc->sc_server = conf_intern(cf, e->ie_server);
		for (n = 0; e->ie_argv[n] != NULL; n++)
			;
		if ((sc->sc_argv = calloc(n + 1, sizeof(*sc->sc_argv))) ==
		    NULL)
			fatal("calloc");
		for (i = 0; i < n; i++)
			sc->sc_argv[i] = conf_intern(cf, e->ie_argv[i]);
		/* A tcpd line soad cannot check: tcpd runs and checks it. */
		if (inetd_runs_tcpd(e)) {
			sc->sc_server = conf_intern(cf, e->ie_tcpd);
			sc->sc_argv[0] = conf_intern(cf, e->ie_tcpdarg0);
		}
		if (flags & CONF_CHECK_FILES)
			check_server(sc);
	}

	inetd_warn_unsupported(e);
	if (inetd_is_pass(e)) {
		sc->sc_mode = MODE_PASS;
		sc->sc_fd0 = 1;
		return sc;
	}
	sc->sc_mode = MODE_NOWAIT;
	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		fatal("calloc");
	sc->sc_accept = ac;
	if (inetd_is_checked(e)) {
		if (!conf_valid_wrapname(e->ie_wrapname))
			conf_error(e->ie_line, "service %s: \"%s\" cannot be a "
			    "hosts.allow daemon name (1 to 64 characters "
			    "without blanks, ':' or ',')", sc->sc_name,
			    e->ie_wrapname);
		ac->ac_wrapname = conf_intern(cf, e->ie_wrapname);
	}
	ac->ac_maxconn = e->ie_max_children;
	ac->ac_maxsrc = e->ie_max_children_per_source;
	/* inetd's own default (OpenBSD, FreeBSD: 256 a minute), so a
	 * line that fails at once cannot fork without bound. */
	ac->ac_rate = e->ie_max_per_minute > 0 ? e->ie_max_per_minute :
	    INETD_DEFAULT_RATE;
	ac->ac_ratesrc = e->ie_max_per_minute_per_source;
	ac->ac_rate_pause = cf->cf_rate_pause;
	return sc;
}

/* Every line of V[0..N) as a service of CF. */
static void
add_entries(struct conf *cf, const char *sfile,
    const struct inetd_entry *v, size_t n, int flags)
{
	struct inetd_group	*g;
	struct svc_conf		**svcs;
	struct passwd		*pw;
	char			*euser;
	size_t			 i, ng;
	int			*dup;
	uid_t			 euid = geteuid();
	gid_t			 egid = getegid();

	euser = (pw = getpwuid(euid)) != NULL ? xstrdup(pw->pw_name) : NULL;
	ng = inetd_groups(v, n, &g);
	if ((dup = calloc(ng + 1, sizeof(*dup))) == NULL ||
	    (svcs = reallocarray(cf->cf_svcs, cf->cf_nsvcs + ng + 1,
	    sizeof(*svcs))) == NULL)
		fatal("calloc");
	cf->cf_svcs = svcs;
	check_names(cf, sfile, g, ng, dup);
	for (i = 0; i < ng; i++)
		if (!dup[i])
			cf->cf_svcs[cf->cf_nsvcs++] = build(cf, &g[i], flags,
			    euid, egid, euser);
	/* soad.conf's own addresses were checked: what is reported here
	 * involves a line of this file, at that line. */
	conf_check_addresses(cf);
	free(dup);
	free(euser);
	inetd_groups_free(g, ng);
}

/*
 * -i FILE: the services of the inetd.conf FILE added to CF, whose
 * soad.conf (if any) is SFILE.  Every message goes to conf.c's sink as
 * "FILE:LINE: ..."; returns the number of errors (CF is then to be
 * freed, not used).
 */
int
conf_inetd_add(struct conf *cf, const char *sfile, const char *file,
    int flags)
{
	struct inetd_entry	*v = NULL;
	char			*text, err[256];
	size_t			 len, n = 0;

	conf_errors_begin();
	if (conftext_read(file, &text, &len, err, sizeof(err)) == -1) {
		conf_error(0, "%s", err);
		return conf_errors_end(file);
	}
	if (inetd_parse(file, text, len, 0, &v, &n) == 0)
		add_entries(cf, sfile != NULL ? sfile : "soad.conf", v, n,
		    flags);
	inetd_free(v, n);
	free(text);
	if (conf_errors() == 0 && cf->cf_nsvcs == 0)
		conf_error(0, "no service defined");
	return conf_errors_end(file);
}
