/*
 * Configuration: the libconfuse schema, per-key validators and the
 * cross-service checks, turned into an immutable struct conf.
 *
 * Errors are collected, not stopped at the first: every validator notes
 * "FILE:LINE: message" for its own key and lets the parse go on, the
 * second pass adds every per-service and cross-service problem, and
 * conf_load() then prints them all on stderr in line order and returns
 * NULL with the number of errors.  Keys that libconfuse only reports at
 * section level (a missing key) point at the section's closing brace, the
 * line libconfuse knows for the section.
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

/*
 * Where each key of each service (kl_svc NULL: the global section) was
 * seen, for the second pass's messages.
 */
struct keyline {
	char	*kl_svc;
	char	*kl_key;
	int	 kl_line;
	int	 kl_reported;	/* global key: its value was checked */
};

/* One error, printed once the whole file has been checked. */
struct conf_msg {
	int	 cm_line;
	size_t	 cm_seq;
	char	*cm_text;
};

static struct {
	const char	*file;
	int		 errors;
	struct conf_msg	*msgs;
	struct keyline	*lines;
	size_t		 nlines;
	int		 lastline;	/* the file's last line */
	int		 unclosed;	/* the sentinel met an open brace */
} P;

/*
 * libconfuse takes an end of file inside a section (or list) as its end,
 * so conf_load() parses the file followed by this key at level 0: inside
 * a section left open it is an error that names the key.
 */
#define SENTINEL	"__soad_end_of_file__"

static void
conf_err(int line, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

/* Takes TEXT, an allocated string. */
static void
msg_add(int line, char *text)
{
	struct conf_msg	*m;

	m = reallocarray(P.msgs, (size_t)P.errors + 1, sizeof(*P.msgs));
	if (m == NULL)
		fatal("reallocarray");
	P.msgs = m;
	m = &P.msgs[P.errors];
	m->cm_line = line;
	m->cm_seq = (size_t)P.errors++;
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

static void
conf_err(int line, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	msg_add(line, text);
}

static void
confuse_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	char	*msg;

	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	if (strstr(msg, SENTINEL) != NULL) {
		P.unclosed = 1;
		free(msg);
	} else
		/* An open string runs into the sentinel: end of the file. */
		msg_add(cfg == NULL ? 0 : cfg->line > P.lastline ?
		    P.lastline : cfg->line, msg);
}

static void
keyline_add(cfg_t *cfg, const char *key)
{
	const char	*title = cfg_title(cfg);
	struct keyline	*kl;

	kl = reallocarray(P.lines, P.nlines + 1, sizeof(*P.lines));
	if (kl == NULL)
		fatal("reallocarray");
	P.lines = kl;
	kl = &P.lines[P.nlines++];
	memset(kl, 0, sizeof(*kl));
	if ((title != NULL && (kl->kl_svc = strdup(title)) == NULL) ||
	    (kl->kl_key = strdup(key)) == NULL)
		fatal("strdup");
	kl->kl_line = cfg->line;
}

/* The last place KEY was set in service SVC, or globally if SVC is NULL. */
static struct keyline *
keyline_find(const char *svc, const char *key)
{
	struct keyline	*kl;
	size_t		 i;

	for (i = P.nlines; i-- > 0; ) {
		kl = &P.lines[i];
		if (strcmp(kl->kl_key, key) != 0)
			continue;
		if (svc == NULL ? kl->kl_svc == NULL :
		    kl->kl_svc != NULL && strcmp(kl->kl_svc, svc) == 0)
			return kl;
	}
	return NULL;
}

static int
keyline_get(const char *svc, const char *key, int dflt)
{
	struct keyline	*kl;

	if ((kl = keyline_find(svc, key)) == NULL)
		return dflt;
	return kl->kl_line;
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

/* Octal digits only: strtol would also take a sign or blanks. */
static int
parse_octal(const char *s, mode_t *m)
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

/*
 * Validators: each sees its key's own line in cfg->line.  libconfuse calls
 * a list's validator after every element and again at its closing brace,
 * so lists are only located here and checked in the second pass.
 */

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

static rlim_t
nofile_ceiling(void)
{
	FILE			*fp;
	unsigned long long	 v;

	if ((fp = fopen("/proc/sys/fs/nr_open", "r")) != NULL) {
		if (fscanf(fp, "%llu", &v) != 1)
			v = 1048576;
		fclose(fp);
		return (rlim_t)v;
	}
	return RLIM_INFINITY - 1;	/* elsewhere: only "unlimited" fails */
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
	else if (strcmp(opt->name, "limit-nofile") == 0 &&
	    v > nofile_ceiling())
		/* setrlimit() refuses it even as root: every start would
		 * fail.  Linux's ceiling is fs.nr_open. */
		conf_err(cfg->line, "limit-nofile must be at most %llu (the "
		    "kernel's fs.nr_open), not \"%s\"",
		    (unsigned long long)nofile_ceiling(), s);
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
	{ "environment", v_line }, { "user", v_line },
	{ "socket-user", v_line }, { "socket-group", v_line },
	{ "directory", v_line }, { "fd0", v_line },
};

/* Second pass: a service's settings, each falling back to the global. */

/*
 * The section whose KEY applies: the service's if set there, even to an
 * empty list (lists are replaced, not merged), else the global one.
 */
static cfg_t *
pick(cfg_t *sec, cfg_t *glob, const char *key)
{
	cfg_opt_t	*opt = cfg_getopt(sec, key);

	return opt != NULL && (opt->flags & CFGF_MODIFIED) ? sec : glob;
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

/*
 * A group name, or a number made of digits only: strtoul would turn "-1"
 * into (gid_t)-1, which setresgid(2) takes as "leave unchanged".
 */
static int
lookup_group(const char *s, gid_t *gid)
{
	struct group	*gr;
	const char	*p;
	unsigned long	 v;

	if ((gr = getgrnam(s)) != NULL) {
		*gid = gr->gr_gid;
		return 0;
	}
	if (*s == '\0' || strlen(s) > 10)
		return -1;
	for (p = s; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	errno = 0;
	v = strtoul(s, NULL, 10);
	if (errno != 0 || v >= (unsigned long)(gid_t)-1)
		return -1;
	*gid = (gid_t)v;
	return 0;
}

/*
 * SRC is the section (the service's or the global one) whose KEY service
 * SC uses.  A value inherited from the global section is checked once,
 * not once per service: key_checked() says whether it was, and marks it.
 */
static int
key_checked(cfg_t *src, const char *key)
{
	struct keyline	*kl;
	int		 r;

	if (cfg_title(src) != NULL || (kl = keyline_find(NULL, key)) == NULL)
		return 0;
	r = kl->kl_reported;
	kl->kl_reported = 1;
	return r;
}

static int
key_lineno(cfg_t *src, const struct svc_conf *sc, const char *key)
{
	if (cfg_title(src) == NULL)
		return keyline_get(NULL, key, 0);
	return keyline_get(sc->sc_name, key, sc->sc_line);
}

/*
 * A problem with the value SRC gives KEY in service SC, reported at the
 * key's line; an inherited global value once, without a service name.
 */
static void
key_err(cfg_t *src, const struct svc_conf *sc, const char *key,
    const char *fmt, ...)
    __attribute__((__format__(printf, 4, 5)));

static void
key_err(cfg_t *src, const struct svc_conf *sc, const char *key,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	if (key_checked(src, key))
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	if (cfg_title(src) == NULL)
		conf_err(key_lineno(src, sc, key), "%s", msg);
	else
		conf_err(key_lineno(src, sc, key), "service %s: %s",
		    sc->sc_name, msg);
	free(msg);
}

/* NAME=value, NAME of [A-Za-z0-9_] not starting with a digit. */
static void
check_env(cfg_t *src, const struct svc_conf *sc)
{
	unsigned int	 i;
	const char	*s, *p;
	int		 line;

	if (key_checked(src, "environment"))
		return;
	line = key_lineno(src, sc, "environment");
	for (i = 0; i < cfg_size(src, "environment"); i++) {
		s = cfg_getnstr(src, "environment", i);
		for (p = s; *p != '\0' && *p != '='; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				break;
		if (*p != '=' || p == s || isdigit((unsigned char)*s))
			conf_err(line, "environment \"%s\" must be "
			    "NAME=value", s);
		else if (strncmp(s, "LISTEN_", 7) == 0)
			conf_err(line, "environment \"%s\": LISTEN_* is "
			    "set by soad", s);
	}
}

/* "user" or "user:group"; the group defaults to the user's primary one. */
static int
resolve_user(struct svc_conf *sc, cfg_t *src, const char *spec)
{
	struct passwd	*pw;
	char		*u, *g;

	u = xstrdup(spec);
	if ((g = strchr(u, ':')) != NULL)
		*g++ = '\0';
	if ((pw = getpwnam(u)) == NULL) {
		key_err(src, sc, "user", "no such user \"%s\"", u);
		free(u);
		return -1;
	}
	sc->sc_setuser = 1;
	sc->sc_user = xstrdup(pw->pw_name);
	sc->sc_uid = pw->pw_uid;
	sc->sc_gid = pw->pw_gid;
	if (g != NULL && lookup_group(g, &sc->sc_gid) == -1) {
		key_err(src, sc, "user", "no such group \"%s\"", g);
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
	cfg_t		*src;
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

	/* listen; a bad address keeps ad_family 0 */
	line = keyline_get(sc->sc_name, "listen", sc->sc_line);
	sc->sc_nlisten = cfg_size(sec, "listen");
	if (sc->sc_nlisten == 0)
		conf_err(sc->sc_line, "service %s: no listen address",
		    sc->sc_name);
	if (sc->sc_nlisten > SOAD_MAXLISTEN) {
		conf_err(line, "more than %d listen addresses",
		    SOAD_MAXLISTEN);
		sc->sc_nlisten = SOAD_MAXLISTEN;
	}
	if ((sc->sc_listen = calloc(sc->sc_nlisten + 1,
	    sizeof(*sc->sc_listen))) == NULL)
		fatal("calloc");
	for (i = 0; i < sc->sc_nlisten; i++) {
		s = cfg_getnstr(sec, "listen", i);
		r = addr_split_name(s, name, sizeof(name), &rest);
		sc->sc_listen[i].lc_fdname = xstrdup(r == 1 ? name :
		    sc->sc_name);
		sc->sc_listen[i].lc_line = line;
		if (r == -1)
			conf_err(line, "listen \"%s\": name longer than %d "
			    "bytes", s, SOAD_FDNAME_MAX);
		else if (addr_parse(rest, &sc->sc_listen[i].lc_addr, err,
		    sizeof(err)) == -1)
			conf_err(line, "%s", err);
	}

	/* server, args */
	if ((s = cfg_getstr(sec, "server")) == NULL)
		conf_err(sc->sc_line, "service %s: no server given",
		    sc->sc_name);
	sc->sc_server = xstrdup(s);
	sc->sc_argv = strv(sec, "args", s);
	if (pick(sec, glob, "args") == sec && cfg_size(sec, "args") == 0)
		conf_err(sc->sc_line, "service %s: args needs at least argv[0]",
		    sc->sc_name);
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
	src = pick(sec, glob, "environment");
	sc->sc_env = strv(src, "environment", NULL);
	check_env(src, sc);
	for (k = 0; k < LIM_COUNT; k++) {
		s = cfg_getstr(pick(sec, glob, limit_keys[k]), limit_keys[k]);
		if (s != NULL && parse_limit(s, &sc->sc_limits[k].lm_value)
		    == 0)
			sc->sc_limits[k].lm_set = 1;
	}

	/* directory */
	src = pick(sec, glob, "directory");
	sc->sc_dir = absolute_dir(cfg_getstr(src, "directory"));
	if ((flags & CONF_CHECK_FILES) && stat(sc->sc_dir, &st) == -1)
		key_err(src, sc, "directory", "directory %s: %s", sc->sc_dir,
		    strerror(errno));
	else if ((flags & CONF_CHECK_FILES) && !S_ISDIR(st.st_mode))
		key_err(src, sc, "directory", "directory %s is not a "
		    "directory", sc->sc_dir);

	/* user; default: soad's own */
	sc->sc_uid = geteuid();
	sc->sc_gid = getegid();
	src = pick(sec, glob, "user");
	if ((s = cfg_getstr(src, "user")) != NULL) {
		/* Without root soad cannot change ids: spawn skips the drop. */
		if (resolve_user(sc, src, s) == 0 && geteuid() != 0 &&
		    (sc->sc_uid != geteuid() || sc->sc_gid != getegid()))
			key_err(src, sc, "user", "user %s needs soad to run as "
			    "root", s);
	} else if ((pw = getpwuid(geteuid())) != NULL)
		sc->sc_user = xstrdup(pw->pw_name);

	/* UNIX socket owner: the service's user and group unless given. */
	sc->sc_sock_uid = sc->sc_uid;
	sc->sc_sock_gid = sc->sc_gid;
	src = pick(sec, glob, "socket-user");
	if ((s = cfg_getstr(src, "socket-user")) != NULL) {
		if ((pw = getpwnam(s)) == NULL)
			key_err(src, sc, "socket-user", "no such socket-user "
			    "\"%s\"", s);
		else {
			sc->sc_sock_uid = pw->pw_uid;
			sc->sc_sock_gid = pw->pw_gid;
		}
	}
	src = pick(sec, glob, "socket-group");
	if ((s = cfg_getstr(src, "socket-group")) != NULL) {
		if (lookup_group(s, &g) == -1)
			key_err(src, sc, "socket-group", "no such socket-group "
			    "\"%s\"", s);
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

static void
report_conflict(const struct svc_conf *a, const struct listen_conf *la,
    const struct svc_conf *b, const struct listen_conf *lb)
{
	char	abuf[128], bbuf[128];

	addr_fmt(&la->lc_addr, abuf, sizeof(abuf));
	addr_fmt(&lb->lc_addr, bbuf, sizeof(bbuf));
	if (strcmp(abuf, bbuf) != 0)
		conf_err(lb->lc_line, "service %s: address %s overlaps %s of "
		    "service %s", b->sc_name, bbuf, abuf, a->sc_name);
	else if (a == b)
		conf_err(lb->lc_line, "service %s: address %s is listed "
		    "twice", b->sc_name, bbuf);
	else
		conf_err(lb->lc_line, "service %s: address %s is already "
		    "used by service %s", b->sc_name, bbuf, a->sc_name);
}

/* Every pair of listeners that the kernel would refuse to bind twice. */
static void
check_addresses(struct conf *cf)
{
	struct svc_conf		*a, *b;
	struct listen_conf	*la, *lb;
	size_t			 i, j, k, l;

	for (i = 0; i < cf->cf_nsvcs; i++) {
		a = cf->cf_svcs[i];
		for (k = 0; k < a->sc_nlisten; k++) {
			la = &a->sc_listen[k];
			if (la->lc_addr.ad_family == 0)
				continue;
			for (j = i; j < cf->cf_nsvcs; j++) {
				b = cf->cf_svcs[j];
				for (l = (i == j ? k + 1 : 0);
				    l < b->sc_nlisten; l++) {
					lb = &b->sc_listen[l];
					if (lb->lc_addr.ad_family != 0 &&
					    addr_conflict(&la->lc_addr,
					    &lb->lc_addr))
						report_conflict(a, la, b, lb);
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
		CFG_INT(SENTINEL, 0, CFGF_NONE),
		CFG_END()
	};
	cfg_t		*cfg;
	struct conf	*cf = NULL;
	static const char tail[] = "\n" SENTINEL " = 1\n";
	char		 path[PATH_MAX + 16], *buf = NULL, *p;
	size_t		 i, n, len;
	int		 r, line;

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
	cfg_set_validate_func(cfg, "service|listen", v_line);
	cfg_set_validate_func(cfg, "service|server", v_server);
	cfg_set_validate_func(cfg, "service|args", v_line);

	if ((buf = conftext_read(file, &len)) == NULL) {
		conf_err(0, "cannot read: %s", strerror(errno));
		goto done;
	}
	if (memchr(buf, '\0', len) != NULL) {
		conf_err(0, "cannot read: the file contains a NUL byte");
		goto done;
	}

	if ((line = conftext_strip_comments(buf)) != 0) {
		conf_err(line, "unterminated comment");
		goto done;
	}
	P.lastline = 1;
	for (i = 0; i < len; i++)
		if (buf[i] == '\n' && i + 1 < len)
			P.lastline++;
	if ((p = realloc(buf, len + sizeof(tail))) == NULL)
		fatal("realloc");
	buf = p;
	memcpy(buf + len, tail, sizeof(tail));
	r = cfg_parse_buf(cfg, buf);
	if (P.unclosed) {
		conf_err(P.lastline, "missing \"}\" at the end of the file");
		goto done;
	}
	if (r != CFG_SUCCESS) {
		/* libconfuse stops at its first error. */
		if (P.errors == 0)
			conf_err(0, "cannot parse the file");
		goto done;
	}

	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		fatal("calloc");
	cf->cf_file = xstrdup(file);
	n = cfg_size(cfg, "service");
	if (n == 0)
		conf_err(P.lastline, "no service defined");
	if ((cf->cf_svcs = calloc(n + 1, sizeof(*cf->cf_svcs))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++)
		cf->cf_svcs[cf->cf_nsvcs++] = build_service(cfg,
		    cfg_getnsec(cfg, "service", i), flags);
	check_addresses(cf);

done:
	free(buf);
	cfg_free(cfg);
	if (P.errors > 0)
		qsort(P.msgs, (size_t)P.errors, sizeof(*P.msgs), msg_cmp);
	for (i = 0; i < (size_t)P.errors; i++) {
		fprintf(stderr, "%s:%d: %s\n", file, P.msgs[i].cm_line,
		    P.msgs[i].cm_text);
		free(P.msgs[i].cm_text);
	}
	free(P.msgs);
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
