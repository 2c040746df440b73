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
#include <sys/socket.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
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
	CFG_INT_CB("timeout", 300, (nodef), parse_decimal),		\
	CFG_STR("stop-signal", "TERM", (nodef)),			\
	CFG_INT_CB("kill-timeout", 10, (nodef), parse_decimal),		\
	CFG_INT_CB("backlog", 1024, (nodef), parse_decimal),		\
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
 * Every key a section can hold; a section's key lines are indexed by
 * these, so finding where a key was set costs nothing.
 */
static const char *keys[] = {
	"timeout", "stop-signal", "kill-timeout", "backlog", "user",
	"socket-user", "socket-group", "socket-mode", "umask", "directory",
	"environment", "fd0", "limit-nofile", "limit-nproc", "limit-core",
	"limit-as", "listen", "server", "args",
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

/*
 * A service section, taken from libconfuse as soon as it is parsed (see
 * v_service()), with the line of each of its keys (0: not set).
 */
struct section {
	cfg_t		*se_sec;
	cfg_value_t	*se_val;	/* libconfuse's wrapper, freed with it */
	int		 se_open;	/* line of "service NAME {" */
	int		 se_dup;	/* an earlier section has its name */
	int		 se_lines[NKEYS];
};

/* One error, passed to the sink once the whole file has been checked. */
struct conf_msg {
	int	 cm_line;
	size_t	 cm_seq;
	char	*cm_text;
};

static struct {
	const char	*file;
	int		 errors;
	struct conf_msg	*msgs;
	struct section	*secs;
	size_t		 nsecs, secsize;
	int		 cur[NKEYS];	/* the section being parsed */
	int		 glob[NKEYS];	/* the global section */
	int		 globchecked[NKEYS]; /* global value was checked */
	int		*opens;		/* lines of section openings */
	size_t		 nopens;
	int		 badint;	/* the last integer was not decimal */
	int		 lastline;	/* the file's last line */
	int		 unclosed;	/* the sentinel met an open brace */
	const struct section *building;	/* the second pass's section */
	uid_t		 euid;
	gid_t		 egid;
	char		*euser;		/* soad's own user name */
} P;

static void	conf_sink_stderr(const char *, int, const char *);

static conf_sink_fn	sink = conf_sink_stderr;

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

/* Where conf_load() sends its messages; NULL restores stderr. */
void
conf_set_sink(conf_sink_fn fn)
{
	sink = fn != NULL ? fn : conf_sink_stderr;
}

static int
key_index(const char *key)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i], key) == 0)
			return (int)i;
	fatalx("conf: unknown key %s", key);
}

/* KEY was just set in CFG: a service section (titled) or the global one. */
static void
keyline_add(cfg_t *cfg, const char *key)
{
	if (cfg_title(cfg) != NULL)
		P.cur[key_index(key)] = cfg->line;
	else
		P.glob[key_index(key)] = cfg->line;
}

/* Where KEY was last set in section SE, or globally if SE is NULL. */
static int
keyline_get(const struct section *se, const char *key, int dflt)
{
	int	line;

	line = se == NULL ? P.glob[key_index(key)] :
	    se->se_lines[key_index(key)];
	return line != 0 ? line : dflt;
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

/*
 * Integer keys are decimal: libconfuse alone would read them as C
 * literals (010 is 8, 0x10 is 16).  A value that is not a decimal number
 * is reported here and the parse goes on; its validator then skips the
 * range check.
 */
static int
parse_decimal(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	const char	*s = value;
	long		 v = 0;
	int		 neg = 0, d;

	*(long *)result = 0;
	if (s == NULL)
		return -1;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s == '\0')
		goto bad;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			goto bad;
		d = *s - '0';
		if (v > (LONG_MAX - d) / 10) {
			conf_err(cfg->line, "%s: \"%s\" is out of range",
			    opt->name, value);
			P.badint = 1;
			return 0;
		}
		v = v * 10 + d;
	}
	*(long *)result = neg ? -v : v;
	return 0;
bad:
	conf_err(cfg->line, "%s must be a decimal number, not \"%s\"",
	    opt->name, value);
	P.badint = 1;
	return 0;
}

static int
v_range(cfg_t *cfg, cfg_opt_t *opt, long lo, long hi)
{
	long	v = cfg_opt_getnint(opt, 0);

	keyline_add(cfg, opt->name);
	if (P.badint)
		P.badint = 0;
	else if (v < lo || v > hi)
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

/*
 * A service section has just been parsed: take it out of libconfuse's
 * list.  libconfuse compares every new section's title with every one
 * before it, which is quadratic; with the list kept empty it compares
 * none, and duplicate names are found by sorting in the second pass.
 */
static int
v_service(cfg_t *cfg, cfg_opt_t *opt)
{
	struct section	*se;
	size_t		 size;

	(void)cfg;
	if (opt->nvalues != 1)
		fatalx("conf: %u service sections at once", opt->nvalues);
	if (P.nsecs == P.secsize) {
		size = P.secsize == 0 ? 16 : P.secsize * 2;
		if ((se = reallocarray(P.secs, size, sizeof(*se))) == NULL)
			fatal("reallocarray");
		P.secs = se;
		P.secsize = size;
	}
	se = &P.secs[P.nsecs];
	se->se_val = opt->values[0];
	se->se_sec = se->se_val->section;
	se->se_dup = 0;
	se->se_open = P.nsecs < P.nopens ? P.opens[P.nsecs] : 0;
	if (se->se_open == 0 || se->se_open > se->se_sec->line)
		se->se_open = se->se_sec->line;
	memcpy(se->se_lines, P.cur, sizeof(se->se_lines));
	memset(P.cur, 0, sizeof(P.cur));
	P.nsecs++;
	opt->nvalues = 0;
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
	int	k, r;

	if (cfg_title(src) != NULL || P.glob[k = key_index(key)] == 0)
		return 0;
	r = P.globchecked[k];
	P.globchecked[k] = 1;
	return r;
}

static int
key_lineno(cfg_t *src, const struct svc_conf *sc, const char *key)
{
	if (cfg_title(src) == NULL)
		return keyline_get(NULL, key, 0);
	return keyline_get(P.building, key, sc->sc_line);
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

static int
has_unix(const struct svc_conf *sc)
{
	size_t	i;

	for (i = 0; i < sc->sc_nlisten; i++)
		if (sc->sc_listen[i].lc_addr.ad_family == AF_UNIX)
			return 1;
	return 0;
}

static int
in_groups(gid_t g)
{
	gid_t	*v;
	int	 i, n, r = 0;

	if (g == P.egid)
		return 1;
	if ((n = getgroups(0, NULL)) <= 0)
		return 0;
	if ((v = calloc((size_t)n, sizeof(*v))) == NULL)
		fatal("calloc");
	if ((n = getgroups(n, v)) > 0)
		for (i = 0; i < n && !r; i++)
			r = v[i] == g;
	free(v);
	return r;
}

/*
 * Without root, lchown(2) can give a socket only soad's own user and one
 * of its groups: any other socket-user or socket-group fails every bind.
 */
static void
check_sock_owner(const struct svc_conf *sc, cfg_t *sec, cfg_t *glob)
{
	cfg_t		*usrc, *gsrc;
	const char	*u, *g;

	if (P.euid == 0)
		return;
	usrc = pick(sec, glob, "socket-user");
	gsrc = pick(sec, glob, "socket-group");
	u = cfg_getstr(usrc, "socket-user");
	g = cfg_getstr(gsrc, "socket-group");
	if (u != NULL && sc->sc_sock_uid != P.euid)
		key_err(usrc, sc, "socket-user", "socket-user %s needs soad to "
		    "run as root", u);
	else if (g != NULL && !in_groups(sc->sc_sock_gid))
		key_err(gsrc, sc, "socket-group", "socket-group %s needs soad "
		    "to run as root or as a member of it", g);
	else if (u != NULL && g == NULL && !in_groups(sc->sc_sock_gid))
		key_err(usrc, sc, "socket-user", "socket-user %s: its group "
		    "needs soad to run as root or as a member of it", u);
}

/*
 * A UNIX socket that can never be bound: its directory is missing or
 * unsafe (sockpath_check()), or something other than a socket sits at
 * its path, which soad never replaces.
 */
static void
check_unix_path(const struct svc_conf *sc, const struct listen_conf *lc)
{
	const char	*path = addr_path(&lc->lc_addr);
	char		 err[PATH_MAX + 128];
	struct stat	 st;

	if (sockpath_check(path, err, sizeof(err)) == -1)
		conf_err(lc->lc_line, "service %s: socket %s: %s", sc->sc_name,
		    path, err);
	else if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		conf_err(lc->lc_line, "service %s: socket %s: the path exists "
		    "and is not a socket", sc->sc_name, path);
}

static struct svc_conf *
build_service(cfg_t *glob, const struct section *se, int flags)
{
	cfg_t		*sec = se->se_sec;
	struct svc_conf	*sc;
	cfg_t		*src;
	const char	*s, *rest;
	char		 name[SOAD_FDNAME_MAX + 1], err[256];
	struct stat	 st;
	unsigned int	 i;
	int		 line, k, r;
	gid_t		 g;
	struct passwd	*pw;

	P.building = se;
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		fatal("calloc");
	sc->sc_name = xstrdup(cfg_title(sec));
	sc->sc_line = sec->line;
	if (!valid_name(sc->sc_name))
		conf_err(sc->sc_line, "service name \"%s\" must be 1 to %d "
		    "characters of [A-Za-z0-9_.-]", sc->sc_name,
		    SOAD_FDNAME_MAX);

	/* listen; a bad address keeps ad_family 0 */
	line = keyline_get(P.building, "listen", sc->sc_line);
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
		check_exec(sc, keyline_get(P.building, "server",
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
	sc->sc_uid = P.euid;
	sc->sc_gid = P.egid;
	src = pick(sec, glob, "user");
	if ((s = cfg_getstr(src, "user")) != NULL) {
		/* Without root soad cannot change ids: spawn skips the drop. */
		if (resolve_user(sc, src, s) == 0 && P.euid != 0 &&
		    (sc->sc_uid != P.euid || sc->sc_gid != P.egid))
			key_err(src, sc, "user", "user %s needs soad to run as "
			    "root", s);
	} else
		sc->sc_user = xstrdup(P.euser);

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
	if (has_unix(sc))
		check_sock_owner(sc, sec, glob);
	/* Only for -n: at start-up a bind that fails is retried. */
	if (flags & CONF_CHECK_SOCKETS)
		for (i = 0; i < sc->sc_nlisten; i++)
			if (sc->sc_listen[i].lc_addr.ad_family == AF_UNIX)
				check_unix_path(sc, &sc->sc_listen[i]);
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

/*
 * Overlapping addresses, found without comparing every pair: listeners
 * are grouped by UNIX path or by TCP port, and within a port only two
 * kinds of pair can collide, one with a wildcard member or two of the same
 * address; addr_conflict() has the last word on each candidate.  The
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

/* By UNIX path or by port, then by config order. */
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
	} else if ((r = addr_port(&a->lr_lc->lc_addr) -
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
	return addr_port(&a->lr_lc->lc_addr) == addr_port(&b->lr_lc->lc_addr);
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

/* One TCP port's listeners G[0..N), sorted by config order. */
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
static void
check_addresses(struct conf *cf)
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

/* By name, then by file order: a name's first section sorts first. */
static int
section_cmp(const void *x, const void *y)
{
	const struct section	*a = *(const struct section * const *)x;
	const struct section	*b = *(const struct section * const *)y;
	int			 r;

	if ((r = strcmp(cfg_title(a->se_sec), cfg_title(b->se_sec))) != 0)
		return r;
	return a < b ? -1 : a > b;
}

/* Marks and reports every section whose name an earlier one has. */
static void
check_duplicates(void)
{
	struct section	**v;
	size_t		  i, j;

	if ((v = calloc(P.nsecs + 1, sizeof(*v))) == NULL)
		fatal("calloc");
	for (i = 0; i < P.nsecs; i++)
		v[i] = &P.secs[i];
	qsort(v, P.nsecs, sizeof(*v), section_cmp);
	for (i = 0; i < P.nsecs; i = j)
		for (j = i + 1; j < P.nsecs && strcmp(cfg_title(v[i]->se_sec),
		    cfg_title(v[j]->se_sec)) == 0; j++) {
			v[j]->se_dup = 1;
			conf_err(v[j]->se_open, "service %s is already defined "
			    "at line %d", cfg_title(v[j]->se_sec),
			    v[i]->se_open);
		}
	free(v);
}

static void
sections_free(void)
{
	size_t	i;

	for (i = 0; i < P.nsecs; i++) {
		P.secs[i].se_sec->path = NULL;	/* libconfuse's, shared */
		cfg_free(P.secs[i].se_sec);
		free(P.secs[i].se_val);
	}
	free(P.secs);
}

/* Parse and check BUF (LEN bytes, NUL-terminated, ours to change). */
static struct conf *
parse(char *buf, size_t len, int flags)
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
		CFG_SEC("service", svc_opts, CFGF_MULTI | CFGF_TITLE),
		CFG_INT(SENTINEL, 0, CFGF_NONE),
		CFG_END()
	};
	static const char tail[] = "\n" SENTINEL " = 1\n";
	struct passwd	*pw;
	struct conf	*cf = NULL;
	cfg_t		*cfg;
	char		 path[64], *p;
	size_t		 i;
	int		 r, line;

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
	cfg_set_validate_func(cfg, "service", v_service);

	if (memchr(buf, '\0', len) != NULL) {
		conf_err(0, "cannot read: the file contains a NUL byte");
		goto done;
	}
	if ((line = conftext_strip_comments(buf)) != 0) {
		conf_err(line, "unterminated comment");
		goto done;
	}
	P.nopens = conftext_section_lines(buf, &P.opens);
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

	/* Looked up once: every service without "user" runs as soad. */
	P.euid = geteuid();
	P.egid = getegid();
	P.euser = (pw = getpwuid(P.euid)) != NULL ? xstrdup(pw->pw_name) :
	    NULL;
	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		fatal("calloc");
	if (P.nsecs == 0)
		conf_err(P.lastline, "no service defined");
	check_duplicates();
	if ((cf->cf_svcs = calloc(P.nsecs + 1, sizeof(*cf->cf_svcs))) == NULL)
		fatal("calloc");
	for (i = 0; i < P.nsecs; i++)
		if (!P.secs[i].se_dup)
			cf->cf_svcs[cf->cf_nsvcs++] = build_service(cfg,
			    &P.secs[i], flags);
	P.building = NULL;
	check_addresses(cf);

done:
	free(buf);
	sections_free();
	cfg_free(cfg);
	return cf;
}

/*
 * Parse and check TEXT (LEN bytes) as the config file NAME.  Returns the
 * config, or NULL after passing every problem to the sink in line order;
 * *nerr gets the number of errors.
 */
struct conf *
conf_load_buf(const char *name, const char *text, size_t len, int flags,
    int *nerr)
{
	struct conf	*cf = NULL;
	char		*buf, err[128];
	size_t		 i;

	memset(&P, 0, sizeof(P));
	P.file = name;
	if (text == NULL)
		conf_err(0, "%s", "cannot read");
	else if (len > CONF_MAX_SIZE) {
		snprintf(err, sizeof(err), "cannot read: larger than %d MiB",
		    CONF_MAX_SIZE >> 20);
		conf_err(0, "%s", err);
	} else {
		if ((buf = malloc(len + 1)) == NULL)
			fatal("malloc");
		memcpy(buf, text, len);
		buf[len] = '\0';
		cf = parse(buf, len, flags);
	}
	if (cf != NULL)
		cf->cf_file = xstrdup(name);

	if (P.errors > 0)
		qsort(P.msgs, (size_t)P.errors, sizeof(*P.msgs), msg_cmp);
	for (i = 0; i < (size_t)P.errors; i++) {
		sink(name, P.msgs[i].cm_line, P.msgs[i].cm_text);
		free(P.msgs[i].cm_text);
	}
	free(P.msgs);
	free(P.opens);
	free(P.euser);
	*nerr = P.errors;
	if (P.errors > 0) {
		conf_free(cf);
		cf = NULL;
	}
	memset(&P, 0, sizeof(P));
#ifdef __GLIBC__
	/*
	 * libconfuse's tree took about six times the memory of the struct
	 * conf built from it, and its holes sit between the conf's pieces,
	 * so the heap cannot shrink from the top: at 10,000 services 40 MiB
	 * would stay resident.  Give the free pages back.
	 */
	malloc_trim(0);
#endif
	return cf;
}

/* conf_load_buf() on the contents of FILE. */
struct conf *
conf_load(const char *file, int flags, int *nerr)
{
	struct conf	*cf;
	char		*buf, err[128];
	size_t		 len;

	if (conftext_read(file, &buf, &len, err, sizeof(err)) == -1) {
		sink(file, 0, err);
		*nerr = 1;
		return NULL;
	}
	cf = conf_load_buf(file, buf, len, flags, nerr);
	free(buf);
	return cf;
}

/*
 * File descriptors the master needs for CF: every listener, per service
 * its output pipe's read end plus one more for an instance whose pipe
 * outlives it, and a fixed allowance for stdio, the log, the event loop,
 * the arrival pipe, sock_diag and a spawn in progress.
 */
int
conf_nofile_needed(const struct conf *cf)
{
	size_t	i, n = 32;

	for (i = 0; i < cf->cf_nsvcs; i++)
		n += cf->cf_svcs[i]->sc_nlisten + 2;
	return n > INT_MAX ? INT_MAX : (int)n;
}
