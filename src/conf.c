/*
 * The configuration structure, whatever syntax it was read from: the
 * error sink, the checks that need no parser (overlapping addresses,
 * executables, socket paths), signal and limit names, and freeing.
 * conf_soad.c reads soad.conf into it; conf_inetd.c adds the services of
 * an inetd.conf (-i) to the same struct conf.
 *
 * Errors are collected between conf_errors_begin() and conf_errors_end(),
 * then passed to the sink sorted by line (stably, so one line's messages
 * keep their order).  The default sink prints "FILE:LINE: message" on
 * stderr; a reload can route them to the log instead.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "soad.h"

static const struct {
	const char	*name;
	int		 sig;
} signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
	{ "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
	{ "IO", SIGIO }, { "SYS", SIGSYS },
};

/* One error, passed to the sink once the whole file has been checked. */
struct conf_msg {
	int	 cm_line;
	size_t	 cm_seq;
	char	*cm_text;
};

static struct {
	int		 errors;
	int		 nmsgs;		/* errors and warnings */
	struct conf_msg	*msgs;
} E;

static void	conf_sink_stderr(const char *, int, const char *);

static conf_sink_fn	sink = conf_sink_stderr;

/*
 * The default sink: "FILE:LINE: message" on stderr, or "FILE: message"
 * for a problem with the file as a whole.
 */
static void
conf_sink_stderr(const char *file, int line, const char *msg)
{
	if (line > 0)
		fprintf(stderr, "%s:%d: %s\n", file, line, msg);
	else
		fprintf(stderr, "%s: %s\n", file, msg);
}

/* The internal services by enum inetd_internal, NULL-ended after them. */
const char *const conf_internal_names[] = {
	NULL, "echo", "discard", "chargen", "daytime", "time", NULL
};

/* strdup(3) that never fails; NULL stays NULL. */
char *
xstrdup(const char *s)
{
	char	*p;

	if (s == NULL)
		return NULL;
	if ((p = strdup(s)) == NULL)
		fatal("strdup");
	return p;
}

/* A daemon name as hosts_access(5) lists them: no blanks, ':' or ','. */
int
conf_valid_wrapname(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!isgraph((unsigned char)*s) || *s == ':' || *s == ',')
			return 0;
	return 1;
}

/* Where conf_load() sends its messages; NULL restores stderr. */
void
conf_set_sink(conf_sink_fn fn)
{
	sink = fn != NULL ? fn : conf_sink_stderr;
}

/* Takes TEXT, an allocated string. */
static void
msg_add(int line, char *text)
{
	struct conf_msg	*m;

	m = reallocarray(E.msgs, (size_t)E.nmsgs + 1, sizeof(*E.msgs));
	if (m == NULL)
		fatal("reallocarray");
	E.msgs = m;
	m = &E.msgs[E.nmsgs];
	m->cm_line = line;
	m->cm_seq = (size_t)E.nmsgs++;
	m->cm_text = text;
}

static int
msg_cmp(const void *a, const void *b)
{
	const struct conf_msg	*x = a, *y = b;

	if (x->cm_line != y->cm_line)
		return x->cm_line < y->cm_line ? -1 : 1;
	return x->cm_seq < y->cm_seq ? -1 : x->cm_seq > y->cm_seq;
}

void
conf_errors_begin(void)
{
	memset(&E, 0, sizeof(E));
}

/* A problem at LINE (0: the file as a whole). */
void
conf_error(int line, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	msg_add(line, text);
	E.errors++;
}

/*
 * Something the file asks for that soad does not do: reported in line
 * order with the errors, as "warning: message", but not counted.
 */
void
conf_warning(int line, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg, *text;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	if (asprintf(&text, "warning: %s", msg) == -1)
		fatal("asprintf");
	free(msg);
	msg_add(line, text);
}

int
conf_errors(void)
{
	return E.errors;
}

/* Every message to the sink, in line order; returns how many errors. */
int
conf_errors_end(const char *file)
{
	int	i, n = E.nmsgs, nerr = E.errors;

	if (n > 0)
		qsort(E.msgs, (size_t)n, sizeof(*E.msgs), msg_cmp);
	for (i = 0; i < n; i++) {
		sink(file, E.msgs[i].cm_line, E.msgs[i].cm_text);
		free(E.msgs[i].cm_text);
	}
	free(E.msgs);
	memset(&E, 0, sizeof(E));
	return nerr;
}

int
conf_signal_parse(const char *s)
{
	char	*end;
	long	 v;
	size_t	 i;

	if (isdigit((unsigned char)*s)) {
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno != 0 || *end != '\0' || v < 1 || v >= NSIG)
			return -1;
		return (int)v;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].sig;
	return -1;
}

/*
 * Signals whose default soad's processes keep: KILL and STOP cannot be
 * caught, and a synchronous fault must end the process, not loop.
 */
int
conf_signal_keeps_default(int sig)
{
	switch (sig) {
	case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGILL:
	case SIGFPE: case SIGTRAP: case SIGSYS: case SIGABRT:
		return 1;
	}
	return 0;
}

const char *
conf_signal_name(int sig, char *buf, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].sig == sig) {
			snprintf(buf, len, "SIG%s", signals[i].name);
			return buf;
		}
	snprintf(buf, len, "signal %d", sig);
	return buf;
}

int
conf_limit_resource(enum limit_kind k)
{
	static const int res[LIM_COUNT] = {
		RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_CORE, RLIMIT_AS
	};

	return res[k];
}

/* Octal digits only: strtol would also take a sign or blanks. */
int
conf_parse_octal(const char *s, mode_t *m)
{
	long	v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '7')
			return -1;
		v = v * 8 + (*s - '0');
		if (v > 0777)
			return -1;
	}
	*m = (mode_t)v;
	return 0;
}

int
conf_parse_limit(const char *s, rlim_t *v)
{
	char			*end;
	unsigned long long	 n;

	if (strcmp(s, "unlimited") == 0 || strcmp(s, "infinity") == 0) {
		*v = RLIM_INFINITY;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*v = (rlim_t)n;
	return 0;
}

/* The server can be executed (CONF_CHECK_FILES); LINE is its key's. */
void
conf_check_exec(const struct svc_conf *sc, int line)
{
	struct stat	st;

	if (stat(sc->sc_server, &st) == -1)
		conf_error(line, "service %s: server %s: %s", sc->sc_name,
		    sc->sc_server, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		conf_error(line, "service %s: server %s is not a regular file",
		    sc->sc_name, sc->sc_server);
	else if ((st.st_mode & 0111) == 0 || access(sc->sc_server, X_OK) == -1)
		conf_error(line, "service %s: server %s is not executable",
		    sc->sc_name, sc->sc_server);
}

/*
 * A UNIX socket that can never be bound: its directory is missing or
 * unsafe (sockpath_check()), or something other than a socket sits at
 * its path, which soad never replaces.
 */
void
conf_check_socket(const struct svc_conf *sc, const struct listen_conf *lc)
{
	const char	*path = addr_path(&lc->lc_addr);
	char		 err[PATH_MAX + 128];
	struct stat	 st;

	if (sockpath_check(path, sc->sc_sock_uid, err, sizeof(err)) == -1)
		conf_error(lc->lc_line, "service %s: socket %s: %s", sc->sc_name,
		    path, err);
	else if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		conf_error(lc->lc_line, "service %s: socket %s: the path exists "
		    "and is not a socket", sc->sc_name, path);
}

static void
svc_conf_free(struct svc_conf *sc)
{
	size_t	i;

	if (sc == NULL)
		return;
	for (i = 0; i < sc->sc_nlisten; i++)
		if (sc->sc_listen[i].lc_fdname != sc->sc_name)
			free(sc->sc_listen[i].lc_fdname);
	free(sc->sc_listen);
	free(sc->sc_name);
	if (sc->sc_accept != NULL)
		free(sc->sc_accept->ac_ignore);
	free(sc->sc_accept);
	free(sc->sc_limits);
	/* Server, argv, environment, user and directory are interned. */
	if (!sc->sc_sharedargv && sc->sc_argv != conf_nostrings)
		free(sc->sc_argv);
	if (sc->sc_env != conf_nostrings)
		free(sc->sc_env);
	free(sc);
}

/*
 * One copy of each string that many services share (server, argv,
 * environment, user, directory, mostly inherited from the global
 * section), owned by the config: at 10,000 services this is the
 * difference between a copy per service and one.
 */
static size_t
intern_hash(const char *s)
{
	size_t	h = 5381;

	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/*
 * The argv { SERVER, NULL } (SERVER interned) that every service of that
 * server without an args list shares; the last one made is reused, as
 * such services tend to come together.
 */
char **
conf_argv_of(struct conf *cf, char *server)
{
	char	***n, **v;

	if (cf->cf_nargvs > 0 && cf->cf_argvs[cf->cf_nargvs - 1][0] == server)
		return cf->cf_argvs[cf->cf_nargvs - 1];
	if ((v = calloc(2, sizeof(*v))) == NULL ||
	    (n = reallocarray(cf->cf_argvs, cf->cf_nargvs + 1,
	    sizeof(*n))) == NULL)
		fatal("calloc");
	v[0] = server;
	cf->cf_argvs = n;
	cf->cf_argvs[cf->cf_nargvs++] = v;
	return v;
}

/* The empty list every service without one shares. */
char	*conf_nostrings[1];

char *
conf_intern(struct conf *cf, const char *s)
{
	char	**slots, *p;
	size_t	  i, j, n;

	if (s == NULL)
		return NULL;
	if (cf->cf_npool * 2 >= cf->cf_poolsize) {
		n = cf->cf_poolsize == 0 ? 64 : cf->cf_poolsize * 2;
		if ((slots = calloc(n, sizeof(*slots))) == NULL)
			fatal("calloc");
		for (i = 0; i < cf->cf_poolsize; i++) {
			if ((p = cf->cf_pool[i]) == NULL)
				continue;
			j = intern_hash(p) & (n - 1);
			while (slots[j] != NULL)
				j = (j + 1) & (n - 1);
			slots[j] = p;
		}
		free(cf->cf_pool);
		cf->cf_pool = slots;
		cf->cf_poolsize = n;
	}
	for (i = intern_hash(s) & (cf->cf_poolsize - 1); cf->cf_pool[i] != NULL;
	    i = (i + 1) & (cf->cf_poolsize - 1))
		if (strcmp(cf->cf_pool[i], s) == 0)
			return cf->cf_pool[i];
	if ((p = strdup(s)) == NULL)
		fatal("strdup");
	cf->cf_npool++;
	return cf->cf_pool[i] = p;
}

void
conf_free(struct conf *cf)
{
	size_t	i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->cf_nsvcs; i++)
		svc_conf_free(cf->cf_svcs[i]);
	free(cf->cf_svcs);
	free(cf->cf_file);
	free(cf->cf_hosts_allow);
	free(cf->cf_hosts_deny);
	for (i = 0; i < cf->cf_poolsize; i++)
		free(cf->cf_pool[i]);
	free(cf->cf_pool);
	for (i = 0; i < cf->cf_nargvs; i++)
		free(cf->cf_argvs[i]);
	free(cf->cf_argvs);
	free(cf);
}

/* Sockets the master holds for SC: a proxy's private listeners too. */
size_t
conf_nlisteners(const struct svc_conf *sc)
{
	const struct accept_conf	*ac = sc->sc_accept;

	if (sc->sc_mode == MODE_PROXY && ac->ac_backend.ad_family == 0)
		return 2 * sc->sc_nlisten;
	return sc->sc_nlisten;
}

static void
report_conflict(const struct svc_conf *a, const struct listen_conf *la,
    const struct svc_conf *b, const struct listen_conf *lb)
{
	char	abuf[128], bbuf[128];

	addr_fmt(&la->lc_addr, abuf, sizeof(abuf));
	addr_fmt(&lb->lc_addr, bbuf, sizeof(bbuf));
	if (strcmp(abuf, bbuf) != 0)
		conf_error(lb->lc_line, "service %s: address %s overlaps %s of "
		    "service %s", b->sc_name, bbuf, abuf, a->sc_name);
	else if (a == b)
		conf_error(lb->lc_line, "service %s: address %s is listed "
		    "twice", b->sc_name, bbuf);
	else
		conf_error(lb->lc_line, "service %s: address %s is already "
		    "used by service %s", b->sc_name, bbuf, a->sc_name);
}

/*
 * Overlapping addresses, found without comparing every pair: listeners
 * are grouped by UNIX path or by TCP or UDP port, and within a port only
 * two kinds of pair can collide, one with a wildcard member or two of the
 * same address; addr_conflict() has the last word on each candidate.  The
 * pairs are then reported in the order the all-pairs loop would take.
 */
struct lref {
	size_t				 lr_idx;	/* config order */
	const struct svc_conf		*lr_sc;
	const struct listen_conf	*lr_lc;
};

struct lpair {
	size_t		 lp_a, lp_b;	/* lp_a < lp_b, into the lref array */
};

static struct {
	struct lpair	*v;
	size_t		 n, size;
} pairs;

static int
lref_wild(const struct lref *r)
{
	const struct addr		*a = &r->lr_lc->lc_addr;
	const struct sockaddr_in	*sin = (const void *)&a->ad_ss;
	const struct sockaddr_in6	*sin6 = (const void *)&a->ad_ss;

	if (a->ad_family == AF_UNIX)
		return 0;
	if (a->ad_any)
		return 1;
	if (a->ad_family == AF_INET)
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/*
 * By UNIX path (one namespace: the file system), or by protocol and
 * port (TCP and UDP ports are apart: a stream and a dgram service may
 * both have port 7), then by config order.
 */
static int
lref_cmp_group(const void *x, const void *y)
{
	const struct lref	*a = x, *b = y;
	int			 ua, ub, r;

	ua = a->lr_lc->lc_addr.ad_family == AF_UNIX;
	ub = b->lr_lc->lc_addr.ad_family == AF_UNIX;
	if (ua != ub)
		return ua ? -1 : 1;
	if (ua) {
		if ((r = strcmp(addr_path(&a->lr_lc->lc_addr),
		    addr_path(&b->lr_lc->lc_addr))) != 0)
			return r;
	} else if (a->lr_sc->sc_socktype != b->lr_sc->sc_socktype)
		return a->lr_sc->sc_socktype < b->lr_sc->sc_socktype ? -1 : 1;
	else if ((r = addr_port(&a->lr_lc->lc_addr) -
	    addr_port(&b->lr_lc->lc_addr)) != 0)
		return r;
	return a->lr_idx < b->lr_idx ? -1 : a->lr_idx > b->lr_idx;
}

static const void *
lref_host(const struct lref *r, size_t *len)
{
	const struct addr	*a = &r->lr_lc->lc_addr;

	if (a->ad_family == AF_INET) {
		*len = sizeof(struct in_addr);
		return &((const struct sockaddr_in *)&a->ad_ss)->sin_addr;
	}
	*len = sizeof(struct in6_addr);
	return &((const struct sockaddr_in6 *)&a->ad_ss)->sin6_addr;
}

static int
lref_same_group(const struct lref *a, const struct lref *b)
{
	int	ua, ub;

	ua = a->lr_lc->lc_addr.ad_family == AF_UNIX;
	ub = b->lr_lc->lc_addr.ad_family == AF_UNIX;
	if (ua != ub)
		return 0;
	if (ua)
		return strcmp(addr_path(&a->lr_lc->lc_addr),
		    addr_path(&b->lr_lc->lc_addr)) == 0;
	return a->lr_sc->sc_socktype == b->lr_sc->sc_socktype &&
	    addr_port(&a->lr_lc->lc_addr) == addr_port(&b->lr_lc->lc_addr);
}

/* Within one port: by family and address, then by config order. */
static int
lref_cmp_host(const void *x, const void *y)
{
	const struct lref	*a = x, *b = y;
	const void		*ha, *hb;
	size_t			 la, lb;
	int			 r;

	if (a->lr_lc->lc_addr.ad_family != b->lr_lc->lc_addr.ad_family)
		return a->lr_lc->lc_addr.ad_family <
		    b->lr_lc->lc_addr.ad_family ? -1 : 1;
	ha = lref_host(a, &la);
	hb = lref_host(b, &lb);
	if ((r = memcmp(ha, hb, la)) != 0)
		return r;
	return a->lr_idx < b->lr_idx ? -1 : a->lr_idx > b->lr_idx;
}

static void
pair_add(const struct lref *a, const struct lref *b)
{
	struct lpair	*p;
	size_t		 size;

	if (!addr_conflict(&a->lr_lc->lc_addr, &b->lr_lc->lc_addr))
		return;
	if (pairs.n == pairs.size) {
		size = pairs.size == 0 ? 16 : pairs.size * 2;
		if ((p = reallocarray(pairs.v, size, sizeof(*p))) == NULL)
			fatal("reallocarray");
		pairs.v = p;
		pairs.size = size;
	}
	p = &pairs.v[pairs.n++];
	p->lp_a = a->lr_idx < b->lr_idx ? a->lr_idx : b->lr_idx;
	p->lp_b = a->lr_idx < b->lr_idx ? b->lr_idx : a->lr_idx;
}

static int
pair_cmp(const void *x, const void *y)
{
	const struct lpair	*a = x, *b = y;

	if (a->lp_a != b->lp_a)
		return a->lp_a < b->lp_a ? -1 : 1;
	return a->lp_b < b->lp_b ? -1 : a->lp_b > b->lp_b;
}

/* Every pair in G[0..N), all of them colliding candidates. */
static void
pairs_all(const struct lref *g, size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			pair_add(&g[i], &g[j]);
}

static int
same_host(const struct lref *a, const struct lref *b)
{
	const void	*ha, *hb;
	size_t		 la, lb;

	if (a->lr_lc->lc_addr.ad_family != b->lr_lc->lc_addr.ad_family)
		return 0;
	ha = lref_host(a, &la);
	hb = lref_host(b, &lb);
	return memcmp(ha, hb, la) == 0;
}

/* One TCP or UDP port's listeners G[0..N), sorted by config order. */
static void
pairs_port(const struct lref *g, size_t n)
{
	struct lref	*h;
	size_t		 i, j, nh = 0;

	if (n < 2)
		return;
	if ((h = calloc(n, sizeof(*h))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		if (!lref_wild(&g[i])) {
			h[nh++] = g[i];
			continue;
		}
		/* A wildcard against everything else on the port, a pair
		 * of wildcards once. */
		for (j = 0; j < n; j++)
			if (j != i && (!lref_wild(&g[j]) || j > i))
				pair_add(&g[i], &g[j]);
	}
	/* Two specific addresses collide only if they are the same. */
	qsort(h, nh, sizeof(*h), lref_cmp_host);
	for (i = 0; i < nh; i = j) {
		for (j = i + 1; j < nh && same_host(&h[i], &h[j]); j++)
			;
		pairs_all(&h[i], j - i);
	}
	free(h);
}

/* Every pair of listeners that the kernel would refuse to bind twice. */
void
conf_check_addresses(struct conf *cf)
{
	struct lref		*v, *g;
	const struct svc_conf	*sc;
	size_t			 i, j, k, n = 0;

	for (i = 0; i < cf->cf_nsvcs; i++)
		n += cf->cf_svcs[i]->sc_nlisten;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL ||
	    (g = calloc(n + 1, sizeof(*g))) == NULL)
		fatal("calloc");
	n = 0;
	for (i = 0; i < cf->cf_nsvcs; i++) {
		sc = cf->cf_svcs[i];
		for (k = 0; k < sc->sc_nlisten; k++) {
			/* A bad address keeps ad_family 0. */
			if (sc->sc_listen[k].lc_addr.ad_family == 0)
				continue;
			v[n].lr_idx = n;
			v[n].lr_sc = sc;
			v[n].lr_lc = &sc->sc_listen[k];
			n++;
		}
	}
	memcpy(g, v, n * sizeof(*g));
	qsort(g, n, sizeof(*g), lref_cmp_group);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && lref_same_group(&g[i], &g[j]); j++)
			;
		if (g[i].lr_lc->lc_addr.ad_family == AF_UNIX)
			pairs_all(&g[i], j - i);
		else
			pairs_port(&g[i], j - i);
	}
	if (pairs.n > 0)
		qsort(pairs.v, pairs.n, sizeof(*pairs.v), pair_cmp);
	for (i = 0; i < pairs.n; i++)
		report_conflict(v[pairs.v[i].lp_a].lr_sc,
		    v[pairs.v[i].lp_a].lr_lc, v[pairs.v[i].lp_b].lr_sc,
		    v[pairs.v[i].lp_b].lr_lc);
	free(pairs.v);
	memset(&pairs, 0, sizeof(pairs));
	free(g);
	free(v);
}

/*
 * File descriptors the master cannot do without for CF: every listener
 * (kept for the daemon's life), and a fixed allowance for stdio, the log,
 * the event loop, the watcher's pipes, sock_diag, a few running services'
 * output pipes and a spawn in progress.  Each running service holds one
 * more fd (its output pipe); a start that finds none left fails, logged,
 * and is retried with backoff, while everything already bound keeps
 * working.
 */
int
conf_nofile_needed(const struct conf *cf)
{
	size_t	i, n = 64;

	for (i = 0; i < cf->cf_nsvcs; i++)
		n += conf_nlisteners(cf->cf_svcs[i]);
	return n > INT_MAX ? INT_MAX : (int)n;
}
