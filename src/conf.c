/*
 * Configuration: the libconfuse schema, per-key validators and the
 * cross-service checks, turned into an immutable struct conf.
 *
 * Errors are collected, not stopped at the first: every validator prints
 * "FILE:LINE: message" for its own key and lets the parse go on, the
 * second pass reports every cross-service problem, and conf_load() then
 * returns NULL with the number of errors.  Keys that libconfuse only
 * reports at section level (a missing key) point at the section's closing
 * brace, the line libconfuse knows for the section.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/resource.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <confuse.h>

#include "soad.h"

#define MAX_TIMEOUT	(365L * 24 * 3600)

/* Keys a service inherits from the global section. */
#define COMMON_OPTS(nodef)						\
	CFG_INT("timeout", 300, (nodef)),				\
	CFG_STR("stop-signal", "TERM", (nodef)),			\
	CFG_INT("kill-timeout", 10, (nodef)),				\
	CFG_INT("backlog", 1024, (nodef)),				\
	CFG_STR("user", NULL, CFGF_NODEFAULT),				\
	CFG_STR("socket-user", NULL, CFGF_NODEFAULT),			\
	CFG_STR("socket-group", NULL, CFGF_NODEFAULT),			\
	CFG_STR("socket-mode", "0660", (nodef)),			\
	CFG_STR("umask", "022", (nodef)),				\
	CFG_STR("directory", "/", (nodef)),				\
	CFG_STR_LIST("environment", NULL, CFGF_NODEFAULT),		\
	CFG_BOOL("fd0", cfg_false, (nodef)),				\
	CFG_STR("limit-nofile", NULL, CFGF_NODEFAULT),			\
	CFG_STR("limit-nproc", NULL, CFGF_NODEFAULT),			\
	CFG_STR("limit-core", NULL, CFGF_NODEFAULT),			\
	CFG_STR("limit-as", NULL, CFGF_NODEFAULT)

static const char *limit_keys[LIM_COUNT] = {
	"limit-nofile", "limit-nproc", "limit-core", "limit-as"
};

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

/* Where each key of each service was seen, for cross-service messages. */
struct keyline {
	char	*kl_svc;
	char	*kl_key;
	int	 kl_line;
};

static struct {
	const char	*file;
	int		 errors;
	struct keyline	*lines;
	size_t		 nlines;
} P;

static void
conf_err(int line, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static void
conf_err(int line, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s:%d: ", P.file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	P.errors++;
}

static void
confuse_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s:%d: ", P.file, cfg != NULL ? cfg->line : 0);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	P.errors++;
}

static void
keyline_add(cfg_t *cfg, const char *key)
{
	const char	*title = cfg_title(cfg);
	struct keyline	*kl;

	if (title == NULL)
		return;
	kl = reallocarray(P.lines, P.nlines + 1, sizeof(*P.lines));
	if (kl == NULL)
		fatal("reallocarray");
	P.lines = kl;
	kl = &P.lines[P.nlines++];
	if ((kl->kl_svc = strdup(title)) == NULL ||
	    (kl->kl_key = strdup(key)) == NULL)
		fatal("strdup");
	kl->kl_line = cfg->line;
}

static int
keyline_get(const char *svc, const char *key, int dflt)
{
	size_t	i;

	for (i = P.nlines; i-- > 0; )
		if (strcmp(P.lines[i].kl_svc, svc) == 0 &&
		    strcmp(P.lines[i].kl_key, key) == 0)
			return P.lines[i].kl_line;
	return dflt;
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

static int
parse_octal(const char *s, mode_t *m)
{
	char	*end;
	long	 v;

	if (*s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 8);
	if (errno != 0 || *end != '\0' || v < 0 || v > 0777)
		return -1;
	*m = (mode_t)v;
	return 0;
}

static int
parse_limit(const char *s, rlim_t *v)
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

/* Validators: each sees its key's own line in cfg->line. */

static int
v_range(cfg_t *cfg, cfg_opt_t *opt, long lo, long hi)
{
	long	v = cfg_opt_getnint(opt, 0);

	keyline_add(cfg, opt->name);
	if (v < lo || v > hi)
		conf_err(cfg->line, "%s must be from %ld to %ld, not %ld",
		    opt->name, lo, hi, v);
	return 0;
}

static int
v_timeout(cfg_t *cfg, cfg_opt_t *opt)
{
	return v_range(cfg, opt, 0, MAX_TIMEOUT);
}

static int
v_kill_timeout(cfg_t *cfg, cfg_opt_t *opt)
{
	return v_range(cfg, opt, 0, 86400);
}

static int
v_backlog(cfg_t *cfg, cfg_opt_t *opt)
{
	return v_range(cfg, opt, 1, 65535);
}

static int
v_signal(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);

	keyline_add(cfg, opt->name);
	if (s == NULL || conf_signal_parse(s) == -1)
		conf_err(cfg->line, "%s: unknown signal \"%s\" (use a name "
		    "such as TERM or a number)", opt->name, s ? s : "");
	return 0;
}

static int
v_octal(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);
	mode_t		 m;

	keyline_add(cfg, opt->name);
	if (s == NULL || parse_octal(s, &m) == -1)
		conf_err(cfg->line, "%s must be an octal mode from 0 to 0777, "
		    "not \"%s\"", opt->name, s ? s : "");
	return 0;
}

static int
v_limit(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);
	rlim_t		 v;

	keyline_add(cfg, opt->name);
	if (s == NULL || parse_limit(s, &v) == -1)
		conf_err(cfg->line, "%s must be a number or \"unlimited\", "
		    "not \"%s\"", opt->name, s ? s : "");
	return 0;
}

static int
v_environment(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned int	 i;
	const char	*s, *p;

	keyline_add(cfg, opt->name);
	for (i = 0; i < cfg_opt_size(opt); i++) {
		s = cfg_opt_getnstr(opt, i);
		for (p = s; *p != '\0' && *p != '='; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				break;
		if (*p != '=' || p == s || isdigit((unsigned char)*s))
			conf_err(cfg->line, "environment \"%s\" must be "
			    "NAME=value", s);
		else if (strncmp(s, "LISTEN_", 7) == 0)
			conf_err(cfg->line, "environment \"%s\": LISTEN_* is "
			    "set by soad", s);
	}
	return 0;
}

static int
v_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned int	 i;
	const char	*s, *rest;
	char		 name[SOAD_FDNAME_MAX + 1], err[256];
	struct addr	 a;

	keyline_add(cfg, opt->name);
	if (cfg_opt_size(opt) == 0)
		conf_err(cfg->line, "listen needs at least one address");
	if (cfg_opt_size(opt) > SOAD_MAXLISTEN)
		conf_err(cfg->line, "more than %d listen addresses",
		    SOAD_MAXLISTEN);
	for (i = 0; i < cfg_opt_size(opt); i++) {
		s = cfg_opt_getnstr(opt, i);
		if (addr_split_name(s, name, sizeof(name), &rest) == -1) {
			conf_err(cfg->line, "listen \"%s\": name longer than "
			    "%d bytes", s, SOAD_FDNAME_MAX);
			continue;
		}
		if (addr_parse(rest, &a, err, sizeof(err)) == -1)
			conf_err(cfg->line, "%s", err);
	}
	return 0;
}

static int
v_server(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);

	keyline_add(cfg, opt->name);
	if (s == NULL || *s != '/')
		conf_err(cfg->line, "server \"%s\" must be an absolute path",
		    s ? s : "");
	return 0;
}

static int
v_args(cfg_t *cfg, cfg_opt_t *opt)
{
	keyline_add(cfg, opt->name);
	if (cfg_opt_size(opt) == 0)
		conf_err(cfg->line, "args needs at least argv[0]");
	return 0;
}

static int
v_line(cfg_t *cfg, cfg_opt_t *opt)
{
	keyline_add(cfg, opt->name);
	return 0;
}

static const struct {
	const char		*key;
	cfg_validate_callback_t	 fn;
} validators[] = {
	{ "timeout", v_timeout }, { "kill-timeout", v_kill_timeout },
	{ "backlog", v_backlog }, { "stop-signal", v_signal },
	{ "socket-mode", v_octal }, { "umask", v_octal },
	{ "limit-nofile", v_limit }, { "limit-nproc", v_limit },
	{ "limit-core", v_limit }, { "limit-as", v_limit },
	{ "environment", v_environment }, { "user", v_line },
	{ "socket-user", v_line }, { "socket-group", v_line },
	{ "directory", v_line }, { "fd0", v_line },
};

/* Second pass: a service's settings, each falling back to the global. */

static cfg_t *
pick(cfg_t *sec, cfg_t *glob, const char *key)
{
	return cfg_size(sec, key) > 0 ? sec : glob;
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if (s == NULL)
		return NULL;
	if ((p = strdup(s)) == NULL)
		fatal("strdup");
	return p;
}

static char **
strv(cfg_t *c, const char *key, const char *dflt)
{
	unsigned int	  i, n = cfg_size(c, key);
	char		**v;

	if ((v = calloc(n + 2, sizeof(*v))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++)
		v[i] = xstrdup(cfg_getnstr(c, key, i));
	if (n == 0 && dflt != NULL)
		v[0] = xstrdup(dflt);
	return v;
}

static void
strv_free(char **v)
{
	char	**p;

	if (v == NULL)
		return;
	for (p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

static int
valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > SOAD_FDNAME_MAX)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return 0;
	return 1;
}

static int
lookup_group(const char *s, gid_t *gid)
{
	struct group	*gr;
	char		*end;
	unsigned long	 v;

	if ((gr = getgrnam(s)) != NULL) {
		*gid = gr->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0)
		return -1;
	*gid = (gid_t)v;
	return 0;
}

/* "user" or "user:group"; the group defaults to the user's primary one. */
static int
resolve_user(struct svc_conf *sc, const char *spec, int line)
{
	struct passwd	*pw;
	char		*u, *g;

	u = xstrdup(spec);
	if ((g = strchr(u, ':')) != NULL)
		*g++ = '\0';
	if ((pw = getpwnam(u)) == NULL) {
		conf_err(line, "service %s: no such user \"%s\"",
		    sc->sc_name, u);
		free(u);
		return -1;
	}
	sc->sc_setuser = 1;
	sc->sc_user = xstrdup(pw->pw_name);
	sc->sc_uid = pw->pw_uid;
	sc->sc_gid = pw->pw_gid;
	if (g != NULL && lookup_group(g, &sc->sc_gid) == -1) {
		conf_err(line, "service %s: no such group \"%s\"",
		    sc->sc_name, g);
		free(u);
		return -1;
	}
	free(u);
	return 0;
}

static void
check_exec(struct svc_conf *sc, int line)
{
	struct stat	st;

	if (stat(sc->sc_server, &st) == -1)
		conf_err(line, "service %s: server %s: %s", sc->sc_name,
		    sc->sc_server, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		conf_err(line, "service %s: server %s is not a regular file",
		    sc->sc_name, sc->sc_server);
	else if ((st.st_mode & 0111) == 0 || access(sc->sc_server, X_OK) == -1)
		conf_err(line, "service %s: server %s is not executable",
		    sc->sc_name, sc->sc_server);
}

static char *
absolute_dir(const char *d)
{
	char	 cwd[PATH_MAX];
	char	*p;

	if (*d == '/')
		return xstrdup(d);
	/* Relative to where soad was started, resolved once here. */
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal("getcwd");
	if (asprintf(&p, "%s/%s", cwd, d) == -1)
		fatal("asprintf");
	return p;
}

static struct svc_conf *
build_service(cfg_t *glob, cfg_t *sec, int flags)
{
	struct svc_conf	*sc;
	const char	*s, *rest;
	char		 name[SOAD_FDNAME_MAX + 1], err[256];
	struct stat	 st;
	unsigned int	 i;
	int		 line, k, r;
	gid_t		 g;
	struct passwd	*pw;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		fatal("calloc");
	sc->sc_name = xstrdup(cfg_title(sec));
	sc->sc_line = sec->line;
	if (!valid_name(sc->sc_name))
		conf_err(sc->sc_line, "service name \"%s\" must be 1 to %d "
		    "characters of [A-Za-z0-9_.-]", sc->sc_name,
		    SOAD_FDNAME_MAX);

	/* listen */
	sc->sc_nlisten = cfg_size(sec, "listen");
	if (sc->sc_nlisten == 0)
		conf_err(sc->sc_line, "service %s: no listen address",
		    sc->sc_name);
	if (sc->sc_nlisten > SOAD_MAXLISTEN)
		sc->sc_nlisten = SOAD_MAXLISTEN;
	if ((sc->sc_listen = calloc(sc->sc_nlisten + 1,
	    sizeof(*sc->sc_listen))) == NULL)
		fatal("calloc");
	line = keyline_get(sc->sc_name, "listen", sc->sc_line);
	for (i = 0; i < sc->sc_nlisten; i++) {
		s = cfg_getnstr(sec, "listen", i);
		r = addr_split_name(s, name, sizeof(name), &rest);
		sc->sc_listen[i].lc_fdname = xstrdup(r == 1 ? name :
		    sc->sc_name);
		sc->sc_listen[i].lc_line = line;
		/* A bad address was reported by its validator already. */
		if (r != -1)
			(void)addr_parse(rest, &sc->sc_listen[i].lc_addr, err,
			    sizeof(err));
	}

	/* server, args */
	if ((s = cfg_getstr(sec, "server")) == NULL)
		conf_err(sc->sc_line, "service %s: no server given",
		    sc->sc_name);
	sc->sc_server = xstrdup(s);
	sc->sc_argv = strv(sec, "args", s);
	if (s != NULL && *s == '/' && (flags & CONF_CHECK_FILES))
		check_exec(sc, keyline_get(sc->sc_name, "server",
		    sc->sc_line));

	/* plain inherited values */
	sc->sc_timeout = cfg_getint(pick(sec, glob, "timeout"), "timeout");
	sc->sc_kill_timeout = cfg_getint(pick(sec, glob, "kill-timeout"),
	    "kill-timeout");
	sc->sc_backlog = (int)cfg_getint(pick(sec, glob, "backlog"),
	    "backlog");
	sc->sc_stop_signal = conf_signal_parse(cfg_getstr(pick(sec, glob,
	    "stop-signal"), "stop-signal"));
	(void)parse_octal(cfg_getstr(pick(sec, glob, "umask"), "umask"),
	    &sc->sc_umask);
	(void)parse_octal(cfg_getstr(pick(sec, glob, "socket-mode"),
	    "socket-mode"), &sc->sc_sock_mode);
	sc->sc_fd0 = cfg_getbool(pick(sec, glob, "fd0"), "fd0");
	sc->sc_env = strv(pick(sec, glob, "environment"), "environment",
	    NULL);
	for (k = 0; k < LIM_COUNT; k++) {
		s = cfg_getstr(pick(sec, glob, limit_keys[k]), limit_keys[k]);
		if (s != NULL && parse_limit(s, &sc->sc_limits[k].lm_value)
		    == 0)
			sc->sc_limits[k].lm_set = 1;
	}

	/* directory */
	sc->sc_dir = absolute_dir(cfg_getstr(pick(sec, glob, "directory"),
	    "directory"));
	if ((flags & CONF_CHECK_FILES) && (stat(sc->sc_dir, &st) == -1 ||
	    !S_ISDIR(st.st_mode)))
		conf_err(keyline_get(sc->sc_name, "directory", sc->sc_line),
		    "service %s: directory %s does not exist", sc->sc_name,
		    sc->sc_dir);

	/* user; default: soad's own */
	sc->sc_uid = geteuid();
	sc->sc_gid = getegid();
	if ((s = cfg_getstr(pick(sec, glob, "user"), "user")) != NULL) {
		line = keyline_get(sc->sc_name, "user", sc->sc_line);
		if (resolve_user(sc, s, line) == 0 && geteuid() != 0 &&
		    sc->sc_uid != geteuid())
			conf_err(line, "service %s: user %s needs soad to run "
			    "as root", sc->sc_name, s);
	} else if ((pw = getpwuid(geteuid())) != NULL)
		sc->sc_user = xstrdup(pw->pw_name);

	/* UNIX socket owner: the service's user and group unless given. */
	sc->sc_sock_uid = sc->sc_uid;
	sc->sc_sock_gid = sc->sc_gid;
	if ((s = cfg_getstr(pick(sec, glob, "socket-user"), "socket-user"))
	    != NULL) {
		line = keyline_get(sc->sc_name, "socket-user", sc->sc_line);
		if ((pw = getpwnam(s)) == NULL)
			conf_err(line, "service %s: no such socket-user "
			    "\"%s\"", sc->sc_name, s);
		else {
			sc->sc_sock_uid = pw->pw_uid;
			sc->sc_sock_gid = pw->pw_gid;
		}
	}
	if ((s = cfg_getstr(pick(sec, glob, "socket-group"), "socket-group"))
	    != NULL) {
		if (lookup_group(s, &g) == -1)
			conf_err(keyline_get(sc->sc_name, "socket-group",
			    sc->sc_line), "service %s: no such socket-group "
			    "\"%s\"", sc->sc_name, s);
		else
			sc->sc_sock_gid = g;
	}
	return sc;
}

static void
svc_conf_free(struct svc_conf *sc)
{
	size_t	i;

	if (sc == NULL)
		return;
	for (i = 0; i < sc->sc_nlisten; i++)
		free(sc->sc_listen[i].lc_fdname);
	free(sc->sc_listen);
	free(sc->sc_name);
	free(sc->sc_server);
	strv_free(sc->sc_argv);
	strv_free(sc->sc_env);
	free(sc->sc_user);
	free(sc->sc_dir);
	free(sc);
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
	free(cf);
}

/* Every pair of listeners that the kernel would refuse to bind twice. */
static void
check_addresses(struct conf *cf)
{
	struct svc_conf	*a, *b;
	size_t		 i, j, k, l;
	char		 buf[128];

	for (i = 0; i < cf->cf_nsvcs; i++) {
		a = cf->cf_svcs[i];
		for (k = 0; k < a->sc_nlisten; k++) {
			if (a->sc_listen[k].lc_addr.ad_family == 0)
				continue;
			for (j = i; j < cf->cf_nsvcs; j++) {
				b = cf->cf_svcs[j];
				for (l = (i == j ? k + 1 : 0);
				    l < b->sc_nlisten; l++) {
					if (b->sc_listen[l].lc_addr.ad_family
					    == 0 || !addr_conflict(
					    &a->sc_listen[k].lc_addr,
					    &b->sc_listen[l].lc_addr))
						continue;
					addr_fmt(&b->sc_listen[l].lc_addr,
					    buf, sizeof(buf));
					conf_err(b->sc_listen[l].lc_line,
					    "service %s: address %s is already "
					    "used by service %s", b->sc_name,
					    buf, a->sc_name);
				}
			}
		}
	}
}

/*
 * Parse and check FILE.  Returns the config, or NULL after printing every
 * problem as FILE:LINE: message; *nerr gets the number of errors.
 */
struct conf *
conf_load(const char *file, int flags, int *nerr)
{
	cfg_opt_t	 svc_opts[] = {
		COMMON_OPTS(CFGF_NODEFAULT),
		CFG_STR_LIST("listen", NULL, CFGF_NODEFAULT),
		CFG_STR("server", NULL, CFGF_NODEFAULT),
		CFG_STR_LIST("args", NULL, CFGF_NODEFAULT),
		CFG_END()
	};
	cfg_opt_t	 opts[] = {
		COMMON_OPTS(CFGF_NONE),
		CFG_SEC("service", svc_opts,
		    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
		CFG_END()
	};
	cfg_t		*cfg;
	struct conf	*cf = NULL;
	char		 path[PATH_MAX + 16];
	size_t		 i, n;
	int		 r;

	memset(&P, 0, sizeof(P));
	P.file = file;
	if ((cfg = cfg_init(opts, CFGF_NONE)) == NULL)
		fatal("cfg_init");
	cfg_set_error_function(cfg, confuse_errfunc);
	for (i = 0; i < sizeof(validators) / sizeof(validators[0]); i++) {
		cfg_set_validate_func(cfg, validators[i].key, validators[i].fn);
		snprintf(path, sizeof(path), "service|%s", validators[i].key);
		cfg_set_validate_func(cfg, path, validators[i].fn);
	}
	cfg_set_validate_func(cfg, "service|listen", v_listen);
	cfg_set_validate_func(cfg, "service|server", v_server);
	cfg_set_validate_func(cfg, "service|args", v_args);

	r = cfg_parse(cfg, file);
	if (r == CFG_FILE_ERROR) {
		fprintf(stderr, "%s:0: cannot read: %s\n", file,
		    strerror(errno));
		P.errors++;
		goto done;
	}
	if (r != CFG_SUCCESS) {
		if (P.errors == 0)
			P.errors++;
		goto done;
	}

	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		fatal("calloc");
	cf->cf_file = xstrdup(file);
	n = cfg_size(cfg, "service");
	if (n == 0)
		conf_err(cfg->line, "no service defined");
	if ((cf->cf_svcs = calloc(n + 1, sizeof(*cf->cf_svcs))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++)
		cf->cf_svcs[cf->cf_nsvcs++] = build_service(cfg,
		    cfg_getnsec(cfg, "service", i), flags);
	check_addresses(cf);

done:
	cfg_free(cfg);
	for (i = 0; i < P.nlines; i++) {
		free(P.lines[i].kl_svc);
		free(P.lines[i].kl_key);
	}
	free(P.lines);
	*nerr = P.errors;
	if (P.errors > 0) {
		conf_free(cf);
		return NULL;
	}
	return cf;
}
