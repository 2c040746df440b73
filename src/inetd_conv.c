/*
 * soad -C: an inetd.conf rewritten as soad.conf.  The file is walked
 * line by line so its comments stay where they were: comment and blank
 * lines are copied, every other line is kept as a comment ("# " before
 * it) and followed by the section its entries make, one section per
 * line with one listen address per entry.  Nothing is written unless
 * the whole file parsed without errors.
 *
 * Every string value is written in single quotes: libconfuse replaces
 * ${NAME} in double-quoted ones, and in single quotes only \' and \\
 * need escaping.
 */
#include "config.h"

#include <sys/socket.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soad.h"

#define NAME_MAX_BASE	200	/* section names stay under 255 */


static void
put_str(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s != '\0'; s++) {
		if (*s == '\'' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

/* [A-Za-z0-9_.-] of S, others as '-'. */
static char *
clean_name(const char *s)
{
	char	*n, *p;

	if ((n = strndup(*s != '\0' ? s : "service", NAME_MAX_BASE)) == NULL)
		fatal("strndup");
	for (p = n; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' &&
		    *p != '.')
			*p = '-';
	return n;
}

static int
name_cmp(const void *a, const void *b)
{
	const struct inetd_group *const *x = a, *const *y = b;

	return strcmp((*x)->ig_name, (*y)->ig_name);
}

/* Marks in DUP[] every group whose name another group has too. */
static void
find_dups(struct inetd_group *g, size_t n, int *dup)
{
	struct inetd_group	**s;
	size_t		  i, j, k;

	if ((s = calloc(n + 1, sizeof(*s))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++)
		s[i] = &g[i];
	qsort(s, n, sizeof(*s), name_cmp);
	memset(dup, 0, n * sizeof(*dup));
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(s[i]->ig_name,
		    s[j]->ig_name) == 0; j++)
			;
		for (k = i; j - i > 1 && k < j; k++)
			dup[s[k] - g] = 1;
	}
	free(s);
}

/* NAME-SUFFIX, or NAME-lineN without a SUFFIX. */
static void
add_suffix(struct inetd_group *g, const char *suffix)
{
	char	*n;
	int	 r;

	if (suffix != NULL)
		r = asprintf(&n, "%s-%s", g->ig_name, suffix);
	else
		r = asprintf(&n, "%s-line%d", g->ig_name, g->ig_e->ie_line);
	if (r == -1)
		fatal("asprintf");
	free(g->ig_name);
	g->ig_name = n;
}

/*
 * Section names: the service's own, then "-PROTO" where two sections
 * share it, then "-lineN" where that is not enough.
 */
static void
name_groups(struct inetd_group *g, size_t n)
{
	const char	*svc;
	char		*p;
	int		*dup;
	size_t		 i;

	if ((dup = calloc(n + 1, sizeof(*dup))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		svc = g[i].ig_e->ie_service;
		if (g[i].ig_e->ie_family == AF_UNIX &&
		    (p = strrchr(svc, '/')) != NULL)
			svc = p + 1;
		g[i].ig_name = clean_name(svc);
	}
	find_dups(g, n, dup);
	for (i = 0; i < n; i++)
		if (dup[i]) {
			p = clean_name(g[i].ig_e->ie_proto);
			add_suffix(&g[i], p);
			free(p);
		}
	find_dups(g, n, dup);
	for (i = 0; i < n; i++)
		if (dup[i])
			add_suffix(&g[i], NULL);
	free(dup);
}

/*
 * The entries V[0..N) (as inetd_parse() makes them: a line's entries
 * together) as one group per line, named: *GP gets them, to free with
 * inetd_groups_free().  Returns how many.  soad -C and -i name the
 * sections of one file alike.
 */
size_t
inetd_groups(const struct inetd_entry *v, size_t n, struct inetd_group **gp)
{
	struct inetd_group	*g;
	size_t			 i, ng = 0;

	if ((g = calloc(n + 1, sizeof(*g))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		if (ng > 0 && g[ng - 1].ig_e->ie_line == v[i].ie_line) {
			g[ng - 1].ig_n++;
			continue;
		}
		g[ng].ig_e = &v[i];
		g[ng++].ig_n = 1;
	}
	name_groups(g, ng);
	*gp = g;
	return ng;
}

void
inetd_groups_free(struct inetd_group *g, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(g[i].ig_name);
	free(g);
}

/* The entry runs in pass mode: an inetd "wait" line, not internal. */
int
inetd_is_pass(const struct inetd_entry *e)
{
	return e->ie_wait && e->ie_internal == INETD_EXTERNAL;
}

/*
 * tcp_wrappers checks the entry's connections: soad checks the stream
 * connections it accepts (nowait and internal), and only if built with
 * libwrap.
 */
int
inetd_is_checked(const struct inetd_entry *e)
{
#ifdef HAVE_LIBWRAP
	return !inetd_is_pass(e) && e->ie_socktype == SOCK_STREAM;
#else
	(void)e;
	return 0;
#endif
}

/*
 * What the entry E asks for and soad does not do, as warnings: its line
 * still runs, without it.  soad -C and -i warn alike.
 */
/*
 * A tcpd line whose connections soad does not check itself (a wait or
 * dgram line, or no libwrap): tcpd runs as inetd would run it, so the
 * check still happens, never silently dropped.
 */
int
inetd_runs_tcpd(const struct inetd_entry *e)
{
	return e->ie_tcpwrap && e->ie_tcpd != NULL && !inetd_is_checked(e);
}

void
inetd_warn_unsupported(const struct inetd_entry *e)
{
	if (inetd_runs_tcpd(e))
		conf_warning(e->ie_line, "tcpd on this line: soad does not "
		    "check it itself, so %s runs as inetd would run it",
		    e->ie_tcpd);
	if (inetd_is_pass(e) && (e->ie_max_children ||
	    e->ie_max_per_minute || e->ie_max_per_minute_per_source ||
	    e->ie_max_children_per_source))
		conf_warning(e->ie_line, "limits on a wait line have no "
		    "soad.conf key; ignored");
#ifdef HAVE_LOGIN_CAP_H
	if (e->ie_class != NULL)
		conf_warning(e->ie_line, "login class \"%s\" has no soad.conf "
		    "key; kept as a comment", e->ie_class);
#endif
}

static void
put_limit(FILE *f, const char *key, int v)
{
	if (v > 0)
		fprintf(f, "\t%s = %d\n", key, v);
}

static void
put_section(FILE *f, const struct inetd_group *g)
{
	const struct inetd_entry	*e = g->ig_e;
	size_t				 i;
	int				 pass;

	pass = inetd_is_pass(e);
	fprintf(f, "service %s {\n\tlisten = { ", g->ig_name);
	for (i = 0; i < g->ig_n; i++) {
		if (i > 0)
			fputs(", ", f);
		put_str(f, g->ig_e[i].ie_listen);
	}
	fputs(" }\n", f);
	if (e->ie_socktype == SOCK_DGRAM)
		fputs("\tsocket-type = dgram\n", f);
	if (e->ie_internal != INETD_EXTERNAL)
		fprintf(f, "\tinternal = %s\n",
		    inetd_internal_name(e->ie_internal));
	else {
		fprintf(f, "\tmode = %s\n", pass ? "pass" : "nowait");
		if (pass)
			fputs("\tfd0 = yes\n", f);
		fputs("\tserver = ", f);
		put_str(f, inetd_runs_tcpd(e) ? e->ie_tcpd : e->ie_server);
		fputs("\n\targs = { ", f);
		for (i = 0; e->ie_argv[i] != NULL; i++) {
			if (i > 0)
				fputs(", ", f);
			put_str(f, i == 0 && inetd_runs_tcpd(e) ?
			    e->ie_tcpdarg0 : e->ie_argv[i]);
		}
		fputs(" }\n\tuser = ", f);
		if (e->ie_group != NULL) {
			char	*ug;

			if (asprintf(&ug, "%s:%s", e->ie_user,
			    e->ie_group) == -1)
				fatal("asprintf");
			put_str(f, ug);
			free(ug);
		} else
			put_str(f, e->ie_user);
		fputc('\n', f);
	}
	if (e->ie_family == AF_UNIX && e->ie_sockuser != NULL) {
		fputs("\tsocket-user = ", f);
		put_str(f, e->ie_sockuser);
		fputs("\n\tsocket-group = ", f);
		put_str(f, e->ie_sockgroup);
		fputs("\n\tsocket-mode = ", f);
		put_str(f, e->ie_sockmode);
		fputc('\n', f);
	}
	/*
	 * tcpwrap is yes by default: every checked line gets its daemon
	 * name.  A wait server accepts by itself and soad sees no
	 * datagram service's connections: nothing to check there.
	 */
	if (inetd_is_checked(e)) {
		if (e->ie_tcpwrap)
			fputs("\ttcpwrap = yes\n", f);
		fputs("\ttcpwrap-name = ", f);
		put_str(f, e->ie_wrapname);
		fputc('\n', f);
	}
	if (!pass) {
		put_limit(f, "max-children", e->ie_max_children);
		put_limit(f, "max-per-minute", e->ie_max_per_minute > 0 ?
		    e->ie_max_per_minute : INETD_DEFAULT_RATE);
		put_limit(f, "max-per-minute-per-source",
		    e->ie_max_per_minute_per_source);
		put_limit(f, "max-children-per-source",
		    e->ie_max_children_per_source);
	}
	inetd_warn_unsupported(e);
	if (e->ie_class != NULL)
		fprintf(f, "\t# login class: %s\n", e->ie_class);
	fputs("}\n", f);
}

/* The first non-blank of the line S..END (END if none). */
static const char *
skip_blanks(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++;
	return s;
}

/* A line continuing the entry above: blank first, then no comment. */
static int
continues(const char *s, const char *end)
{
	const char	*p = skip_blanks(s, end);

	return p != s && p != end && *p != '#';
}

/*
 * The soad.conf for V[0..N), parsed from TEXT (LEN bytes, not
 * NUL-terminated; a NUL byte would have been an error) of FILE, on F.  Warnings about what does not
 * convert go to conf.c's list.
 */
void
inetd_conv_write(FILE *f, const char *file, const char *text, size_t len,
    const struct inetd_entry *v, size_t n)
{
	struct inetd_group	*g;
	const char		*s, *end, *nl, *p;
	size_t			 ng, k = 0;
	int			 line = 0, pending = 0;

	ng = inetd_groups(v, n, &g);
	fprintf(f, "# soad.conf converted by soad -C from %s\n", file);
	for (s = text, end = text + len; s < end; s = nl + 1) {
		line++;
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		if (pending && !continues(s, nl)) {
			put_section(f, &g[k++]);
			pending = 0;
		}
		p = skip_blanks(s, nl);
		if (p == nl || *p == '#')
			fprintf(f, "%.*s\n", (int)(nl - s), s);
		else
			fprintf(f, "# %.*s\n", (int)(nl - s), s);
		if (k < ng && g[k].ig_e->ie_line == line)
			pending = 1;
	}
	if (pending)
		put_section(f, &g[k++]);
	inetd_groups_free(g, ng);
}

/*
 * soad -C FILE: the soad.conf on OUT if FILE has no error; every message
 * to conf.c's sink.  Returns the number of errors.
 */
int
inetd_convert(const char *file, int flags, FILE *out)
{
	struct inetd_entry	*v = NULL;
	char			*text, *obuf = NULL, err[256];
	size_t			 len, n = 0, olen = 0;
	FILE			*mem;
	int			 nerr;

	conf_errors_begin();
	if (conftext_read(file, &text, &len, err, sizeof(err)) == -1) {
		conf_error(0, "%s", err);
		return conf_errors_end(file);
	}
	if (inetd_parse(file, text, len, flags, &v, &n) == 0) {
		if ((mem = open_memstream(&obuf, &olen)) == NULL)
			fatal("open_memstream");
		inetd_conv_write(mem, file, text, len, v, n);
		if (fclose(mem) != 0)
			fatal("open_memstream");
	}
	inetd_free(v, n);
	free(text);
	if ((nerr = conf_errors_end(file)) == 0 && obuf != NULL &&
	    (fwrite(obuf, 1, olen, out) != olen || fflush(out) != 0))
		fatal("stdout");
	free(obuf);
	return nerr;
}
