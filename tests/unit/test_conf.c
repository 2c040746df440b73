/*
 * Unit tests for conf.c: conf_load() on real temp files.  Each test
 * writes a config with mkstemp, loads it with stderr redirected to a
 * second temp file, and checks the resulting struct conf or the exact
 * "FILE:LINE: message" lines.  Needs the users and groups every Debian
 * system has: root, daemon, nobody (the user tests need root).
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "soad.h"

static char	 confpath[64];	/* the config of the last load() */
static char	*errtext;	/* what conf_load printed on stderr */

static void
write_all(int fd, const char *s, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, s, len)) == -1)
			fail_msg("write: %s", strerror(errno));
		s += n;
		len -= (size_t)n;
	}
}

/* Load PATH with stderr captured into errtext. */
static struct conf *
load_path(const char *path, int flags, int *nerr)
{
	char		 errpath[] = "/tmp/soad-unit-err-XXXXXX";
	struct conf	*cf;
	struct stat	 st;
	int		 errfd, saved;
	ssize_t		 n;

	if ((errfd = mkstemp(errpath)) == -1)
		fail_msg("mkstemp: %s", strerror(errno));
	unlink(errpath);
	fflush(stderr);
	if ((saved = dup(STDERR_FILENO)) == -1 ||
	    dup2(errfd, STDERR_FILENO) == -1)
		fail_msg("dup: %s", strerror(errno));
	*nerr = -1;
	cf = conf_load(path, flags, nerr);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	free(errtext);
	if (fstat(errfd, &st) == -1 ||
	    (errtext = calloc(1, (size_t)st.st_size + 1)) == NULL)
		fail_msg("fstat: %s", strerror(errno));
	n = pread(errfd, errtext, (size_t)st.st_size, 0);
	if (n != st.st_size)
		fail_msg("pread: %s", strerror(errno));
	close(errfd);
	return cf;
}

/* Write TEXT to a fresh temp file and load it. */
static struct conf *
load(const char *text, int flags, int *nerr)
{
	struct conf	*cf;
	int		 fd;

	strcpy(confpath, "/tmp/soad-unit-conf-XXXXXX");
	if ((fd = mkstemp(confpath)) == -1)
		fail_msg("mkstemp: %s", strerror(errno));
	write_all(fd, text, strlen(text));
	close(fd);
	cf = load_path(confpath, flags, nerr);
	unlink(confpath);
	return cf;
}

/* A config that must load cleanly: no error, nothing on stderr. */
static struct conf *
load_ok(const char *text, int flags)
{
	struct conf	*cf;
	int		 nerr;

	cf = load(text, flags, &nerr);
	if (cf == NULL || nerr != 0 || *errtext != '\0')
		fail_msg("config refused (%d errors):\n%s", nerr, errtext);
	return cf;
}

/*
 * A config that must be refused with exactly WANT on stderr, where
 * "FILE:" stands for the temp file's path.
 */
static void
load_bad(const char *text, int flags, int nwant, const char *want)
{
	struct conf	*cf;
	const char	*p, *q;
	char		*exp, *e;
	int		 nerr;

	cf = load(text, flags, &nerr);
	if ((exp = malloc(strlen(want) * 8 + 1)) == NULL)
		fail_msg("malloc");
	for (p = want, e = exp; (q = strstr(p, "FILE:")) != NULL;
	    p = q + 5) {
		memcpy(e, p, (size_t)(q - p));
		e += q - p;
		e += sprintf(e, "%s:", confpath);
	}
	strcpy(e, p);
	if (cf != NULL) {
		conf_free(cf);
		fail_msg("config accepted, wanted:\n%s", exp);
	}
	if (strcmp(errtext, exp) != 0)
		fail_msg("stderr:\n%s\nwanted:\n%s", errtext, exp);
	free(exp);
	assert_int_equal(nerr, nwant);
}

static struct svc_conf *
svc(struct conf *cf, const char *name)
{
	size_t	i;

	for (i = 0; i < cf->cf_nsvcs; i++)
		if (strcmp(cf->cf_svcs[i]->sc_name, name) == 0)
			return cf->cf_svcs[i];
	fail_msg("no service %s", name);
	return NULL;
}

/* A copy: conf_load's own getpwnam() calls reuse libc's static buffer. */
static struct passwd
user(const char *name)
{
	struct passwd	*pw;

	if ((pw = getpwnam(name)) == NULL)
		fail_msg("this system has no user %s", name);
	return *pw;
}

static gid_t
group(const char *name)
{
	struct group	*gr;

	if ((gr = getgrnam(name)) == NULL)
		fail_msg("this system has no group %s", name);
	return gr->gr_gid;
}

static void
need_root(void)
{
	if (geteuid() != 0)
		skip();
}

static void
assert_strv(char **v, const char **want)
{
	size_t	i;

	for (i = 0; want[i] != NULL; i++) {
		assert_non_null(v[i]);
		assert_string_equal(v[i], want[i]);
	}
	assert_null(v[i]);
}

static void
assert_limit(const struct svc_conf *sc, enum limit_kind k, int set,
    rlim_t v)
{
	assert_int_equal(sc->sc_limits[k].lm_set, set);
	if (set)
		assert_true(sc->sc_limits[k].lm_value == v);
}

static int
teardown(void **state)
{
	(void)state;
	free(errtext);
	errtext = NULL;
	return 0;
}

static void
test_defaults(void **state)
{
	static const char	*argv[] = { "/bin/true", NULL };
	static const char	*env[] = { NULL };
	struct conf		*cf;
	struct svc_conf		*sc;
	struct passwd		*pw;
	int			 k;

	(void)state;
	cf = load_ok(
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n", CONF_CHECK_FILES);
	assert_string_equal(cf->cf_file, confpath);
	assert_int_equal(cf->cf_nsvcs, 1);
	sc = cf->cf_svcs[0];
	assert_string_equal(sc->sc_name, "a");
	assert_int_equal(sc->sc_line, 4);
	assert_int_equal(sc->sc_timeout, 300);
	assert_int_equal(sc->sc_kill_timeout, 10);
	assert_int_equal(sc->sc_backlog, 1024);
	assert_int_equal(sc->sc_stop_signal, SIGTERM);
	assert_int_equal(sc->sc_sock_mode, 0660);
	assert_int_equal(sc->sc_umask, 022);
	assert_string_equal(sc->sc_dir, "/");
	assert_int_equal(sc->sc_fd0, 0);
	assert_string_equal(sc->sc_server, "/bin/true");
	assert_strv(sc->sc_argv, argv);
	assert_strv(sc->sc_env, env);
	for (k = 0; k < LIM_COUNT; k++)
		assert_limit(sc, (enum limit_kind)k, 0, 0);
	/* No user: soad's own, without switching. */
	assert_int_equal(sc->sc_setuser, 0);
	assert_int_equal(sc->sc_uid, geteuid());
	assert_int_equal(sc->sc_gid, getegid());
	assert_int_equal(sc->sc_sock_uid, geteuid());
	assert_int_equal(sc->sc_sock_gid, getegid());
	if ((pw = getpwuid(geteuid())) != NULL)
		assert_string_equal(sc->sc_user, pw->pw_name);
	/* One dual-stack listener named after the service. */
	assert_int_equal(sc->sc_nlisten, 1);
	assert_string_equal(sc->sc_listen[0].lc_fdname, "a");
	assert_int_equal(sc->sc_listen[0].lc_line, 2);
	assert_int_equal(sc->sc_listen[0].lc_addr.ad_family, AF_INET6);
	assert_int_equal(sc->sc_listen[0].lc_addr.ad_any, 1);
	assert_int_equal(addr_port(&sc->sc_listen[0].lc_addr), 8080);
	conf_free(cf);
}

static const char inherit_conf[] =
    "timeout = 60\n"
    "stop-signal = \"INT\"\n"
    "kill-timeout = 5\n"
    "backlog = 16\n"
    "user = \"nobody\"\n"
    "socket-user = \"daemon\"\n"
    "socket-group = \"root\"\n"
    "socket-mode = \"0600\"\n"
    "umask = \"077\"\n"
    "directory = \"/tmp\"\n"
    "environment = { \"A=1\", \"B=two words\" }\n"
    "fd0 = yes\n"
    "limit-nofile = 4096\n"
    "limit-nproc = unlimited\n"
    "limit-core = 0\n"
    "limit-as = 1073741824\n"
    "service inherit {\n"
    "\tlisten = { \"/tmp/soad-unit-inherit.sock\" }\n"
    "\tserver = \"/bin/true\"\n"
    "}\n"
    "service override {\n"
    "\tlisten = { \"/tmp/soad-unit-override.sock\" }\n"
    "\tserver = \"/bin/true\"\n"
    "\ttimeout = 0\n"
    "\tstop-signal = \"9\"\n"
    "\tkill-timeout = 0\n"
    "\tbacklog = 65535\n"
    "\tuser = \"daemon:root\"\n"
    "\tsocket-user = \"root\"\n"
    "\tsocket-group = \"daemon\"\n"
    "\tsocket-mode = \"0666\"\n"
    "\tumask = \"0\"\n"
    "\tdirectory = \"/\"\n"
    "\tenvironment = { \"C=3\" }\n"
    "\tfd0 = no\n"
    "\tlimit-nofile = 1024\n"
    "\tlimit-nproc = 100\n"
    "\tlimit-core = unlimited\n"
    "\tlimit-as = infinity\n"
    "}\n"
    "service lists {\n"
    "\tlisten = { \"/tmp/soad-unit-lists.sock\" }\n"
    "\tserver = \"/bin/true\"\n"
    "\targs = { \"true\", \"-v\", \"\" }\n"
    "\tenvironment = {}\n"
    "}\n";

static void
test_inherit(void **state)
{
	static const char	*env[] = { "A=1", "B=two words", NULL };
	static const char	*argv[] = { "/bin/true", NULL };
	struct conf		*cf;
	struct svc_conf		*sc;
	struct passwd		 nobody;

	(void)state;
	need_root();
	nobody = user("nobody");
	cf = load_ok(inherit_conf, CONF_CHECK_FILES);
	assert_int_equal(cf->cf_nsvcs, 3);
	sc = svc(cf, "inherit");
	assert_int_equal(sc->sc_timeout, 60);
	assert_int_equal(sc->sc_stop_signal, SIGINT);
	assert_int_equal(sc->sc_kill_timeout, 5);
	assert_int_equal(sc->sc_backlog, 16);
	assert_int_equal(sc->sc_setuser, 1);
	assert_string_equal(sc->sc_user, "nobody");
	assert_int_equal(sc->sc_uid, nobody.pw_uid);
	assert_int_equal(sc->sc_gid, nobody.pw_gid);
	assert_int_equal(sc->sc_sock_uid, user("daemon").pw_uid);
	assert_int_equal(sc->sc_sock_gid, 0);
	assert_int_equal(sc->sc_sock_mode, 0600);
	assert_int_equal(sc->sc_umask, 077);
	assert_string_equal(sc->sc_dir, "/tmp");
	assert_strv(sc->sc_env, env);
	assert_int_equal(sc->sc_fd0, 1);
	assert_strv(sc->sc_argv, argv);
	assert_limit(sc, LIM_NOFILE, 1, 4096);
	assert_limit(sc, LIM_NPROC, 1, RLIM_INFINITY);
	assert_limit(sc, LIM_CORE, 1, 0);
	assert_limit(sc, LIM_AS, 1, 1073741824);
	conf_free(cf);
}

static void
test_override(void **state)
{
	static const char	*env[] = { "C=3", NULL };
	struct conf		*cf;
	struct svc_conf		*sc;
	struct passwd		 daemon_pw;

	(void)state;
	need_root();
	daemon_pw = user("daemon");
	cf = load_ok(inherit_conf, CONF_CHECK_FILES);
	sc = svc(cf, "override");
	assert_int_equal(sc->sc_timeout, 0);
	assert_int_equal(sc->sc_stop_signal, SIGKILL);
	assert_int_equal(sc->sc_kill_timeout, 0);
	assert_int_equal(sc->sc_backlog, 65535);
	assert_int_equal(sc->sc_setuser, 1);
	assert_string_equal(sc->sc_user, "daemon");
	assert_int_equal(sc->sc_uid, daemon_pw.pw_uid);
	assert_int_equal(sc->sc_gid, 0);
	assert_int_equal(sc->sc_sock_uid, 0);
	assert_int_equal(sc->sc_sock_gid, group("daemon"));
	assert_int_equal(sc->sc_sock_mode, 0666);
	assert_int_equal(sc->sc_umask, 0);
	assert_string_equal(sc->sc_dir, "/");
	assert_strv(sc->sc_env, env);
	assert_int_equal(sc->sc_fd0, 0);
	assert_limit(sc, LIM_NOFILE, 1, 1024);
	assert_limit(sc, LIM_NPROC, 1, 100);
	assert_limit(sc, LIM_CORE, 1, RLIM_INFINITY);
	assert_limit(sc, LIM_AS, 1, RLIM_INFINITY);
	conf_free(cf);
}

/* Lists are replaced whole: an empty list in a service clears it. */
static void
test_lists(void **state)
{
	static const char	*argv[] = { "true", "-v", "", NULL };
	static const char	*env[] = { NULL };
	struct conf		*cf;
	struct svc_conf		*sc;

	(void)state;
	need_root();
	cf = load_ok(inherit_conf, CONF_CHECK_FILES);
	sc = svc(cf, "lists");
	assert_strv(sc->sc_argv, argv);
	assert_strv(sc->sc_env, env);
	assert_string_equal(sc->sc_server, "/bin/true");
	/* Everything else still comes from the global section. */
	assert_int_equal(sc->sc_timeout, 60);
	assert_int_equal(sc->sc_fd0, 1);
	conf_free(cf);
}

static void
test_listen_names(void **state)
{
	struct conf		*cf;
	struct svc_conf		*sc;
	struct listen_conf	*lc;

	(void)state;
	cf = load_ok(
	    "service web {\n"
	    "\tlisten = { \"http=127.0.0.1:8080\", \"/tmp/soad-unit.sock\",\n"
	    "\t    \"admin=/tmp/soad-unit-admin.sock\", \"[::1]:8081\",\n"
	    "\t    \"/tmp/soad-unit-a=b.sock\", \"x.y-z_0=8082\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n", 0);
	sc = cf->cf_svcs[0];
	assert_int_equal(sc->sc_nlisten, 6);
	lc = sc->sc_listen;
	assert_string_equal(lc[0].lc_fdname, "http");
	assert_int_equal(lc[0].lc_addr.ad_family, AF_INET);
	assert_int_equal(addr_port(&lc[0].lc_addr), 8080);
	assert_string_equal(lc[1].lc_fdname, "web");
	assert_string_equal(addr_path(&lc[1].lc_addr), "/tmp/soad-unit.sock");
	assert_string_equal(lc[2].lc_fdname, "admin");
	assert_string_equal(addr_path(&lc[2].lc_addr),
	    "/tmp/soad-unit-admin.sock");
	assert_string_equal(lc[3].lc_fdname, "web");
	assert_int_equal(lc[3].lc_addr.ad_family, AF_INET6);
	assert_int_equal(lc[3].lc_addr.ad_any, 0);
	/* A path holding '=' is not split. */
	assert_string_equal(lc[4].lc_fdname, "web");
	assert_string_equal(addr_path(&lc[4].lc_addr),
	    "/tmp/soad-unit-a=b.sock");
	assert_string_equal(lc[5].lc_fdname, "x.y-z_0");
	assert_int_equal(lc[5].lc_addr.ad_any, 1);
	/* A list spread over lines is reported at its last line. */
	assert_int_equal(lc[0].lc_line, 4);
	conf_free(cf);
}

static void
test_users(void **state)
{
	struct conf	*cf;
	struct passwd	 nobody, daemon_pw;

	(void)state;
	need_root();
	nobody = user("nobody");
	daemon_pw = user("daemon");
	cf = load_ok(
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tuser = \"root:daemon\"\n"
	    "}\n"
	    "service b {\n"
	    "\tlisten = { \"8081\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tuser = \"nobody\"\n"
	    "}\n"
	    "service c {\n"
	    "\tlisten = { \"8082\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tuser = \"daemon:0\"\n"
	    "\tsocket-user = \"nobody\"\n"
	    "}\n"
	    "service d {\n"
	    "\tlisten = { \"8083\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tuser = \"root:12345\"\n"
	    "\tsocket-group = \"4321\"\n"
	    "}\n", CONF_CHECK_FILES);
	assert_int_equal(svc(cf, "a")->sc_setuser, 1);
	assert_string_equal(svc(cf, "a")->sc_user, "root");
	assert_int_equal(svc(cf, "a")->sc_uid, 0);
	assert_int_equal(svc(cf, "a")->sc_gid, group("daemon"));
	/* The socket belongs to the service's user and group by default. */
	assert_int_equal(svc(cf, "a")->sc_sock_uid, 0);
	assert_int_equal(svc(cf, "a")->sc_sock_gid, group("daemon"));

	assert_string_equal(svc(cf, "b")->sc_user, "nobody");
	assert_int_equal(svc(cf, "b")->sc_uid, nobody.pw_uid);
	assert_int_equal(svc(cf, "b")->sc_gid, nobody.pw_gid);
	assert_int_equal(svc(cf, "b")->sc_sock_uid, nobody.pw_uid);
	assert_int_equal(svc(cf, "b")->sc_sock_gid, nobody.pw_gid);

	assert_int_equal(svc(cf, "c")->sc_uid, daemon_pw.pw_uid);
	assert_int_equal(svc(cf, "c")->sc_gid, 0);
	/* socket-user brings its own primary group along. */
	assert_int_equal(svc(cf, "c")->sc_sock_uid, nobody.pw_uid);
	assert_int_equal(svc(cf, "c")->sc_sock_gid, nobody.pw_gid);

	/* Numeric groups need not exist. */
	assert_int_equal(svc(cf, "d")->sc_gid, 12345);
	assert_int_equal(svc(cf, "d")->sc_sock_uid, 0);
	assert_int_equal(svc(cf, "d")->sc_sock_gid, 4321);
	conf_free(cf);
}

static void
test_bad_users(void **state)
{
	(void)state;
	need_root();
	load_bad(
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tuser = \"soad-no-such-user\"\n"
	    "}\n"
	    "service b {\n"
	    "\tlisten = { \"8081\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tuser = \"root:soad-no-such-group\"\n"
	    "\tsocket-user = \"soad-no-such-user\"\n"
	    "\tsocket-group = \"soad-no-such-group\"\n"
	    "}\n"
	    "service c {\n"
	    "\tlisten = { \"8082\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tuser = \"root:-1\"\n"
	    "}\n"
	    "service d {\n"
	    "\tlisten = { \"8083\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tuser = \"root:4294967295\"\n"
	    "\tsocket-group = \"-5\"\n"
	    "}\n", CONF_CHECK_FILES, 7,
	    "FILE:4: service a: no such user \"soad-no-such-user\"\n"
	    "FILE:9: service b: no such group \"soad-no-such-group\"\n"
	    "FILE:10: service b: no such socket-user \"soad-no-such-user\"\n"
	    "FILE:11: service b: no such socket-group "
	    "\"soad-no-such-group\"\n"
	    "FILE:16: service c: no such group \"-1\"\n"
	    "FILE:21: service d: no such group \"4294967295\"\n"
	    "FILE:22: service d: no such socket-group \"-5\"\n");
}

static void
test_bad_user_empty_group(void **state)
{
	(void)state;
	need_root();
	load_bad(
	    "service e {\n"
	    "\tlisten = { \"8084\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tuser = \"root:\"\n"
	    "}\n", CONF_CHECK_FILES, 1,
	    "FILE:4: service e: no such group \"\"\n");
}

/* A bad global value is reported once, at its own line. */
static void
test_bad_global_once(void **state)
{
	(void)state;
	need_root();
	load_bad(
	    "user = \"soad-no-such-user\"\n"
	    "directory = \"/nonexistent/soad\"\n"
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service b {\n"
	    "\tlisten = { \"8081\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service c {\n"
	    "\tlisten = { \"8082\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tuser = \"nobody\"\n"
	    "\tdirectory = \"/\"\n"
	    "}\n", CONF_CHECK_FILES, 2,
	    "FILE:1: no such user \"soad-no-such-user\"\n"
	    "FILE:2: directory /nonexistent/soad: No such file or directory\n");
}

static void
test_signal_parse(void **state)
{
	char	buf[32];

	(void)state;
	assert_int_equal(conf_signal_parse("TERM"), SIGTERM);
	assert_int_equal(conf_signal_parse("SIGTERM"), SIGTERM);
	assert_int_equal(conf_signal_parse("term"), SIGTERM);
	assert_int_equal(conf_signal_parse("SigTerm"), SIGTERM);
	assert_int_equal(conf_signal_parse("INT"), SIGINT);
	assert_int_equal(conf_signal_parse("QUIT"), SIGQUIT);
	assert_int_equal(conf_signal_parse("HUP"), SIGHUP);
	assert_int_equal(conf_signal_parse("USR1"), SIGUSR1);
	assert_int_equal(conf_signal_parse("KILL"), SIGKILL);
	assert_int_equal(conf_signal_parse("9"), 9);
	assert_int_equal(conf_signal_parse("1"), 1);
	assert_int_equal(conf_signal_parse("64"), NSIG > 64 ? 64 : -1);
	assert_int_equal(conf_signal_parse("0"), -1);
	assert_int_equal(conf_signal_parse("65"), -1);
	assert_int_equal(conf_signal_parse("99999999999999999999"), -1);
	assert_int_equal(conf_signal_parse("BOGUS"), -1);
	assert_int_equal(conf_signal_parse("SIGBOGUS"), -1);
	assert_int_equal(conf_signal_parse(""), -1);
	assert_int_equal(conf_signal_parse("SIG"), -1);
	assert_int_equal(conf_signal_parse("-9"), -1);
	assert_int_equal(conf_signal_parse(" 9"), -1);
	assert_int_equal(conf_signal_parse("9x"), -1);
	assert_int_equal(conf_signal_parse("TERM "), -1);

	assert_string_equal(conf_signal_name(SIGTERM, buf, sizeof(buf)),
	    "SIGTERM");
	assert_string_equal(conf_signal_name(SIGKILL, buf, sizeof(buf)),
	    "SIGKILL");
	assert_string_equal(conf_signal_name(40, buf, sizeof(buf)),
	    "signal 40");
}

/* Three independent mistakes: three errors, each at its own line. */
static void
test_three_errors(void **state)
{
	(void)state;
	load_bad(
	    "service a {\n"
	    "\tlisten = { \"0\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\ttimeout = -1\n"
	    "\tstop-signal = \"BOGUS\"\n"
	    "}\n", CONF_CHECK_FILES, 3,
	    "FILE:2: listen address \"0\": port must be a number from 1 to "
	    "65535\n"
	    "FILE:4: timeout must be from 0 to 31536000, not -1\n"
	    "FILE:5: stop-signal: unknown signal \"BOGUS\" (use a name such "
	    "as TERM or a number)\n");
}

static void
test_missing_keys(void **state)
{
	(void)state;
	load_bad(
	    "service a {\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service b {\n"
	    "\tlisten = { \"8081\" }\n"
	    "}\n"
	    "service c {\n"
	    "\tlisten = {}\n"
	    "\tserver = \"/bin/true\"\n"
	    "\targs = {}\n"
	    "}\n", CONF_CHECK_FILES, 4,
	    "FILE:3: service a: no listen address\n"
	    "FILE:6: service b: no server given\n"
	    "FILE:11: service c: no listen address\n"
	    "FILE:11: service c: args needs at least argv[0]\n");
}

static void
test_addresses(void **state)
{
	(void)state;
	load_bad(
	    "service a {\n"
	    "\tlisten = { \"8080\", \"/tmp/soad-unit-a.sock\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service b {\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tlisten = { \"*:8080\" }\n"
	    "}\n"
	    "service c {\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tlisten = { \"127.0.0.1:8080\", \"x=/tmp/soad-unit-a.sock\" }\n"
	    "}\n"
	    "service d {\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tlisten = { \"127.0.0.1:9090\", \"[::1]:9090\", \"9091\",\n"
	    "\t    \"127.0.0.1:9090\" }\n"
	    "}\n", 0, 5,
	    "FILE:7: service b: address *:8080 is already used by service a\n"
	    "FILE:11: service c: address 127.0.0.1:8080 overlaps *:8080 of "
	    "service a\n"
	    "FILE:11: service c: address /tmp/soad-unit-a.sock is already "
	    "used by service a\n"
	    "FILE:11: service c: address 127.0.0.1:8080 overlaps *:8080 of "
	    "service b\n"
	    "FILE:16: service d: address 127.0.0.1:9090 is listed twice\n");
}

static void
test_listen_limits(void **state)
{
	char	*text, *p, want[SOAD_FDNAME_MAX + 2];
	int	 i;

	(void)state;
	/* SOAD_MAXLISTEN addresses are fine, one more is not. */
	if ((text = malloc(8192)) == NULL)
		fail_msg("malloc");
	p = text + sprintf(text, "service a {\n\tserver = \"/bin/true\"\n"
	    "\tlisten = {");
	for (i = 0; i < SOAD_MAXLISTEN; i++)
		p += sprintf(p, "%s\"%d\"", i == 0 ? " " : ", ", 20000 + i);
	strcpy(p, " }\n}\n");
	conf_free(load_ok(text, 0));
	strcpy(p, ", \"19999\" }\n}\n");
	load_bad(text, 0, 1, "FILE:3: more than 64 listen addresses\n");

	/* A NAME= prefix is at most 255 bytes. */
	p = text + sprintf(text, "service a {\n\tserver = \"/bin/true\"\n"
	    "\tlisten = { \"");
	memset(p, 'n', SOAD_FDNAME_MAX);
	strcpy(p + SOAD_FDNAME_MAX, "=80\" }\n}\n");
	conf_free(load_ok(text, 0));
	memset(p, 'n', SOAD_FDNAME_MAX + 1);
	strcpy(p + SOAD_FDNAME_MAX + 1, "=80\" }\n}\n");
	memset(want, 'n', SOAD_FDNAME_MAX + 1);
	want[SOAD_FDNAME_MAX + 1] = '\0';
	if ((p = strdup(text)) == NULL)
		fail_msg("strdup");
	snprintf(text, 8192, "FILE:3: listen \"%s=80\": name longer than "
	    "255 bytes\n", want);
	load_bad(p, 0, 1, text);
	free(p);
	free(text);
}

static void
test_service_names(void **state)
{
	char	text[1024], want[1024], name[SOAD_FDNAME_MAX + 2];

	(void)state;
	load_bad(
	    "service \"a b\" {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service \"\" {\n"
	    "\tlisten = { \"8081\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service \"a:b\" {\n"
	    "\tlisten = { \"8082\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n", 0, 3,
	    "FILE:4: service name \"a b\" must be 1 to 255 characters of "
	    "[A-Za-z0-9_.-]\n"
	    "FILE:8: service name \"\" must be 1 to 255 characters of "
	    "[A-Za-z0-9_.-]\n"
	    "FILE:12: service name \"a:b\" must be 1 to 255 characters of "
	    "[A-Za-z0-9_.-]\n");

	memset(name, 'n', sizeof(name));
	name[SOAD_FDNAME_MAX] = '\0';
	snprintf(text, sizeof(text), "service %s {\n\tlisten = { \"80\" }\n"
	    "\tserver = \"/bin/true\"\n}\n", name);
	conf_free(load_ok(text, 0));
	name[SOAD_FDNAME_MAX] = 'n';
	name[SOAD_FDNAME_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "service %s {\n\tlisten = { \"80\" }\n"
	    "\tserver = \"/bin/true\"\n}\n", name);
	snprintf(want, sizeof(want), "FILE:4: service name \"%s\" must be 1 "
	    "to 255 characters of [A-Za-z0-9_.-]\n", name);
	load_bad(text, 0, 1, want);
}

static void
test_per_key_errors(void **state)
{
	(void)state;
	load_bad(
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"bin/true\"\n"
	    "\ttimeout = 31536001\n"
	    "\tkill-timeout = 86401\n"
	    "\tbacklog = 0\n"
	    "\tstop-signal = \"65\"\n"
	    "\tsocket-mode = \"01777\"\n"
	    "\tumask = \"0999\"\n"
	    "\tlimit-nofile = \"12abc\"\n"
	    "\tlimit-core = \"-1\"\n"
	    "\tenvironment = { \"1A=x\", \"=x\", \"A-B=x\", \"NOEQUALS\",\n"
	    "\t    \"LISTEN_FDS=3\", \"OK=fine\" }\n"
	    "}\n", CONF_CHECK_FILES, 14,
	    "FILE:3: server \"bin/true\" must be an absolute path\n"
	    "FILE:4: timeout must be from 0 to 31536000, not 31536001\n"
	    "FILE:5: kill-timeout must be from 0 to 86400, not 86401\n"
	    "FILE:6: backlog must be from 1 to 65535, not 0\n"
	    "FILE:7: stop-signal: unknown signal \"65\" (use a name such as "
	    "TERM or a number)\n"
	    "FILE:8: socket-mode must be an octal mode from 0 to 0777, not "
	    "\"01777\"\n"
	    "FILE:9: umask must be an octal mode from 0 to 0777, not "
	    "\"0999\"\n"
	    "FILE:10: limit-nofile must be a number or \"unlimited\", not "
	    "\"12abc\"\n"
	    "FILE:11: limit-core must be a number or \"unlimited\", not "
	    "\"-1\"\n"
	    "FILE:13: environment \"1A=x\" must be NAME=value\n"
	    "FILE:13: environment \"=x\" must be NAME=value\n"
	    "FILE:13: environment \"A-B=x\" must be NAME=value\n"
	    "FILE:13: environment \"NOEQUALS\" must be NAME=value\n"
	    "FILE:13: environment \"LISTEN_FDS=3\": LISTEN_* is set by soad\n");
}

static void
test_octal_strict(void **state)
{
	static const char	*bad[] = { "-1", "+7", " 7", "7 ", "", "8",
	    "0x1ff", "1000" };
	char			 text[512], want[512];
	size_t			 i;
	struct conf		*cf;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "umask = \"%s\"\n"
		    "service a {\n\tlisten = { \"80\" }\n"
		    "\tserver = \"/bin/true\"\n}\n", bad[i]);
		snprintf(want, sizeof(want), "FILE:1: umask must be an octal "
		    "mode from 0 to 0777, not \"%s\"\n", bad[i]);
		load_bad(text, 0, 1, want);
	}
	cf = load_ok("umask = \"0000777\"\nsocket-mode = 0\n"
	    "service a {\n\tlisten = { \"80\" }\n"
	    "\tserver = \"/bin/true\"\n}\n", 0);
	assert_int_equal(cf->cf_svcs[0]->sc_umask, 0777);
	assert_int_equal(cf->cf_svcs[0]->sc_sock_mode, 0);
	conf_free(cf);
}

static void
test_check_files(void **state)
{
	static const char	 text[] =
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/nonexistent/soad-server\"\n"
	    "\tdirectory = \"/nonexistent/soad\"\n"
	    "}\n"
	    "service b {\n"
	    "\tlisten = { \"8081\" }\n"
	    "\tserver = \"/etc/passwd\"\n"
	    "\tdirectory = \"/etc/passwd\"\n"
	    "}\n"
	    "service c {\n"
	    "\tlisten = { \"8082\" }\n"
	    "\tserver = \"/tmp\"\n"
	    "}\n";
	struct conf		*cf;

	(void)state;
	/* Without CONF_CHECK_FILES nothing on disk is looked at. */
	cf = load_ok(text, 0);
	assert_string_equal(svc(cf, "a")->sc_dir, "/nonexistent/soad");
	conf_free(cf);
	load_bad(text, CONF_CHECK_FILES, 5,
	    "FILE:3: service a: server /nonexistent/soad-server: No such file "
	    "or directory\n"
	    "FILE:4: service a: directory /nonexistent/soad: No such file or "
	    "directory\n"
	    "FILE:8: service b: server /etc/passwd is not executable\n"
	    "FILE:9: service b: directory /etc/passwd is not a directory\n"
	    "FILE:13: service c: server /tmp is not a regular file\n");
}

static void
test_relative_directory(void **state)
{
	char		 cwd[PATH_MAX], want[PATH_MAX + 8];
	struct conf	*cf;

	(void)state;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fail_msg("getcwd: %s", strerror(errno));
	snprintf(want, sizeof(want), "%s/.", cwd);
	cf = load_ok("directory = \".\"\n"
	    "service a {\n\tlisten = { \"80\" }\n"
	    "\tserver = \"/bin/true\"\n}\n", CONF_CHECK_FILES);
	assert_string_equal(cf->cf_svcs[0]->sc_dir, want);
	conf_free(cf);
}

/* libconfuse 3.3 miscounts lines after comments; soad must not. */
static void
test_comments(void **state)
{
	static const char	*argv[] = { "true", "http://x/y", "#no",
	    "//no", "/*no*/", NULL };
	struct conf		*cf;

	(void)state;
	load_bad(
	    "# comment\n"
	    "// comment\n"
	    "/* block\n"
	    "   comment */ timeout = 5 # trailing\n"
	    "service a {\n"
	    "\tlisten = { \"8080\" } # x\n"
	    "\tserver = \"/bin/true\" // y\n"
	    "\tbogus = 1\n"
	    "}\n", 0, 1,
	    "FILE:8: no such option 'bogus'\n");
	cf = load_ok(
	    "#\n"
	    "###\n"
	    "service a { # a comment { with braces\n"
	    "\tlisten = { \"8080\" } /* } */\n"
	    "\tserver = /bin/true\n"
	    "\targs = { true, http://x/y, \"#no\", '//no', \"/*no*/\" }\n"
	    "}\n"
	    "/* the end */", 0);
	assert_strv(cf->cf_svcs[0]->sc_argv, argv);
	assert_int_equal(cf->cf_svcs[0]->sc_line, 7);
	conf_free(cf);
	load_bad(
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\t/* server = \"/bin/true\"\n"
	    "}\n", 0, 1,
	    "FILE:3: unterminated comment\n");
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	/* libconfuse's own messages, at the right line. */
	load_bad(
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tfd0 = maybe\n"
	    "}\n", 0, 1,
	    "FILE:4: invalid boolean value for option 'fd0'\n");
	load_bad(
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service a {\n"
	    "\tlisten = { \"8081\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n", 0, 1,
	    "FILE:5: service a is already defined at line 1\n");
	load_bad(
	    "timeout = ten\n"
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n", 0, 1,
	    "FILE:1: timeout must be a decimal number, not \"ten\"\n");
	load_bad(
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "}\n", 0, 1,
	    "FILE:5: unexpected closing brace\n");
	/* An open string runs to the end of the file. */
	load_bad(
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\n"
	    "}\n", 0, 1,
	    "FILE:4: premature end of file\n");
	/* libconfuse itself accepts a file that ends inside a section. */
	load_bad(
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n", 0, 1,
	    "FILE:3: missing \"}\" at the end of the file\n");
	load_bad(
	    "service a {\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tlisten = { \"8080\"", 0, 1,
	    "FILE:3: missing \"}\" at the end of the file\n");
}

static void
test_no_service(void **state)
{
	(void)state;
	load_bad("", 0, 1, "FILE:1: no service defined\n");
	load_bad("timeout = 5\n\n", 0, 1, "FILE:2: no service defined\n");
}

static void
test_unreadable(void **state)
{
	struct conf	*cf;
	int		 nerr;

	(void)state;
	cf = load_path("/nonexistent/soad.conf", 0, &nerr);
	assert_null(cf);
	assert_int_equal(nerr, 1);
	assert_string_equal(errtext, "/nonexistent/soad.conf: cannot read: "
	    "No such file or directory\n");
	cf = load_path("/", 0, &nerr);
	assert_null(cf);
	assert_int_equal(nerr, 1);
	assert_string_equal(errtext, "/: cannot read: Is a directory\n");
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test_teardown(test_defaults, teardown),
		cmocka_unit_test_teardown(test_inherit, teardown),
		cmocka_unit_test_teardown(test_override, teardown),
		cmocka_unit_test_teardown(test_lists, teardown),
		cmocka_unit_test_teardown(test_listen_names, teardown),
		cmocka_unit_test_teardown(test_users, teardown),
		cmocka_unit_test_teardown(test_bad_users, teardown),
		cmocka_unit_test_teardown(test_bad_user_empty_group, teardown),
		cmocka_unit_test_teardown(test_bad_global_once, teardown),
		cmocka_unit_test(test_signal_parse),
		cmocka_unit_test_teardown(test_three_errors, teardown),
		cmocka_unit_test_teardown(test_missing_keys, teardown),
		cmocka_unit_test_teardown(test_addresses, teardown),
		cmocka_unit_test_teardown(test_listen_limits, teardown),
		cmocka_unit_test_teardown(test_service_names, teardown),
		cmocka_unit_test_teardown(test_per_key_errors, teardown),
		cmocka_unit_test_teardown(test_octal_strict, teardown),
		cmocka_unit_test_teardown(test_check_files, teardown),
		cmocka_unit_test_teardown(test_relative_directory, teardown),
		cmocka_unit_test_teardown(test_comments, teardown),
		cmocka_unit_test_teardown(test_syntax_errors, teardown),
		cmocka_unit_test_teardown(test_no_service, teardown),
		cmocka_unit_test_teardown(test_unreadable, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
