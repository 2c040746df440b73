/*
 * soad.conf through libconfuse: the schema, per-key validators that note
 * where each key was set, and the second pass that turns the parsed tree
 * into a struct conf (conf.c owns the structure, the cross-service checks
 * and the error sink).
 *
 * Errors are collected, not stopped at the first: every validator notes
 * "FILE:LINE: message" for its own key and lets the parse go on, the
 * second pass adds every per-service and cross-service problem, and
 * conf_load() then passes them all to the sink in line order and returns
 * NULL with the number of errors.  Keys that libconfuse only reports at
 * section level (a missing key) point at the section's closing brace, the
 * line libconfuse knows for the section.
 *
 * Linear in the number of services: each section is taken out of
 * libconfuse as soon as it is parsed (its own title check is quadratic)
 * and keeps only the keys it sets, key lines live in a per-section table,
 * duplicate names are found by hashing.  When no global key follows the
 * first section (conftext_section_lines() says so), each service is built
 * as soon as its section ends and the section freed; otherwise the
 * sections wait for a second pass once the globals are final.  In the
 * first case a syntax error late in the file still leaves the services
 * before it checked.  libconfuse's tree is freed before conf_load()
 * returns.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pwd.h>
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
	CFG_INT_CB("timeout", CONF_TIMEOUT, (nodef), parse_decimal),	\
	CFG_STR("stop-signal", "TERM", (nodef)),			\
	CFG_INT_CB("kill-timeout", CONF_KILL_TIMEOUT, (nodef),		\
	    parse_decimal),						\
	CFG_INT_CB("backlog", CONF_BACKLOG, (nodef), parse_decimal),	\
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
	CFG_STR("limit-as", NULL, CFGF_NODEFAULT),			\
	CFG_STR("mode", "pass", (nodef)),				\
	CFG_BOOL("tcpwrap", cfg_true, (nodef)),				\
	CFG_INT_CB("max-connections", 4096, (nodef), parse_decimal),	\
	CFG_INT_CB("max-connections-per-source", 0, (nodef),		\
	    parse_decimal),						\
	CFG_STR("proxy-protocol", "no", (nodef)),			\
	CFG_STR_LIST("idle-ignore", NULL, CFGF_NODEFAULT),		\
	CFG_INT_CB("start-timeout", 30, (nodef), parse_decimal),		\
	CFG_INT_CB("max-children", 0, (nodef), parse_decimal),		\
	CFG_INT_CB("max-children-per-source", 0, (nodef),		\
	    parse_decimal),						\
	CFG_INT_CB("max-per-minute", 0, (nodef), parse_decimal),	\
	CFG_INT_CB("max-per-minute-per-source", 0, (nodef),		\
	    parse_decimal),						\
	CFG_INT_CB("rate-pause", CONF_RATE_PAUSE, (nodef), parse_decimal)

static const char *limit_keys[LIM_COUNT] = {
	"limit-nofile", "limit-nproc", "limit-core", "limit-as"
};

/*
 * Every key a section can hold; a section's key lines are indexed by
 * these, so finding where a key was set costs nothing.
 */
static const char *keys[] = {
	"listen", "server", "args", "timeout", "stop-signal", "kill-timeout",
	"backlog", "user", "socket-user", "socket-group", "socket-mode",
	"umask", "directory", "environment", "fd0", "limit-nofile",
	"limit-nproc", "limit-core", "limit-as", "mode", "tcpwrap",
	"max-connections", "max-connections-per-source", "proxy-protocol",
	"idle-ignore", "start-timeout", "max-children",
	"max-children-per-source", "max-per-minute",
	"max-per-minute-per-source", "rate-pause", "tcpwrap-name", "backend",
	"socket-type", "internal", "hosts-allow", "hosts-deny",
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

/* A service name, and the line where its first section opened. */
struct seen {
	char		*name;		/* NULL: a free slot */
	int		 line;
};

static struct {
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
	const struct section *building;	/* the section being built */
	struct conf	*cf;		/* being built: owns interned strings */
	int		 flags;		/* conf_load()'s */
	int		 eager;		/* build each section once parsed */
	struct seen	*names;		/* service names so far, hashed */
	size_t		 nnames, namesize;
	size_t		 svcsize;	/* room in cf->cf_svcs */
	const char	*execok;	/* interned server found executable */
	const char	*dirok;		/* interned directory found */
	uid_t		 euid;
	gid_t		 egid;
	char		*euser;		/* soad's own user name */
	struct passwd	 pw;		/* the last user looked up */
	char		*pwkey;		/* ... by this name */
	int		 pwfound;
	gid_t		 grgid;		/* the last group looked up */
	char		*grkey;
	int		 grfound;
} P;

/*
 * libconfuse takes an end of file inside a section (or list) as its end,
 * so conf_load() parses the file followed by this key at level 0: inside
 * a section left open it is an error that names the key.
 */
#define SENTINEL	"__soad_end_of_file__"

static void
confuse_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	char	*msg;

	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	if (strstr(msg, SENTINEL) != NULL) {
		P.unclosed = 1;
		free(msg);
	} else {
		/* An open string runs into the sentinel: end of the file. */
		conf_error(cfg == NULL ? 0 : cfg->line > P.lastline ?
		    P.lastline : cfg->line, "%s", msg);
		free(msg);
	}
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
			conf_error(cfg->line, "%s: \"%s\" is out of range",
			    opt->name, value);
			P.badint = 1;
			return 0;
		}
		v = v * 10 + d;
	}
	*(long *)result = neg ? -v : v;
	return 0;
bad:
	conf_error(cfg->line, "%s must be a decimal number, not \"%s\"",
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
		conf_error(cfg->line, "%s must be from %ld to %ld, not %ld",
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
		conf_error(cfg->line, "%s: unknown signal \"%s\" (use a name "
		    "such as TERM or a number)", opt->name, s ? s : "");
	return 0;
}

static int
v_octal(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);
	mode_t		 m;

	keyline_add(cfg, opt->name);
	if (s == NULL || conf_parse_octal(s, &m) == -1)
		conf_error(cfg->line, "%s must be an octal mode from 0 to 0777, "
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
	if (s == NULL || conf_parse_limit(s, &v) == -1)
		conf_error(cfg->line, "%s must be a number or \"unlimited\", "
		    "not \"%s\"", opt->name, s ? s : "");
	else if (strcmp(opt->name, "limit-nofile") == 0 &&
	    v > nofile_ceiling())
		/* setrlimit() refuses it even as root: every start would
		 * fail.  Linux's ceiling is fs.nr_open. */
		conf_error(cfg->line, "limit-nofile must be at most %llu (the "
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
		conf_error(cfg->line, "server \"%s\" must be an absolute path",
		    s ? s : "");
	return 0;
}

static int
v_maxconn(cfg_t *cfg, cfg_opt_t *opt)
{
	return v_range(cfg, opt, 1, 1000000);
}

static int
v_maxsrc(cfg_t *cfg, cfg_opt_t *opt)
{
	return v_range(cfg, opt, 0, 1000000);
}

static int
v_start_timeout(cfg_t *cfg, cfg_opt_t *opt)
{
	return v_range(cfg, opt, 1, 3600);
}

static int
v_rate_pause(cfg_t *cfg, cfg_opt_t *opt)
{
	return v_range(cfg, opt, 1, 86400);
}

/*
 * Keys whose value is one word of a list, the word's index in it being
 * the value: MODE_*, the PROXY protocol version, SOCK_STREAM or
 * SOCK_DGRAM by position, enum inetd_internal (conf.c's table).
 */
static const char *const mode_words[] = { "pass", "proxy", "nowait", NULL };
static const char *const proxyproto_words[] = { "no", "v1", "v2", NULL };
static const char *const socktype_words[] = { "stream", "dgram", NULL };

static const struct {
	const char		*key;
	const char *const	*words;
} word_keys[] = {
	{ "mode", mode_words }, { "proxy-protocol", proxyproto_words },
	{ "socket-type", socktype_words },
	{ "internal", conf_internal_names + 1 },
};

/* S's index in WORDS (NULL-ended), -1 if it is none of them. */
static int
word_index(const char *const *words, const char *s)
{
	int	k;

	for (k = 0; s != NULL && words[k] != NULL; k++)
		if (strcmp(s, words[k]) == 0)
			return k;
	return -1;
}

/* The validator of every key in word_keys: "KEY must be A, B or C". */
static int
v_word(cfg_t *cfg, cfg_opt_t *opt)
{
	const char		 *s = cfg_opt_getnstr(opt, 0);
	const char *const	 *w = NULL;
	char			  list[128];
	size_t			  i, len = 0;

	keyline_add(cfg, opt->name);
	for (i = 0; i < sizeof(word_keys) / sizeof(word_keys[0]); i++)
		if (strcmp(opt->name, word_keys[i].key) == 0)
			w = word_keys[i].words;
	if (w == NULL || word_index(w, s) != -1)
		return 0;
	list[0] = '\0';
	for (i = 0; w[i] != NULL; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
		    i == 0 ? "" : w[i + 1] == NULL ? " or " : ", ", w[i]);
	conf_error(cfg->line, "%s must be %s, not \"%s\"", opt->name, list,
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
 * Drop the options SEC does not set.  libconfuse gives every section a
 * copy of the whole schema (35 options of 144 bytes, each name strdup'd);
 * kept until the second pass, 10,000 sections touched 50 MB of fresh
 * pages, half of the start-up time.  Freed here, the next section reuses
 * the same memory.  A service's unset keys come from the global section
 * (pick()), so an option that is absent reads as unset.
 */
static void
section_shrink(cfg_t *sec)
{
	cfg_opt_t	*o, *v;
	size_t		 n = 0, i = 0;

	for (o = sec->opts; o->name != NULL; o++)
		n += (o->flags & CFGF_MODIFIED) != 0;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		fatal("calloc");
	for (o = sec->opts; o->name != NULL; o++) {
		if (o->flags & CFGF_MODIFIED) {
			v[i++] = *o;
			continue;
		}
		cfg_free_value(o);
		free((void *)o->name);
		free(o->comment);
		free(o->def.parsed);
		free((void *)o->def.string);
	}
	free(sec->opts);
	sec->opts = v;
}

static uint64_t
name_hash(const char *s)
{
	uint64_t	h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The free slot for NAME in table V of SIZE slots, or NAME's own. */
static struct seen *
name_slot(struct seen *v, size_t size, const char *name)
{
	size_t	i;

	for (i = name_hash(name) & (size - 1); v[i].name != NULL &&
	    strcmp(v[i].name, name) != 0; i = (i + 1) & (size - 1))
		;
	return &v[i];
}

/*
 * The line where the first section named NAME opened, or 0 if this is
 * the first (it opened at LINE): duplicates are found as the sections
 * come, by hashing.
 */
static int
name_seen(const char *name, int line)
{
	struct seen	*v, *e;
	size_t		 i, size;

	if (2 * (P.nnames + 1) > P.namesize) {
		size = P.namesize == 0 ? 64 : 2 * P.namesize;
		if ((v = calloc(size, sizeof(*v))) == NULL)
			fatal("calloc");
		for (i = 0; i < P.namesize; i++)
			if (P.names[i].name != NULL)
				*name_slot(v, size, P.names[i].name) =
				    P.names[i];
		free(P.names);
		P.names = v;
		P.namesize = size;
	}
	e = name_slot(P.names, P.namesize, name);
	if (e->name != NULL)
		return e->line;
	e->name = xstrdup(name);
	e->line = line;
	P.nnames++;
	return 0;
}

static void
names_free(void)
{
	size_t	i;

	for (i = 0; i < P.namesize; i++)
		free(P.names[i].name);
	free(P.names);
}

/* Append SC to the services of the config being built. */
static void
svc_append(struct svc_conf *sc)
{
	struct conf		 *cf = P.cf;
	struct svc_conf		**v;
	size_t			  size;

	if (cf->cf_nsvcs + 1 >= P.svcsize) {
		size = P.svcsize == 0 ? 16 : 2 * P.svcsize;
		if ((v = reallocarray(cf->cf_svcs, size, sizeof(*v))) == NULL)
			fatal("reallocarray");
		cf->cf_svcs = v;
		P.svcsize = size;
	}
	cf->cf_svcs[cf->cf_nsvcs++] = sc;
	cf->cf_svcs[cf->cf_nsvcs] = NULL;
}

static void
section_free(struct section *se)
{
	se->se_sec->path = NULL;	/* libconfuse's, shared */
	cfg_free(se->se_sec);
	free(se->se_val);
	se->se_sec = NULL;
}

static struct svc_conf *build_service(cfg_t *, const struct section *, int);

/*
 * A service section has just been parsed: take it out of libconfuse's
 * list.  libconfuse compares every new section's title with every one
 * before it, which is quadratic; with the list kept empty it compares
 * none, and a duplicate name is found here by hashing (the first section
 * of a name counts, a later one is reported and not built).
 *
 * If no global key follows the first section (P.eager, the usual file),
 * the global settings are final by now: the service is built at once and
 * the section freed, so the parse never holds more than one.  Otherwise
 * the sections wait for the second pass.  CFG is the global section.
 */
static int
v_service(cfg_t *cfg, cfg_opt_t *opt)
{
	struct section	*se;
	size_t		 size, k = P.eager ? 0 : P.nsecs;
	int		 first;

	if (opt->nvalues != 1)
		fatalx("conf: %u service sections at once", opt->nvalues);
	if (k == P.secsize) {
		size = P.secsize == 0 ? 16 : P.secsize * 2;
		if ((se = reallocarray(P.secs, size, sizeof(*se))) == NULL)
			fatal("reallocarray");
		P.secs = se;
		P.secsize = size;
	}
	se = &P.secs[k];
	se->se_val = opt->values[0];
	se->se_sec = se->se_val->section;
	section_shrink(se->se_sec);
	se->se_open = P.nsecs < P.nopens ? P.opens[P.nsecs] : 0;
	if (se->se_open == 0 || se->se_open > se->se_sec->line)
		se->se_open = se->se_sec->line;
	memcpy(se->se_lines, P.cur, sizeof(se->se_lines));
	memset(P.cur, 0, sizeof(P.cur));
	P.nsecs++;
	opt->nvalues = 0;
	first = name_seen(cfg_title(se->se_sec), se->se_open);
	if ((se->se_dup = first != 0))
		conf_error(se->se_open, "service %s is already defined at "
		    "line %d", cfg_title(se->se_sec), first);
	if (!P.eager)
		return 0;
	if (!se->se_dup)
		svc_append(build_service(cfg, se, P.flags));
	P.building = NULL;
	section_free(se);
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
	{ "mode", v_word }, { "tcpwrap", v_line },
	{ "max-connections", v_maxconn },
	{ "max-connections-per-source", v_maxsrc },
	{ "proxy-protocol", v_word }, { "idle-ignore", v_line },
	{ "start-timeout", v_start_timeout },
	{ "max-children", v_maxsrc }, { "max-children-per-source", v_maxsrc },
	{ "max-per-minute", v_maxsrc },
	{ "max-per-minute-per-source", v_maxsrc },
	{ "rate-pause", v_rate_pause },
};

/* Second pass: a service's settings, each falling back to the global. */

/*
 * The section whose KEY applies: the service's if set there, even to an
 * empty list (lists are replaced, not merged), else the global one.
 */
/*
 * libconfuse's getters find an option by a linear strcmp over the
 * section's list, for every key of every service here.  A service
 * section holds only the keys it sets, a short scan; the global one holds
 * the whole schema, so each key's index there is looked up once, checked
 * by name, and reused (falling back to libconfuse's own lookup if the
 * name differs).
 */
static cfg_opt_t *
opt_of(cfg_t *c, const char *key)
{
	static struct {
		const char	*key;
		size_t		 idx;
	}		 cache[48];
	static size_t	 ncache;
	cfg_opt_t	*o;
	size_t		 i;

	if (c == NULL)
		return NULL;
	if (cfg_title(c) != NULL) {
		/* A service section: the few keys it sets (section_shrink) */
		for (o = c->opts; o->name != NULL; o++)
			if (strcmp(o->name, key) == 0)
				return o;
		return NULL;
	}
	for (i = 0; i < ncache; i++)
		if (cache[i].key == key) {
			o = &c->opts[cache[i].idx];
			if (o->name != NULL && strcmp(o->name, key) == 0)
				return o;
			break;
		}
	if ((o = cfg_getopt(c, key)) != NULL && i == ncache &&
	    ncache < sizeof(cache) / sizeof(cache[0])) {
		cache[ncache].key = key;
		cache[ncache++].idx = (size_t)(o - c->opts);
	}
	return o;
}

#define opt_nstr(c, k, i)	cfg_opt_getnstr(opt_of((c), (k)), (i))
#define opt_str(c, k)		cfg_opt_getnstr(opt_of((c), (k)), 0)
#define opt_int(c, k)		cfg_opt_getnint(opt_of((c), (k)), 0)
#define opt_bool(c, k)		cfg_opt_getnbool(opt_of((c), (k)), 0)
#define opt_size(c, k)		cfg_opt_size(opt_of((c), (k)))

static cfg_t *
pick(cfg_t *sec, cfg_t *glob, const char *key)
{
	cfg_opt_t	*opt = opt_of(sec, key);

	return opt != NULL && (opt->flags & CFGF_MODIFIED) ? sec : glob;
}

static char **
strv(cfg_t *c, const char *key, const char *dflt)
{
	unsigned int	  i, n = opt_size(c, key);
	char		**v;

	if (n == 0 && dflt == NULL)
		return conf_nostrings;		/* shared, never freed */
	if ((v = calloc(n + 2, sizeof(*v))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++)
		v[i] = conf_intern(P.cf, opt_nstr(c, key, i));
	if (n == 0 && dflt != NULL)
		v[0] = conf_intern(P.cf, dflt);
	return v;
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
 * getpwnam() and getgrnam() read the whole database each time, and a user
 * set globally is looked up again for every service: remember the last
 * answer.  Only pw_name, pw_uid and pw_gid of the result are valid.
 */
static const struct passwd *
user_lookup(const char *name)
{
	struct passwd	*pw;

	if (P.pwkey == NULL || strcmp(P.pwkey, name) != 0) {
		free(P.pwkey);
		free(P.pw.pw_name);
		memset(&P.pw, 0, sizeof(P.pw));
		P.pwkey = xstrdup(name);
		if ((P.pwfound = (pw = getpwnam(name)) != NULL)) {
			P.pw.pw_name = xstrdup(pw->pw_name);
			P.pw.pw_uid = pw->pw_uid;
			P.pw.pw_gid = pw->pw_gid;
		}
	}
	return P.pwfound ? &P.pw : NULL;
}

static int
group_lookup(const char *name, gid_t *gid)
{
	struct group	*gr;

	if (P.grkey == NULL || strcmp(P.grkey, name) != 0) {
		free(P.grkey);
		P.grkey = xstrdup(name);
		if ((P.grfound = (gr = getgrnam(name)) != NULL))
			P.grgid = gr->gr_gid;
	}
	*gid = P.grgid;
	return P.grfound ? 0 : -1;
}

/*
 * A group name, or a number made of digits only: strtoul would turn "-1"
 * into (gid_t)-1, which setresgid(2) takes as "leave unchanged".
 */
static int
lookup_group(const char *s, gid_t *gid)
{
	const char	*p;
	unsigned long	 v;

	if (group_lookup(s, gid) == 0)
		return 0;
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
		conf_error(key_lineno(src, sc, key), "%s", msg);
	else
		conf_error(key_lineno(src, sc, key), "service %s: %s",
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
	for (i = 0; i < opt_size(src, "environment"); i++) {
		s = opt_nstr(src, "environment", i);
		for (p = s; *p != '\0' && *p != '='; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				break;
		if (*p != '=' || p == s || isdigit((unsigned char)*s))
			conf_error(line, "environment \"%s\" must be "
			    "NAME=value", s);
		else if (strncmp(s, "LISTEN_", 7) == 0)
			conf_error(line, "environment \"%s\": LISTEN_* is "
			    "set by soad", s);
	}
}

/* "user" or "user:group"; the group defaults to the user's primary one. */
static int
resolve_user(struct svc_conf *sc, cfg_t *src, const char *spec)
{
	const struct passwd *pw;
	char		*u, *g;

	u = xstrdup(spec);
	if ((g = strchr(u, ':')) != NULL)
		*g++ = '\0';
	if ((pw = user_lookup(u)) == NULL) {
		key_err(src, sc, "user", "no such user \"%s\"", u);
		free(u);
		return -1;
	}
	sc->sc_setuser = 1;
	sc->sc_user = conf_intern(P.cf, pw->pw_name);
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

static char *
absolute_dir(const char *d)
{
	char	 cwd[PATH_MAX];
	char	*p, *tmp;

	if (*d == '/')
		return conf_intern(P.cf, d);
	/* Relative to where soad was started, resolved once here. */
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal("getcwd");
	if (asprintf(&tmp, "%s/%s", cwd, d) == -1)
		fatal("asprintf");
	p = conf_intern(P.cf, tmp);
	free(tmp);
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
	u = opt_str(usrc, "socket-user");
	g = opt_str(gsrc, "socket-group");
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

/* hosts-allow, hosts-deny: absolute, as the checks run elsewhere. */
static char *
hosts_file(cfg_t *glob, const char *key)
{
	const char	*s = opt_str(glob, key);

	if (s == NULL || *s == '\0') {
		conf_error(keyline_get(NULL, key, 0), "%s must be a file name",
		    key);
		return NULL;
	}
	return xstrdup(absolute_dir(s));
}

/*
 * Keys only one mode reads.  Set in the own section of a service of
 * another mode they are errors; inherited from the global section they
 * are defaults for the services of their mode and ignored by the others.
 */
static const char *proxy_keys[] = {
	"backend", "proxy-protocol", "idle-ignore", "start-timeout",
	"max-connections", "max-connections-per-source",
};
static const char *nowait_keys[] = {
	"max-children", "max-children-per-source", "max-per-minute",
	"max-per-minute-per-source", "rate-pause",
};

/* KEY is set in SEC itself. */
static int
own_key(cfg_t *sec, const char *key)
{
	cfg_opt_t	*opt = opt_of(sec, key);

	return opt != NULL && (opt->flags & CFGF_MODIFIED);
}

/* The proxy-only settings of proxy-mode service SC. */
static void
build_proxy(struct svc_conf *sc, cfg_t *sec, cfg_t *glob)
{
	struct accept_conf	*ac = sc->sc_accept;
	cfg_t			*src;
	const char		*s;
	char			 err[256];
	unsigned int		 i;

	if ((s = opt_str(sec, "backend")) != NULL) {
		if (addr_parse(s, &ac->ac_backend, err, sizeof(err)) == -1)
			key_err(sec, sc, "backend", "backend: %s", err);
		else if (ac->ac_backend.ad_any) {
			key_err(sec, sc, "backend", "backend \"%s\" needs a "
			    "host address, e.g. 127.0.0.1:%d", s,
			    addr_port(&ac->ac_backend));
			ac->ac_backend.ad_family = 0;
		}
	}
	ac->ac_maxconn = opt_int(pick(sec, glob, "max-connections"),
	    "max-connections");
	ac->ac_maxsrc = opt_int(pick(sec, glob, "max-connections-per-source"),
	    "max-connections-per-source");
	ac->ac_start_timeout = opt_int(pick(sec, glob, "start-timeout"),
	    "start-timeout");
	s = opt_str(pick(sec, glob, "proxy-protocol"), "proxy-protocol");
	if ((ac->ac_proxyproto = word_index(proxyproto_words, s)) == -1)
		ac->ac_proxyproto = 0;		/* reported by v_word() */
	src = pick(sec, glob, "idle-ignore");
	if ((ac->ac_nignore = opt_size(src, "idle-ignore")) == 0)
		return;
	if ((ac->ac_ignore = calloc(ac->ac_nignore,
	    sizeof(*ac->ac_ignore))) == NULL)
		fatal("calloc");
	for (i = 0; i < ac->ac_nignore; i++) {
		s = opt_nstr(src, "idle-ignore", i);
		if (addr_mask_parse(s, &ac->ac_ignore[i]) == -1)
			key_err(src, sc, "idle-ignore", "idle-ignore \"%s\" "
			    "must be an IP address or ADDRESS/BITS", s);
	}
}

/*
 * mode, socket-type, tcpwrap and the keys of one mode: sc_mode, sc_fd0
 * and sc_accept of SC, whose sc_internal and sc_socktype are set.
 *
 * tcpwrap given in a pass-mode service's own section is an error: soad
 * never sees those connections, and a silent "yes" would be a false
 * sense of safety.  For the same reason it is one in a dgram service's
 * section: tcp_wrappers checks stream connections, and a datagram
 * service has none (its ac_wrapname stays NULL).  A dgram pass service
 * gets its socket on fd 0 (as inetd's "wait" ones do) and on fd 3.
 */
static void
build_mode(struct svc_conf *sc, cfg_t *sec, cfg_t *glob)
{
	struct accept_conf	*ac;
	cfg_t			*src;
	const char		*s;
	size_t			 i;
	int			 mode, tcpwrap, dgram;

	dgram = sc->sc_socktype == SOCK_DGRAM;
	src = pick(sec, glob, "mode");
	if ((mode = word_index(mode_words, opt_str(src, "mode"))) == -1)
		mode = MODE_PASS;		/* reported by v_word() */
	if (sc->sc_internal != INETD_EXTERNAL) {
		if (src == sec && mode != MODE_NOWAIT)
			key_err(sec, sc, "mode", "an internal service is served "
			    "by soad itself: mode must be nowait or left out");
		mode = MODE_NOWAIT;
	}
	sc->sc_mode = (unsigned char)mode;
	for (i = 0; mode != MODE_PROXY &&
	    i < sizeof(proxy_keys) / sizeof(proxy_keys[0]); i++)
		if (own_key(sec, proxy_keys[i]))
			key_err(sec, sc, proxy_keys[i], "%s needs mode = proxy",
			    proxy_keys[i]);
	for (i = 0; mode != MODE_NOWAIT &&
	    i < sizeof(nowait_keys) / sizeof(nowait_keys[0]); i++)
		if (own_key(sec, nowait_keys[i]))
			key_err(sec, sc, nowait_keys[i], "%s needs mode = nowait "
			    "or an internal service", nowait_keys[i]);

	src = pick(sec, glob, "tcpwrap");
	tcpwrap = opt_bool(src, "tcpwrap");
	if (mode == MODE_PASS) {
		if (src == sec && tcpwrap)
			key_err(sec, sc, "tcpwrap", "tcpwrap = yes needs mode = "
			    "proxy or nowait: in pass mode the service accepts "
			    "its own connections, so soad cannot check them");
		if (dgram) {
			if (own_key(sec, "fd0") && !opt_bool(sec, "fd0"))
				key_err(sec, sc, "fd0", "fd0 = no: a dgram "
				    "pass-mode service always gets its socket "
				    "on fd 0");
			sc->sc_fd0 = 1;
		}
		return;
	}
	/* nowait: the connection is fds 0-2; internal: no process at all */
	if (mode == MODE_NOWAIT && own_key(sec, "fd0") && opt_bool(sec, "fd0"))
		key_err(sec, sc, "fd0", "fd0 = yes needs mode = pass: %s",
		    sc->sc_internal != INETD_EXTERNAL ? "an internal service "
		    "runs no program" : "a nowait service gets its connection "
		    "on fds 0, 1 and 2");
	sc->sc_fd0 = 0;
	if (mode == MODE_PROXY && dgram)
		key_err(sec, sc, "socket-type", "socket-type = dgram does not "
		    "go with mode = proxy: soad relays stream connections only");
	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		fatal("calloc");
	sc->sc_accept = ac;
	if (dgram) {
		if (src == sec && tcpwrap)
			key_err(sec, sc, "tcpwrap", "tcpwrap = yes: tcp_wrappers "
			    "checks stream connections, and a dgram service "
			    "has none");
		tcpwrap = 0;
	}
#ifndef HAVE_LIBWRAP
	if (src == sec && tcpwrap)
		key_err(sec, sc, "tcpwrap", "tcpwrap = yes: soad was built "
		    "without libwrap");
	tcpwrap = 0;
#endif
	if (tcpwrap) {
		s = opt_str(sec, "tcpwrap-name");
		if (s != NULL && !conf_valid_wrapname(s))
			key_err(sec, sc, "tcpwrap-name", "tcpwrap-name \"%s\" "
			    "must be 1 to 64 characters without blanks, ':' "
			    "or ','", s);
		ac->ac_wrapname = conf_intern(P.cf, s != NULL ? s :
		    sc->sc_name);
	}
	if (mode == MODE_PROXY) {
		build_proxy(sc, sec, glob);
		return;
	}
	ac->ac_maxconn = opt_int(pick(sec, glob, "max-children"),
	    "max-children");
	ac->ac_maxsrc = opt_int(pick(sec, glob, "max-children-per-source"),
	    "max-children-per-source");
	ac->ac_rate = opt_int(pick(sec, glob, "max-per-minute"),
	    "max-per-minute");
	ac->ac_ratesrc = opt_int(pick(sec, glob, "max-per-minute-per-source"),
	    "max-per-minute-per-source");
	ac->ac_rate_pause = opt_int(pick(sec, glob, "rate-pause"),
	    "rate-pause");
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
	int		 line, k, r, nerr;
	gid_t		 g;
	rlim_t		 lim;
	const struct passwd *pw;

	P.building = se;
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		fatal("calloc");
	sc->sc_name = xstrdup(cfg_title(sec));
	sc->sc_line = sec->line;
	sc->sc_socktype = SOCK_STREAM;
	if (!valid_name(sc->sc_name))
		conf_error(sc->sc_line, "service name \"%s\" must be 1 to %d "
		    "characters of [A-Za-z0-9_.-]", sc->sc_name,
		    SOAD_FDNAME_MAX);

	/* listen; a bad address keeps ad_family 0 */
	line = keyline_get(P.building, "listen", sc->sc_line);
	sc->sc_nlisten = opt_size(sec, "listen");
	if (sc->sc_nlisten == 0)
		conf_error(sc->sc_line, "service %s: no listen address",
		    sc->sc_name);
	if (sc->sc_nlisten > SOAD_MAXLISTEN) {
		conf_error(line, "more than %d listen addresses",
		    SOAD_MAXLISTEN);
		sc->sc_nlisten = SOAD_MAXLISTEN;
	}
	if ((sc->sc_listen = calloc(sc->sc_nlisten ? sc->sc_nlisten : 1,
	    sizeof(*sc->sc_listen))) == NULL)
		fatal("calloc");
	for (i = 0; i < sc->sc_nlisten; i++) {
		s = opt_nstr(sec, "listen", i);
		r = addr_split_name(s, name, sizeof(name), &rest);
		/* The default name is the service's own: one copy. */
		sc->sc_listen[i].lc_fdname = r == 1 ? xstrdup(name) :
		    sc->sc_name;
		sc->sc_listen[i].lc_line = line;
		if (r == -1)
			conf_error(line, "listen \"%s\": name longer than %d "
			    "bytes", s, SOAD_FDNAME_MAX);
		else if (addr_parse(rest, &sc->sc_listen[i].lc_addr, err,
		    sizeof(err)) == -1)
			conf_error(line, "%s", err);
	}

	/* what it is: internal (no server), stream or dgram */
	if (word_index(socktype_words, opt_str(sec, "socket-type")) == 1)
		sc->sc_socktype = SOCK_DGRAM;
	if ((s = opt_str(sec, "internal")) != NULL) {
		/* An unknown one is reported: still no server needed. */
		k = word_index(conf_internal_names + 1, s) + 1;
		sc->sc_internal = (unsigned char)(k > 0 ? k : INETD_ECHO);
		if (opt_str(sec, "server") != NULL)
			key_err(sec, sc, "server", "server: an internal "
			    "service runs no program");
		if (own_key(sec, "args"))
			key_err(sec, sc, "args", "args: an internal service "
			    "runs no program");
		sc->sc_argv = conf_nostrings;
		goto common;
	}

	/* server, args */
	if ((s = opt_str(sec, "server")) == NULL)
		conf_error(sc->sc_line, "service %s: no server given",
		    sc->sc_name);
	sc->sc_server = conf_intern(P.cf, s);
	if (opt_size(sec, "args") == 0 && s != NULL) {
		/* { server }: one vector for every service of that server. */
		sc->sc_argv = conf_argv_of(P.cf, sc->sc_server);
		sc->sc_sharedargv = 1;
	} else
		sc->sc_argv = strv(sec, "args", s);
	if (pick(sec, glob, "args") == sec && opt_size(sec, "args") == 0)
		conf_error(sc->sc_line, "service %s: args needs at least argv[0]",
		    sc->sc_name);
	/* Interned: services sharing a server share one check. */
	if (s != NULL && *s == '/' && (flags & CONF_CHECK_FILES) &&
	    sc->sc_server != P.execok) {
		nerr = conf_errors();
		conf_check_exec(sc, keyline_get(P.building, "server",
		    sc->sc_line));
		if (conf_errors() == nerr)
			P.execok = sc->sc_server;
	}

common:
	/* plain inherited values */
	sc->sc_timeout = (int)opt_int(pick(sec, glob, "timeout"), "timeout");
	sc->sc_kill_timeout = (int)opt_int(pick(sec, glob, "kill-timeout"),
	    "kill-timeout");
	sc->sc_backlog = (int)opt_int(pick(sec, glob, "backlog"),
	    "backlog");
	sc->sc_stop_signal = conf_signal_parse(opt_str(pick(sec, glob,
	    "stop-signal"), "stop-signal"));
	(void)conf_parse_octal(opt_str(pick(sec, glob, "umask"), "umask"),
	    &sc->sc_umask);
	(void)conf_parse_octal(opt_str(pick(sec, glob, "socket-mode"),
	    "socket-mode"), &sc->sc_sock_mode);
	sc->sc_fd0 = opt_bool(pick(sec, glob, "fd0"), "fd0");
	src = pick(sec, glob, "environment");
	sc->sc_env = strv(src, "environment", NULL);
	check_env(src, sc);
	for (k = 0; k < LIM_COUNT; k++) {
		s = opt_str(pick(sec, glob, limit_keys[k]), limit_keys[k]);
		if (s == NULL || conf_parse_limit(s, &lim) == -1)
			continue;
		/* Most services set none: the array only when needed. */
		if (sc->sc_limits == NULL && (sc->sc_limits = calloc(LIM_COUNT,
		    sizeof(*sc->sc_limits))) == NULL)
			fatal("calloc");
		sc->sc_limits[k].lm_value = lim;
		sc->sc_limitset |= 1U << k;
	}

	/* directory */
	src = pick(sec, glob, "directory");
	sc->sc_dir = absolute_dir(opt_str(src, "directory"));
	if (!(flags & CONF_CHECK_FILES) || sc->sc_dir == P.dirok)
		;
	else if (stat(sc->sc_dir, &st) == -1)
		key_err(src, sc, "directory", "directory %s: %s", sc->sc_dir,
		    strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		key_err(src, sc, "directory", "directory %s is not a "
		    "directory", sc->sc_dir);
	else
		P.dirok = sc->sc_dir;

	/* user; default: soad's own */
	sc->sc_uid = P.euid;
	sc->sc_gid = P.egid;
	src = pick(sec, glob, "user");
	/* An internal service runs no process: no user to switch to. */
	if ((s = opt_str(src, "user")) != NULL &&
	    sc->sc_internal == INETD_EXTERNAL) {
		/* Without root soad cannot change ids: spawn skips the drop. */
		if (resolve_user(sc, src, s) == 0 && P.euid != 0 &&
		    (sc->sc_uid != P.euid || sc->sc_gid != P.egid))
			key_err(src, sc, "user", "user %s needs soad to run as "
			    "root", s);
	} else
		sc->sc_user = conf_intern(P.cf, P.euser);

	/* UNIX socket owner: the service's user and group unless given. */
	sc->sc_sock_uid = sc->sc_uid;
	sc->sc_sock_gid = sc->sc_gid;
	src = pick(sec, glob, "socket-user");
	if ((s = opt_str(src, "socket-user")) != NULL) {
		if ((pw = user_lookup(s)) == NULL)
			key_err(src, sc, "socket-user", "no such socket-user "
			    "\"%s\"", s);
		else {
			sc->sc_sock_uid = pw->pw_uid;
			sc->sc_sock_gid = pw->pw_gid;
		}
	}
	src = pick(sec, glob, "socket-group");
	if ((s = opt_str(src, "socket-group")) != NULL) {
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
				conf_check_socket(sc, &sc->sc_listen[i]);
	build_mode(sc, sec, glob);
	return sc;
}

static void
sections_free(void)
{
	size_t	i;

	/* Eager: slot 0 only, each section freed once built. */
	for (i = 0; i < (P.eager ? 1 : P.nsecs) && i < P.secsize; i++)
		if (P.secs[i].se_sec != NULL)
			section_free(&P.secs[i]);
	free(P.secs);
}

/* Parse and check BUF (LEN bytes, NUL-terminated, ours to change). */
static struct conf *
parse(char *buf, size_t len, int flags)
{
	/* libconfuse finds a key by a linear strcmp: the keys nearly every
	 * service sets come first. */
	cfg_opt_t	 svc_opts[] = {
		CFG_STR_LIST("listen", NULL, CFGF_NODEFAULT),
		CFG_STR("server", NULL, CFGF_NODEFAULT),
		CFG_STR_LIST("args", NULL, CFGF_NODEFAULT),
		COMMON_OPTS(CFGF_NODEFAULT),
		CFG_STR("tcpwrap-name", NULL, CFGF_NODEFAULT),
		CFG_STR("backend", NULL, CFGF_NODEFAULT),
		CFG_STR("socket-type", NULL, CFGF_NODEFAULT),
		CFG_STR("internal", NULL, CFGF_NODEFAULT),
		CFG_END()
	};
	cfg_opt_t	 opts[] = {
		COMMON_OPTS(CFGF_NONE),
		CFG_STR("hosts-allow", "/etc/hosts.allow", CFGF_NONE),
		CFG_STR("hosts-deny", "/etc/hosts.deny", CFGF_NONE),
		/*
		 * DEFINIT: a service's options have no defaults (they
		 * inherit), so libconfuse's per-section default pass would
		 * only compare every option name with every other one, a
		 * third of the parse at 10,000 services.
		 */
		CFG_SEC("service", svc_opts,
		    CFGF_MULTI | CFGF_TITLE | CFGF_DEFINIT),
		CFG_INT(SENTINEL, 0, CFGF_NONE),
		CFG_END()
	};
	static const char tail[] = "\n" SENTINEL " = 1\n";
	struct passwd	*pw;
	struct conf	*cf = NULL;
	cfg_t		*cfg;
	char		 path[64], *p;
	size_t		 i;
	int		 r, line, late;

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
	cfg_set_validate_func(cfg, "service|tcpwrap-name", v_line);
	cfg_set_validate_func(cfg, "service|backend", v_line);
	cfg_set_validate_func(cfg, "service|socket-type", v_word);
	cfg_set_validate_func(cfg, "service|internal", v_word);
	cfg_set_validate_func(cfg, "hosts-allow", v_line);
	cfg_set_validate_func(cfg, "hosts-deny", v_line);
	cfg_set_validate_func(cfg, "service", v_service);

	if (memchr(buf, '\0', len) != NULL) {
		conf_error(0, "cannot read: the file contains a NUL byte");
		goto done;
	}
	if ((line = conftext_strip_comments(buf)) != 0) {
		conf_error(line, "unterminated comment");
		goto done;
	}
	P.nopens = conftext_section_lines(buf, &P.opens, &late);
	P.eager = !late;
	P.flags = flags;
	P.lastline = 1;
	for (i = 0; i < len; i++)
		if (buf[i] == '\n' && i + 1 < len)
			P.lastline++;
	if ((p = realloc(buf, len + sizeof(tail))) == NULL)
		fatal("realloc");
	buf = p;
	memcpy(buf + len, tail, sizeof(tail));

	/* Looked up once: every service without "user" runs as soad. */
	P.euid = geteuid();
	P.egid = getegid();
	P.euser = (pw = getpwuid(P.euid)) != NULL ? xstrdup(pw->pw_name) :
	    NULL;
	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		fatal("calloc");
	P.cf = cf;
	r = cfg_parse_buf(cfg, buf);
	if (P.unclosed) {
		conf_error(P.lastline, "missing \"}\" at the end of the file");
		goto done;
	}
	if (r != CFG_SUCCESS) {
		/* libconfuse stops at its first error. */
		if (conf_errors() == 0)
			conf_error(0, "cannot parse the file");
		goto done;
	}

	cf->cf_hosts_allow = hosts_file(cfg, "hosts-allow");
	cf->cf_hosts_deny = hosts_file(cfg, "hosts-deny");
	cf->cf_timeout = opt_int(cfg, "timeout");
	cf->cf_kill_timeout = opt_int(cfg, "kill-timeout");
	cf->cf_backlog = (int)opt_int(cfg, "backlog");
	cf->cf_stop_signal = conf_signal_parse(opt_str(cfg, "stop-signal"));
	cf->cf_rate_pause = opt_int(cfg, "rate-pause");
	/* With -i, the services may all come from the inetd.conf. */
	if (P.nsecs == 0 && !(flags & CONF_GLOBALS_ONLY))
		conf_error(P.lastline, "no service defined");
	for (i = 0; !P.eager && i < P.nsecs; i++)
		if (!P.secs[i].se_dup)
			svc_append(build_service(cfg, &P.secs[i], flags));
	P.building = NULL;
	conf_check_addresses(cf);

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
	char		*buf;

	memset(&P, 0, sizeof(P));
	conf_errors_begin();
	if (text == NULL)
		conf_error(0, "cannot read");
	else if (len > CONF_MAX_SIZE)
		conf_error(0, "cannot read: larger than %d MiB",
		    CONF_MAX_SIZE >> 20);
	else {
		if ((buf = malloc(len + 1)) == NULL)
			fatal("malloc");
		memcpy(buf, text, len);
		buf[len] = '\0';
		cf = parse(buf, len, flags);
	}
	if (cf != NULL)
		cf->cf_file = xstrdup(name);
	free(P.opens);
	names_free();
	free(P.euser);
	free(P.pwkey);
	free(P.pw.pw_name);
	free(P.grkey);
	memset(&P, 0, sizeof(P));
	if ((*nerr = conf_errors_end(name)) > 0) {
		conf_free(cf);
		cf = NULL;
	}
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
		conf_errors_begin();
		conf_error(0, "%s", err);
		*nerr = conf_errors_end(file);
		return NULL;
	}
	cf = conf_load_buf(file, buf, len, flags, nerr);
	free(buf);
	return cf;
}
