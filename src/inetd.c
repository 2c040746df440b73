/*
 * Classic inetd.conf, as the BSDs, Debian's openbsd-inetd and netkit
 * write it, read into struct inetd_entry records: pure data, no sockets.
 * Malformed lines are conf_error()s, well-formed lines soad cannot serve
 * are conf_warning()s that name what is unsupported; either way every
 * other line still counts.  Opens and closes one fd (conftext_read).
 *
 * The dialect questions, decided once here:
 * - A line is a comment if its first non-blank character is '#'; a line
 *   starting with a blank continues the entry above it (BSD).  FreeBSD's
 *   "#@ policy" lines set an IPsec policy soad does not apply: warned.
 * - Fields are blank-separated; a field that starts with a quote runs to
 *   the matching quote (FreeBSD).
 * - "tcp"/"udp" alone: both IP families on Linux (Debian's openbsd-inetd
 *   since 0.20221205), IPv4 only elsewhere (the BSDs), and IPv4 only on
 *   Linux too where the file has an IPv6 line for the same port (a BSD
 *   file's tcp + tcp6 pair).  "tcp4" is IPv4, "tcp6" IPv6 only, "tcp46"
 *   both.
 * - "wait.N" (OpenBSD, netkit, Debian) is N starts per minute for the
 *   service; "wait/C/R/P" (FreeBSD) is max children, starts per minute
 *   per source, children per source; 0 or empty means no limit.
 * - "user.group" splits at the dot only when "user.group" is not itself
 *   a user; "user:group" always splits; "/class" is a login class.
 * - tcpd as the server: the real server is the next field, an absolute
 *   path or a name in tcpd's REAL_DAEMON_DIR (/usr/sbin on Debian,
 *   /usr/libexec on the BSDs: the platform's first, the other if only it
 *   has the file); its argv[0] becomes its basename, as tcpd does.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "soad.h"

#ifdef __linux__
#define PLAIN_DUAL	1	/* "tcp" is tcp4 + tcp6 (Debian) */
static const char *daemon_dirs[] = { "/usr/sbin", "/usr/libexec" };
#else
#define PLAIN_DUAL	0
static const char *daemon_dirs[] = { "/usr/libexec", "/usr/sbin" };
#endif

#define MAX_LIMIT	1000000		/* any limit an admin means */

/* The names are conf.c's table, which soad.conf's internal = uses too. */
#define NINTERNALS	(INETD_TIME + 1)

static const char *fields[] = {
	"service", "socket type", "protocol", "wait/nowait", "user",
	"server"
};

/* The parse in progress. */
static struct {
	int			 flags;
	char			*defhost;	/* from the last "host:" line */
	struct inetd_entry	*v;
	size_t			 n, size;
	char		       **tok;		/* the entry being gathered */
	size_t			 ntok, toksize;
	int			 line;		/* its first line, 0: none */
} I;

/* What one line says before it becomes entries, one per address. */
struct line {
	char			*host;		/* NULL: the default */
	struct inetd_entry	 e;
	int			 proto_dual;
};

const char *
inetd_internal_name(enum inetd_internal k)
{
	return k == INETD_EXTERNAL ? NULL : conf_internal_names[k];
}

static void
entry_clear(struct inetd_entry *e)
{
	char	**a;

	free(e->ie_service);
	free(e->ie_proto);
	free(e->ie_host);
	free(e->ie_listen);
	free(e->ie_user);
	free(e->ie_group);
	free(e->ie_class);
	free(e->ie_server);
	for (a = e->ie_argv; a != NULL && *a != NULL; a++)
		free(*a);
	free(e->ie_argv);
	free(e->ie_wrapname);
	free(e->ie_tcpd);
	free(e->ie_tcpdarg0);
	free(e->ie_sockuser);
	free(e->ie_sockgroup);
	free(e->ie_sockmode);
	memset(e, 0, sizeof(*e));
}

void
inetd_free(struct inetd_entry *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		entry_clear(&v[i]);
	free(v);
}

/* A deep copy of E with its own host and listen address. */
static void
entry_add(const struct inetd_entry *e, const char *host, const char *listen)
{
	struct inetd_entry	*d;
	struct addr		 a;
	char			 err[256];
	size_t			 i, n;

	if (addr_parse(listen, &a, err, sizeof(err)) == -1) {
		conf_warning(e->ie_line, "%s; not served", err);
		return;
	}
	if (I.n == I.size) {
		I.size = I.size == 0 ? 16 : I.size * 2;
		if ((d = reallocarray(I.v, I.size, sizeof(*d))) == NULL)
			fatal("reallocarray");
		I.v = d;
	}
	d = &I.v[I.n++];
	*d = *e;
	d->ie_addr = a;
	d->ie_service = xstrdup(e->ie_service);
	d->ie_proto = xstrdup(e->ie_proto);
	d->ie_host = xstrdup(host);
	d->ie_listen = xstrdup(listen);
	d->ie_user = xstrdup(e->ie_user);
	d->ie_group = xstrdup(e->ie_group);
	d->ie_class = xstrdup(e->ie_class);
	d->ie_server = xstrdup(e->ie_server);
	for (n = 0; e->ie_argv[n] != NULL; n++)
		;
	if ((d->ie_argv = calloc(n + 1, sizeof(*d->ie_argv))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++)
		d->ie_argv[i] = xstrdup(e->ie_argv[i]);
	d->ie_wrapname = xstrdup(e->ie_wrapname);
	d->ie_tcpd = xstrdup(e->ie_tcpd);
	d->ie_tcpdarg0 = xstrdup(e->ie_tcpdarg0);
	d->ie_sockuser = xstrdup(e->ie_sockuser);
	d->ie_sockgroup = xstrdup(e->ie_sockgroup);
	d->ie_sockmode = xstrdup(e->ie_sockmode);
}

/* Decimal digits only, at most MAX_LIMIT; -1 otherwise. */
static int
parse_count(const char *s, size_t len)
{
	long	v = 0;
	size_t	i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > MAX_LIMIT)
			return -1;
	}
	return (int)v;
}

/*
 * "wait" or "nowait", then ".N" or "/C/R/P" (any part empty or left
 * out).  Returns -1 after reporting.
 */
static int
parse_wait(struct inetd_entry *e, const char *s)
{
	const char	*p = s + strcspn(s, "./");
	size_t		 len = (size_t)(p - s), k;
	int		*lim[3], v, i;

	if (len == 4 && strncmp(s, "wait", 4) == 0)
		e->ie_wait = 1;
	else if (!(len == 6 && strncmp(s, "nowait", 6) == 0)) {
		conf_error(e->ie_line, "bad wait/nowait field \"%s\"", s);
		return -1;
	}
	if (*p == '.') {
		if ((v = parse_count(p + 1, strlen(p + 1))) < 1) {
			conf_error(e->ie_line, "bad max field \"%s\": a number "
			    "from 1 to %d", p + 1, MAX_LIMIT);
			return -1;
		}
		e->ie_max_per_minute = v;
		return 0;
	}
	lim[0] = &e->ie_max_children;
	lim[1] = &e->ie_max_per_minute_per_source;
	lim[2] = &e->ie_max_children_per_source;
	for (i = 0; *p == '/' && i < 3; i++) {
		p++;
		k = strcspn(p, "/");
		if (k > 0 && (v = parse_count(p, k)) < 0) {
			conf_error(e->ie_line, "bad limit \"%.*s\" in \"%s\": "
			    "a number from 0 to %d", (int)k, p, s, MAX_LIMIT);
			return -1;
		}
		*lim[i] = k > 0 ? v : 0;
		p += k;
	}
	if (*p != '\0') {
		conf_error(e->ie_line, "bad wait/nowait field \"%s\": at most "
		    "three /limits", s);
		return -1;
	}
	return 0;
}

/* "user", "user:group", "user.group", each with an optional "/class". */
static int
parse_user(struct inetd_entry *e, const char *field)
{
	struct passwd	*pw;
	struct group	*gr;
	char		*u, *g = NULL, *c;

	u = xstrdup(field);
	if ((c = strrchr(u, '/')) != NULL) {
		*c++ = '\0';
		e->ie_class = xstrdup(c);
	}
	if ((g = strchr(u, ':')) != NULL)
		*g++ = '\0';
	else if ((g = strchr(u, '.')) != NULL && getpwnam(u) == NULL)
		*g++ = '\0';
	else
		g = NULL;
	if (*u == '\0' || (pw = getpwnam(u)) == NULL) {
		conf_error(e->ie_line, "no such user \"%s\"", u);
		free(u);
		return -1;
	}
	e->ie_user = xstrdup(u);
	e->ie_uid = pw->pw_uid;
	e->ie_gid = pw->pw_gid;
	if (g != NULL) {
		if (*g == '\0' || (gr = getgrnam(g)) == NULL) {
			conf_error(e->ie_line, "no such group \"%s\"", g);
			free(u);
			return -1;
		}
		e->ie_group = xstrdup(g);
		e->ie_gid = gr->gr_gid;
	}
	free(u);
#ifndef HAVE_LOGIN_CAP_H
	if (e->ie_class != NULL)
		conf_warning(e->ie_line, "login class \"%s\" ignored: this "
		    "system has no login classes", e->ie_class);
#endif
	return 0;
}

/* The protocol field; sets *dual for a socket on both IP families. */
static int
parse_proto(struct inetd_entry *e, const char *s, int *dual, int *rpc)
{
	static const struct {
		const char	*name;
		int		 type, family, dual;
	} protos[] = {
		{ "tcp", SOCK_STREAM, AF_INET, PLAIN_DUAL },
		{ "tcp4", SOCK_STREAM, AF_INET, 0 },
		{ "tcp6", SOCK_STREAM, AF_INET6, 0 },
		{ "tcp46", SOCK_STREAM, AF_INET6, 1 },
		{ "udp", SOCK_DGRAM, AF_INET, PLAIN_DUAL },
		{ "udp4", SOCK_DGRAM, AF_INET, 0 },
		{ "udp6", SOCK_DGRAM, AF_INET6, 0 },
		{ "udp46", SOCK_DGRAM, AF_INET6, 1 },
	};
	size_t	i;

	*dual = *rpc = 0;
	e->ie_proto = xstrdup(s);
	if (strncmp(s, "rpc/", 4) == 0) {
		*rpc = 1;
		return 0;
	}
	if (strcmp(s, "unix") == 0) {
		e->ie_family = AF_UNIX;
		return 0;
	}
	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (strcmp(s, protos[i].name) != 0)
			continue;
		if (e->ie_socktype != 0 && e->ie_socktype != protos[i].type) {
			conf_error(e->ie_line, "socket type %s does not go "
			    "with protocol %s", e->ie_socktype == SOCK_STREAM ?
			    "stream" : "dgram", s);
			return -1;
		}
		e->ie_family = protos[i].dual ? AF_UNSPEC : protos[i].family;
		*dual = protos[i].dual;
		return 0;
	}
	conf_error(e->ie_line, "unknown protocol \"%s\"", s);
	return -1;
}

/* stream, dgram; *unsup names a socket type inetd knows and soad not. */
static int
parse_socktype(struct inetd_entry *e, const char *s, const char **unsup)
{
	*unsup = NULL;
	if (strcmp(s, "stream") == 0)
		e->ie_socktype = SOCK_STREAM;
	else if (strcmp(s, "dgram") == 0)
		e->ie_socktype = SOCK_DGRAM;
	else if (strcmp(s, "raw") == 0 || strcmp(s, "rdm") == 0 ||
	    strcmp(s, "seqpacket") == 0)
		*unsup = s;
	else {
		conf_error(e->ie_line, "unknown socket type \"%s\"", s);
		return -1;
	}
	return 0;
}

static const char *
base_name(const char *s)
{
	const char	*p = strrchr(s, '/');

	return p != NULL && p[1] != '\0' ? p + 1 : s;
}

/* tcpd's real server: absolute, or in REAL_DAEMON_DIR. */
static char *
tcpd_real(const char *name)
{
	char		*path;
	struct stat	 st;
	size_t		 i;

	if (*name == '/')
		return xstrdup(name);
	for (i = 0; i < sizeof(daemon_dirs) / sizeof(daemon_dirs[0]); i++) {
		if (asprintf(&path, "%s/%s", daemon_dirs[i], name) == -1)
			fatal("asprintf");
		if (stat(path, &st) == 0)
			return path;
		free(path);
	}
	if (asprintf(&path, "%s/%s", daemon_dirs[0], name) == -1)
		fatal("asprintf");
	return path;
}

/*
 * Server and argv from TOK[0..N): the server field, then argv[0] and
 * the arguments.  With tcpd as the server, argv[0] names the real one.
 */
static int
parse_server(struct inetd_entry *e, char **tok, size_t n)
{
	size_t	i;

	if (strcmp(tok[0], "internal") == 0)
		return 0;
	if (*tok[0] != '/') {
		conf_error(e->ie_line, "server \"%s\" must be an absolute path "
		    "or internal", tok[0]);
		return -1;
	}
	if (n - 1 > INETD_MAXARGV) {
		conf_error(e->ie_line, "too many arguments: at most %d, "
		    "argv[0] included", INETD_MAXARGV);
		return -1;
	}
	if (strcmp(base_name(tok[0]), "tcpd") == 0) {
		if (n < 2) {
			conf_error(e->ie_line, "%s needs the real server as "
			    "its first argument", tok[0]);
			return -1;
		}
		e->ie_tcpwrap = 1;
		e->ie_server = tcpd_real(tok[1]);
		/* Kept to run tcpd itself where soad cannot check. */
		e->ie_tcpd = xstrdup(tok[0]);
		e->ie_tcpdarg0 = xstrdup(tok[1]);
	} else
		e->ie_server = xstrdup(tok[0]);
	if ((e->ie_argv = calloc(n + 1, sizeof(char *))) == NULL)
		fatal("calloc");
	/* No argv: the server's name (OpenBSD); tcpd strips argv[0]. */
	if (n == 1 || e->ie_tcpwrap)
		e->ie_argv[0] = xstrdup(base_name(n == 1 ? tok[0] : tok[1]));
	else
		e->ie_argv[0] = xstrdup(tok[1]);
	for (i = 2; i < n; i++)
		e->ie_argv[i - 1] = xstrdup(tok[i]);
	e->ie_wrapname = xstrdup(base_name(e->ie_argv[0]));
	return 0;
}

/* An internal service by its name or an /etc/services alias of it. */
static enum inetd_internal
find_internal(const char *service, const char *proto)
{
	struct servent	*se;
	size_t		 k;

	for (k = 1; k < NINTERNALS; k++)
		if (strcmp(service, conf_internal_names[k]) == 0)
			return (enum inetd_internal)k;
	if ((se = getservbyname(service, proto)) == NULL)
		return INETD_EXTERNAL;
	for (k = 1; k < NINTERNALS; k++)
		if (strcmp(se->s_name, conf_internal_names[k]) == 0)
			return (enum inetd_internal)k;
	return INETD_EXTERNAL;
}

/* The port of SERVICE, a number or an /etc/services name: 0 if unknown. */
static int
find_port(struct inetd_entry *e, const char *service, const char *proto)
{
	struct servent	*se;
	int		 v;

	if (isdigit((unsigned char)*service)) {
		if ((v = parse_count(service, strlen(service))) < 1 ||
		    v > 65535) {
			conf_error(e->ie_line, "port \"%s\" is not a number "
			    "from 1 to 65535", service);
			return -1;
		}
		return v;
	}
	if ((se = getservbyname(service, proto)) == NULL) {
		conf_warning(e->ie_line, "unknown service %s/%s (not in "
		    "/etc/services); line not served", service, proto);
		return 0;
	}
	return ntohs((in_port_t)se->s_port);
}

/* The listen address of E on HOST ("*": every address) for FAMILY. */
static void
add_listen(struct inetd_entry *e, const char *host, int family)
{
	char	buf[INET6_ADDRSTRLEN + 16];
	int	saved = e->ie_family;

	e->ie_family = family;

	if (strcmp(host, "*") == 0) {
		if (family == AF_UNSPEC)
			snprintf(buf, sizeof(buf), "%d", e->ie_port);
		else if (family == AF_INET)
			snprintf(buf, sizeof(buf), "0.0.0.0:%d", e->ie_port);
		else
			snprintf(buf, sizeof(buf), "[::]:%d", e->ie_port);
		entry_add(e, NULL, buf);
	} else {
		if (family == AF_INET6)
			snprintf(buf, sizeof(buf), "[%s]:%d", host,
			    e->ie_port);
		else
			snprintf(buf, sizeof(buf), "%s:%d", host, e->ie_port);
		entry_add(e, host, buf);
	}
	e->ie_family = saved;
}

/* One host of a list: "*", a numeric address, or a name looked up. */
static void
add_host(struct inetd_entry *e, const char *host, int dual)
{
	struct addrinfo	 hints, *res0, *res;
	struct in6_addr	 a6;
	struct in_addr	 a4;
	char		 h[INET6_ADDRSTRLEN + 2], num[INET6_ADDRSTRLEN];
	size_t		 len = strlen(host);
	int		 want = dual ? AF_UNSPEC : e->ie_family, fam, err;

	if (strcmp(host, "*") == 0) {
		add_listen(e, host, want);
		return;
	}
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']' &&
	    len - 2 < sizeof(h)) {
		memcpy(h, host + 1, len - 2);
		h[len - 2] = '\0';
	} else
		snprintf(h, sizeof(h), "%s", host);
	fam = inet_pton(AF_INET, h, &a4) == 1 ? AF_INET :
	    inet_pton(AF_INET6, h, &a6) == 1 ? AF_INET6 : 0;
	if (fam != 0) {
		if (want != AF_UNSPEC && want != fam) {
			conf_error(e->ie_line, "address %s is not %s "
			    "(protocol %s)", h, want == AF_INET ? "IPv4" :
			    "IPv6", e->ie_proto);
			return;
		}
		add_listen(e, h, fam);
		return;
	}
	if (I.flags & INETD_NORESOLVE) {
		conf_warning(e->ie_line, "host name \"%s\" not looked up; "
		    "not served", host);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = want;
	hints.ai_socktype = e->ie_socktype;
	if ((err = getaddrinfo(host, NULL, &hints, &res0)) != 0) {
		conf_warning(e->ie_line, "host %s: %s; not served", host,
		    gai_strerror(err));
		return;
	}
	for (res = res0; res != NULL; res = res->ai_next) {
		if (getnameinfo(res->ai_addr, res->ai_addrlen, num,
		    sizeof(num), NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		add_listen(e, num, res->ai_family);
	}
	freeaddrinfo(res0);
}

/* Every host of L's list, or the default list: one entry each. */
static void
add_hosts(struct line *l)
{
	const char	*hosts;
	char		*list, *p, *host;
	int		 nhosts = 0;

	if (l->e.ie_family == AF_UNIX) {
		entry_add(&l->e, NULL, l->e.ie_service);
		return;
	}
	hosts = l->host != NULL ? l->host : I.defhost != NULL ? I.defhost : "*";
	list = xstrdup(hosts);
	for (p = list; (host = strsep(&p, ",")) != NULL; ) {
		if (*host == '\0')
			continue;
		add_host(&l->e, host, l->proto_dual);
		nhosts++;
	}
	if (nhosts == 0)
		conf_warning(l->e.ie_line, "no address in host list \"%s\"; "
		    "not served", hosts);
	free(list);
}

/*
 * FreeBSD's ":user:group:mode:" before a UNIX socket's path: the owner
 * and mode of the socket.  Returns the rest of FIELD, or NULL.
 */
static char *
parse_sockowner(struct inetd_entry *e, char *field)
{
	char	*u = field + 1, *g, *m, *end;

	if ((g = strchr(u, ':')) == NULL || (m = strchr(g + 1, ':')) == NULL ||
	    (end = strchr(m + 1, ':')) == NULL)
		return field;
	*g++ = *m++ = *end++ = '\0';
	if (getpwnam(u) == NULL) {
		conf_error(e->ie_line, "no such user \"%s\"", u);
		return NULL;
	}
	if (getgrnam(g) == NULL) {
		conf_error(e->ie_line, "no such group \"%s\"", g);
		return NULL;
	}
	if (*m == '\0' || strspn(m, "01234567") != strlen(m) ||
	    strlen(m) > 4) {
		conf_error(e->ie_line, "bad socket mode \"%s\"", m);
		return NULL;
	}
	e->ie_sockuser = xstrdup(u);
	e->ie_sockgroup = xstrdup(g);
	e->ie_sockmode = xstrdup(m);
	return end;
}

/*
 * The service field: "[host:]service", "host:" alone (the default host
 * for the lines below; returns 1), FreeBSD's socket owner prefix.
 */
static int
parse_first(struct line *l, char ***tokp, size_t *np)
{
	char	**tok = *tokp, *f = tok[0], *colon;

	if (*f == ':' && (f = parse_sockowner(&l->e, f)) == NULL)
		return -1;
	if ((colon = strrchr(f, ':')) != NULL) {
		*colon = '\0';
		l->host = colon == f ? "*" : f;
		f = colon + 1;
		if (*f == '\0') {
			if (*np == 1) {
				free(I.defhost);
				I.defhost = xstrdup(l->host);
				return 1;
			}
			/* "host: service ..." (OpenBSD reads it so) */
			f = tok[1];
			(*tokp)++;
			(*np)--;
		}
	}
	l->e.ie_service = xstrdup(f);
	return 0;
}

/* One entry's fields, TOK[0..N), from LINE on. */
static void
parse_entry(char **tok, size_t n, int line)
{
	struct line	 l;
	const char	*unsup, *proto;
	char		*path;
	int		 rpc;

	memset(&l, 0, sizeof(l));
	l.e.ie_line = line;
	if (parse_first(&l, &tok, &n) != 0)
		goto done;
	if (n < 6) {
		conf_error(line, "missing the %s field", fields[n]);
		goto done;
	}
	if (parse_socktype(&l.e, tok[1], &unsup) == -1 ||
	    parse_proto(&l.e, tok[2], &l.proto_dual, &rpc) == -1 ||
	    parse_wait(&l.e, tok[3]) == -1 || parse_user(&l.e, tok[4]) == -1 ||
	    parse_server(&l.e, tok + 5, n - 5) == -1)
		goto done;

	/* Well-formed; what soad does not serve is only warned about. */
	if (rpc) {
		conf_warning(line, "%s services are not supported; line not "
		    "served", tok[2]);
		goto done;
	}
	if (unsup != NULL) {
		conf_warning(line, "socket type %s is not supported; line not "
		    "served", unsup);
		goto done;
	}
	if (strncmp(l.e.ie_service, "tcpmux/", 7) == 0) {
		conf_warning(line, "tcpmux services are not supported; line "
		    "not served");
		goto done;
	}
	proto = l.e.ie_socktype == SOCK_STREAM ? "tcp" : "udp";
	if (strcmp(tok[5], "internal") == 0) {
		/* A UNIX socket's internal service: its basename (FreeBSD) */
		l.e.ie_internal = find_internal(l.e.ie_family == AF_UNIX ?
		    base_name(l.e.ie_service) : l.e.ie_service, proto);
		if (l.e.ie_internal == INETD_EXTERNAL) {
			conf_warning(line, "internal service %s is not "
			    "supported; line not served", l.e.ie_service);
			goto done;
		}
		l.e.ie_wrapname = xstrdup(conf_internal_names[l.e.ie_internal]);
		if ((l.e.ie_argv = calloc(1, sizeof(char *))) == NULL)
			fatal("calloc");
	}
	if (l.e.ie_family == AF_UNIX) {
		/* Relative to inetd's working directory, which is /. */
		if (*l.e.ie_service != '/') {
			if (asprintf(&path, "/%s", l.e.ie_service) == -1)
				fatal("asprintf");
			free(l.e.ie_service);
			l.e.ie_service = path;
		}
	} else if ((l.e.ie_port = find_port(&l.e, l.e.ie_service, proto)) <= 0)
		goto done;
	add_hosts(&l);
done:
	entry_clear(&l.e);
}

/*
 * A plain "tcp" or "udp" entry on every address of both families next
 * to an IPv6 entry on its port: the file was written for a BSD, where
 * plain means IPv4; so it is here.
 */
static void
split_dual(void)
{
	static uint8_t	 v6[2][65536 / 8];
	struct inetd_entry *e;
	char		 buf[32], err[256];
	size_t		 i;
	int		 t;

	memset(v6, 0, sizeof(v6));
	for (i = 0; i < I.n; i++) {
		e = &I.v[i];
		t = e->ie_socktype == SOCK_DGRAM;
		if (e->ie_family == AF_INET6)
			v6[t][e->ie_port / 8] |= 1 << (e->ie_port % 8);
	}
	for (i = 0; i < I.n; i++) {
		e = &I.v[i];
		t = e->ie_socktype == SOCK_DGRAM;
		if (e->ie_family != AF_UNSPEC || strchr(e->ie_proto, '4') ||
		    !(v6[t][e->ie_port / 8] & (1 << (e->ie_port % 8))))
			continue;
		snprintf(buf, sizeof(buf), "0.0.0.0:%d", e->ie_port);
		free(e->ie_listen);
		e->ie_listen = xstrdup(buf);
		addr_parse(buf, &e->ie_addr, err, sizeof(err));
		e->ie_family = AF_INET;
	}
}

static void
tok_add(char *t)
{
	char	**v;

	if (I.ntok == I.toksize) {
		I.toksize = I.toksize == 0 ? 16 : I.toksize * 2;
		if ((v = reallocarray(I.tok, I.toksize, sizeof(*v))) == NULL)
			fatal("reallocarray");
		I.tok = v;
	}
	I.tok[I.ntok++] = t;
}

/* Split S (one line, NUL-terminated) into fields at blanks. */
static void
tokenize(char *s, int line)
{
	char	q;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s == '\0')
			return;
		if (*s == '"' || *s == '\'') {
			q = *s++;
			tok_add(s);
			if ((s = strchr(s, q)) == NULL) {
				conf_error(line, "unterminated %c quote", q);
				I.ntok--;
				return;
			}
		} else {
			tok_add(s);
			s += strcspn(s, " \t\r");
		}
		if (*s == '\0')
			return;
		*s++ = '\0';
	}
}

static void
flush_entry(void)
{
	if (I.line != 0 && I.ntok > 0)
		parse_entry(I.tok, I.ntok, I.line);
	I.line = 0;
	I.ntok = 0;
}

/*
 * Parse TEXT (LEN bytes, NUL bytes included) read from FILE.  Messages
 * go to conf.c's error list; the caller brackets them with
 * conf_errors_begin()/conf_errors_end().  Returns the number of errors;
 * the entries are in *VP (even with errors), to free with inetd_free().
 */
int
inetd_parse(const char *file, const char *text, size_t len, int flags,
    struct inetd_entry **vp, size_t *np)
{
	char	*buf, *s, *end, *nl, *p;
	int	 line = 0;

	(void)file;
	memset(&I, 0, sizeof(I));
	I.flags = flags;
	if ((buf = malloc(len + 1)) == NULL)
		fatal("malloc");
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (s = buf, end = buf + len; s < end; s = nl + 1) {
		line++;
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		*nl = '\0';
		if (strlen(s) != (size_t)(nl - s))
			conf_error(line, "NUL byte in the line");
		p = s + strspn(s, " \t\r");
		if (*p == '#') {
			flush_entry();
			if (p[1] == '@' && p[2 + strspn(p + 2, " \t\r")] != '\0')
				conf_warning(line, "IPsec policy lines are not "
				    "supported; the services below run "
				    "without it");
			continue;
		}
		if (*p == '\0' && p == s) {
			flush_entry();
			continue;
		}
		if (p == s || I.line == 0) {
			if (p == s)
				flush_entry();
			if (*p == '\0')
				continue;
			if (I.line == 0)
				I.line = line;
		}
		tokenize(p, line);
	}
	flush_entry();
	split_dual();
	free(buf);
	free(I.tok);
	free(I.defhost);
	*vp = I.v;
	*np = I.n;
	return conf_errors();
}

/*
 * FILE as an inetd.conf: every message to conf.c's sink, then the
 * number of errors (0: *VP holds *NP entries, to free with inetd_free()).
 */
int
inetd_load(const char *file, int flags, struct inetd_entry **vp, size_t *np)
{
	char	*text, err[256];
	size_t	 len;
	int	 nerr;

	*vp = NULL;
	*np = 0;
	conf_errors_begin();
	if (conftext_read(file, &text, &len, err, sizeof(err)) == -1) {
		conf_error(0, "%s", err);
		return conf_errors_end(file);
	}
	inetd_parse(file, text, len, flags, vp, np);
	free(text);
	if ((nerr = conf_errors_end(file)) > 0) {
		inetd_free(*vp, *np);
		*vp = NULL;
		*np = 0;
	}
	return nerr;
}
