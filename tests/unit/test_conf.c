/*
 * Unit tests for conf.c, conf_soad.c and sockpath.c: conf_load() on real
 * temp files.  Each test writes a config with mkstemp, loads it with
 * stderr redirected to a second temp file, and checks the resulting struct
 * conf or the exact "FILE:LINE: message" lines.  Needs the users and groups every Debian
 * system has: root, daemon, nobody (the user tests need root).
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
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
	assert_int_equal((sc->sc_limitset >> k) & 1, set);
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

/*
 * A global key may come after the services and still applies to each
 * one that does not set it (a service section keeps only its own keys).
 */
static void
test_late_globals(void **state)
{
	static const char	*env[] = { "LATE=1", NULL };
	static const char	*none[] = { NULL };
	static const char	 text[] =
	    "service a {\n"
	    "\tlisten = { \"127.0.0.1:7001\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service b {\n"
	    "\tlisten = { \"127.0.0.1:7002\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\ttimeout = 7\n"
	    "\tenvironment = {}\n"
	    "}\n"
	    "timeout = 42\n"
	    "environment = { \"LATE=1\" }\n"
	    "limit-core = 0\n";
	struct conf		*cf;

	(void)state;
	cf = load_ok(text, 0);
	assert_int_equal(svc(cf, "a")->sc_timeout, 42);
	assert_strv(svc(cf, "a")->sc_env, env);
	assert_limit(svc(cf, "a"), LIM_CORE, 1, 0);
	assert_int_equal(svc(cf, "b")->sc_timeout, 7);
	assert_strv(svc(cf, "b")->sc_env, none);
	assert_limit(svc(cf, "b"), LIM_CORE, 1, 0);
	assert_limit(svc(cf, "b"), LIM_AS, 0, 0);
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

/* Integer keys are decimal: a leading zero is no octal prefix. */
static void
test_decimal(void **state)
{
	struct conf	*cf;

	(void)state;
	cf = load_ok(
	    "timeout = 010\n"
	    "kill-timeout = 007\n"
	    "backlog = 0100\n"
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service b {\n"
	    "\tlisten = { \"8081\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\ttimeout = 0\n"
	    "\tkill-timeout = 00\n"
	    "\tbacklog = 09\n"
	    "}\n", 0);
	assert_int_equal(svc(cf, "a")->sc_timeout, 10);
	assert_int_equal(svc(cf, "a")->sc_kill_timeout, 7);
	assert_int_equal(svc(cf, "a")->sc_backlog, 100);
	assert_int_equal(svc(cf, "b")->sc_timeout, 0);
	assert_int_equal(svc(cf, "b")->sc_kill_timeout, 0);
	assert_int_equal(svc(cf, "b")->sc_backlog, 9);
	conf_free(cf);

	/* Every bad value is reported, and the parse goes on. */
	load_bad(
	    "timeout = 0x10\n"
	    "kill-timeout = 1e3\n"
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tbacklog = 5s\n"
	    "\ttimeout = 99999999999999999999\n"
	    "\tkill-timeout = -1\n"
	    "\tbacklog = \"\"\n"
	    "\ttimeout = 08.5\n"
	    "}\n", 0, 7,
	    "FILE:1: timeout must be a decimal number, not \"0x10\"\n"
	    "FILE:2: kill-timeout must be a decimal number, not \"1e3\"\n"
	    "FILE:6: backlog must be a decimal number, not \"5s\"\n"
	    "FILE:7: timeout: \"99999999999999999999\" is out of range\n"
	    "FILE:8: kill-timeout must be from 0 to 86400, not -1\n"
	    "FILE:9: backlog must be a decimal number, not \"\"\n"
	    "FILE:10: timeout must be a decimal number, not \"08.5\"\n");
}

/* Only a regular file of bounded size is read, and nothing blocks. */
static void
test_file_types(void **state)
{
	char		 dir[] = "/tmp/soad-unit-ft-XXXXXX", path[64], want[128];
	struct conf	*cf;
	int		 nerr, fd;

	(void)state;
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	if (mkfifo(path, 0600) == -1)
		fail_msg("mkfifo: %s", strerror(errno));
	cf = load_path(path, 0, &nerr);
	assert_null(cf);
	assert_int_equal(nerr, 1);
	snprintf(want, sizeof(want), "%s: cannot read: not a regular file\n",
	    path);
	assert_string_equal(errtext, want);
	unlink(path);

	cf = load_path("/dev/zero", 0, &nerr);
	assert_null(cf);
	assert_string_equal(errtext,
	    "/dev/zero: cannot read: not a regular file\n");
	cf = load_path("/dev/null", 0, &nerr);
	assert_null(cf);
	assert_string_equal(errtext,
	    "/dev/null: cannot read: not a regular file\n");

	/* Sparse: one byte over the limit costs no disk. */
	snprintf(path, sizeof(path), "%s/huge", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT, 0600)) == -1 ||
	    ftruncate(fd, CONF_MAX_SIZE + 1) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	close(fd);
	cf = load_path(path, 0, &nerr);
	assert_null(cf);
	assert_int_equal(nerr, 1);
	snprintf(want, sizeof(want), "%s: cannot read: larger than 16 MiB\n",
	    path);
	assert_string_equal(errtext, want);
	unlink(path);
	rmdir(dir);
}

static char	 sinkbuf[65536];

static void
sink_capture(const char *file, int line, const char *msg)
{
	size_t	n = strlen(sinkbuf);

	snprintf(sinkbuf + n, sizeof(sinkbuf) - n, "[%s|%d|%s]",
	    file, line, msg);
}

/* Messages go to the sink, in line order; stderr stays silent. */
static void
test_sink(void **state)
{
	static const char text[] =
	    "service a {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\ttimeout = x\n"
	    "}\n"
	    "backlog = 0\n";
	struct conf	*cf;
	int		 nerr;

	(void)state;
	sinkbuf[0] = '\0';
	conf_set_sink(sink_capture);
	cf = conf_load_buf("mem.conf", text, strlen(text), 0, &nerr);
	conf_set_sink(NULL);
	assert_null(cf);
	assert_int_equal(nerr, 3);
	assert_string_equal(sinkbuf,
	    "[mem.conf|3|timeout must be a decimal number, not \"x\"]"
	    "[mem.conf|4|service a: no server given]"
	    "[mem.conf|5|backlog must be from 1 to 65535, not 0]");

	/* The buffer entry point checks the size too. */
	sinkbuf[0] = '\0';
	conf_set_sink(sink_capture);
	cf = conf_load_buf("big.conf", text, (size_t)CONF_MAX_SIZE + 1, 0,
	    &nerr);
	conf_set_sink(NULL);
	assert_null(cf);
	assert_string_equal(sinkbuf,
	    "[big.conf|0|cannot read: larger than 16 MiB]");
}

/* Every later copy of a name is reported at its own opening line. */
static void
test_duplicates(void **state)
{
	/* Line 4 sets a global after the first section, or is a comment:
	 * services are built in a second pass, or as each section ends
	 * (conf_soad.c).  The answer is the same. */
	static const char *const line4[] = { "timeout = 5", "# timeout = 5" };
	char	text[512];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(line4) / sizeof(line4[0]); i++) {
		snprintf(text, sizeof(text),
		    "service b { listen = \"1\"\n server = \"/bin/true\" }\n"
		    "service a { listen = \"2\" server = \"/bin/true\" }\n"
		    "# service b {\n"
		    "%s\n"
		    "service\n"
		    "  b\n"
		    "  {\n"
		    "    listen = \"1\" server = \"/bin/true\"\n"
		    "}\n"
		    "service a { listen = { \"3\" } server = \"/bin/true\" }\n"
		    "service b { listen = \"4\" server = \"/bin/true\" }\n",
		    line4[i]);
		load_bad(text, 0, 3,
		    "FILE:6: service b is already defined at line 1\n"
		    "FILE:11: service a is already defined at line 3\n"
		    "FILE:12: service b is already defined at line 1\n");
		/* A duplicate is not built: its own problems go unsaid. */
		snprintf(text, sizeof(text),
		    "service a { listen = \"1\" server = \"/bin/true\" }\n"
		    "service a { listen = \"2\" server = \"/bin/true\"\n"
		    "  user = \"no-such-user-x\" }\n"
		    "%s\n", line4[i]);
		load_bad(text, 0, 1,
		    "FILE:2: service a is already defined at line 1\n");
	}
}

static void
sink_lines(const char *file, int line, const char *msg)
{
	size_t	n = strlen(sinkbuf);

	(void)file;
	snprintf(sinkbuf + n, sizeof(sinkbuf) - n, "%d:%s\n", line, msg);
}

struct numline {
	int	 nl_num;
	size_t	 nl_seq;
	char	*nl_text;
};

static int
numline_cmp(const void *x, const void *y)
{
	const struct numline	*a = x, *b = y;

	if (a->nl_num != b->nl_num)
		return a->nl_num < b->nl_num ? -1 : 1;
	return a->nl_seq < b->nl_seq ? -1 : a->nl_seq > b->nl_seq;
}

/* Stable sort of "N:text" lines by N, in place. */
static void
sort_lines(char *s)
{
	struct numline	 v[512];
	char		*copy, *p, *q;
	size_t		 n = 0, i;

	if ((copy = strdup(s)) == NULL)
		fail_msg("strdup");
	for (p = copy; *p != '\0'; p = q + 1) {
		if ((q = strchr(p, '\n')) == NULL || n == 512)
			fail_msg("sort_lines");
		*q = '\0';
		v[n].nl_num = atoi(p);
		v[n].nl_seq = n;
		v[n++].nl_text = p;
	}
	qsort(v, n, sizeof(*v), numline_cmp);
	for (i = 0, *s = '\0'; i < n; i++)
		s += sprintf(s, "%s\n", v[i].nl_text);
	free(copy);
}

/*
 * The grouped address check finds exactly what comparing every pair
 * with addr_conflict() finds, in the same order.
 */
static void
test_addresses_random(void **state)
{
	static const char *pool[] = {
		"80", "*:80", "0.0.0.0:80", "127.0.0.1:80", "127.0.0.2:80",
		"[::]:80", "[::1]:80", "[2001:db8::1]:80", "81", "127.0.0.1:81",
		"[::1]:81", "/run/soad-unit-a", "/run/soad-unit-b",
		"127.0.0.1:82", "[::]:82",
	};
	const size_t	 npool = sizeof(pool) / sizeof(pool[0]);
	struct addr	 a[40];
	char		*text, *want, *p, *w, err[128], fa[64], fb[64];
	const char	*name[40];
	int		 line[40], svcof[40], nerr, round, nsvc, nl, i, j, count;
	struct conf	*cf;

	(void)state;
	srandom(42);
	if ((text = malloc(65536)) == NULL || (want = malloc(65536)) == NULL)
		fail_msg("malloc");
	for (round = 0; round < 300; round++) {
		p = text;
		nl = 0;
		nsvc = 1 + (int)(random() % 8);
		for (i = 0; i < nsvc; i++) {
			p += sprintf(p, "service s%d {\n\tserver = \"/bin/true\""
			    "\n\tlisten = {", i);
			for (j = 0, count = 1 + (int)(random() % 3); j < count;
			    j++) {
				name[nl] = pool[random() % npool];
				line[nl] = 3 + 4 * i;
				if (addr_parse(name[nl], &a[nl], err,
				    sizeof(err)) == -1)
					fail_msg("%s: %s", name[nl], err);
				p += sprintf(p, "%s\"%s\"", j ? ", " : " ",
				    name[nl]);
				svcof[nl++] = i;
			}
			p += sprintf(p, " }\n}\n");
		}
		w = want;
		*w = '\0';
		count = 0;
		for (i = 0; i < nl; i++)
			for (j = i + 1; j < nl; j++) {
				if (!addr_conflict(&a[i], &a[j]))
					continue;
				addr_fmt(&a[i], fa, sizeof(fa));
				addr_fmt(&a[j], fb, sizeof(fb));
				count++;
				if (strcmp(fa, fb) != 0)
					w += sprintf(w, "%d:service s%d: address "
					    "%s overlaps %s of service s%d\n",
					    line[j], svcof[j], fb, fa,
					    svcof[i]);
				else if (svcof[i] == svcof[j])
					w += sprintf(w, "%d:service s%d: address "
					    "%s is listed twice\n", line[j],
					    svcof[j], fb);
				else
					w += sprintf(w, "%d:service s%d: address "
					    "%s is already used by service s%d\n",
					    line[j], svcof[j], fb,
					    svcof[i]);
			}
		sinkbuf[0] = '\0';
		conf_set_sink(sink_lines);
		cf = conf_load_buf("r", text, strlen(text), 0, &nerr);
		conf_set_sink(NULL);
		assert_int_equal(nerr, count);
		if (count == 0) {
			assert_non_null(cf);
			conf_free(cf);
		} else
			assert_null(cf);
		/* Sorted by line, stable: the all-pairs order per line. */
		sort_lines(want);
		if (strcmp(sinkbuf, want) != 0)
			fail_msg("config:\n%s\ngot:\n%s\nwanted:\n%s", text,
			    sinkbuf, want);
	}
	free(text);
	free(want);
}

/* Where sections start, whatever surrounds their braces. */
static void
test_section_lines(void **state)
{
	static const char text[] =
	    "environment = { \"A=1\" }\n"		/* a list, not a section */
	    "environment += {\n\"B=2\" }\n"
	    "service\n"					/* 4 */
	    "\"a { b\" {\n"
	    "  listen = { \"80\" } args = { '}', \"{\" }\n"
	    "}\n"
	    "timeout = 5 service c { }\n";		/* 8 */
	int	*lines, late;
	size_t	 n;

	(void)state;
	n = conftext_section_lines(text, &lines, &late);
	assert_int_equal(n, 2);
	assert_int_equal(lines[0], 4);
	assert_int_equal(lines[1], 8);
	assert_int_equal(late, 1);		/* timeout, line 8 */
	free(lines);
	assert_int_equal(conftext_section_lines("", &lines, &late), 0);
	assert_int_equal(late, 0);
	free(lines);
	/* Keys inside sections, lists and strings are not global ones. */
	n = conftext_section_lines("timeout = 1\nservice a {\n"
	    "  args = { \"x=y\" }\n  timeout = 2\n}\nservice b {}\n",
	    &lines, &late);
	assert_int_equal(n, 2);
	assert_int_equal(late, 0);
	free(lines);
	n = conftext_section_lines("service a { }\nenvironment += "
	    "{ \"A=1\" }\n", &lines, &late);
	assert_int_equal(late, 1);
	free(lines);
}

static char	 spbase[] = "/tmp/soad-unit-sp-XXXXXX";

static const char *
sp(const char *rel)
{
	static char	buf[4][256];
	static int	i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", spbase, rel);
	return buf[i];
}

static void
sp_mkdir(const char *rel, mode_t mode, uid_t uid)
{
	if (mkdir(sp(rel), 0700) == -1 || chown(sp(rel), uid, 0) == -1 ||
	    chmod(sp(rel), mode) == -1)
		fail_msg("mkdir %s: %s", sp(rel), strerror(errno));
}

static void
sp_symlink(const char *target, const char *rel, uid_t uid)
{
	if (symlink(target, sp(rel)) == -1 || lchown(sp(rel), uid, 0) == -1)
		fail_msg("symlink %s: %s", sp(rel), strerror(errno));
}

static void
sp_safe(const char *rel)
{
	char	err[512];

	if (sockpath_check(sp(rel), (uid_t)-1, err, sizeof(err)) != 0)
		fail_msg("%s refused: %s", sp(rel), err);
}

/* WANT with "BASE" standing for the temp directory. */
static void
sp_unsafe(const char *path, const char *want)
{
	char		 err[512], exp[512], *e = exp;
	const char	*p, *q;

	for (p = want; (q = strstr(p, "BASE")) != NULL; p = q + 4)
		e += sprintf(e, "%.*s%s", (int)(q - p), p, spbase);
	strcpy(e, p);
	err[0] = '\0';
	if (sockpath_check(path, (uid_t)-1, err, sizeof(err)) != -1)
		fail_msg("%s accepted", path);
	assert_string_equal(err, exp);
}

/* The StrictModes-like rule of sockpath.c, on real directories. */
static void
test_sockpath(void **state)
{
	int	fd;

	(void)state;
	need_root();
	if (mkdtemp(spbase) == NULL || chmod(spbase, 0755) == -1)
		fail_msg("mkdtemp: %s", strerror(errno));
	sp_mkdir("ok", 0755, 0);
	sp_mkdir("mine", 0700, 0);
	sp_mkdir("www", 0777, 0);
	sp_mkdir("gw", 0770, 0);
	sp_mkdir("sticky", 01777, 0);
	sp_mkdir("nsticky", 01777, 65534);
	sp_mkdir("nobody", 0755, 65534);
	sp_mkdir("ok/deep", 0750, 0);
	if ((fd = open(sp("file"), O_WRONLY | O_CREAT, 0600)) == -1)
		fail_msg("open: %s", strerror(errno));
	close(fd);

	sp_safe("x.sock");
	sp_safe("ok/x.sock");
	sp_safe("ok/deep/x.sock");
	sp_safe("mine/x.sock");
	sp_safe("sticky/x.sock");		/* like /tmp */
	sp_safe("ok/../ok/./deep//x.sock");
	assert_int_equal(sockpath_check("/tmp/x.sock", (uid_t)-1, NULL, 0), 0);
	assert_int_equal(sockpath_check("/x.sock", (uid_t)-1, NULL, 0), 0);
	assert_int_equal(sockpath_check("/var/run/x.sock", (uid_t)-1, NULL, 0), 0);
	sp_unsafe(sp("www/x.sock"), "unsafe directory BASE/www: writable "
	    "by others (only a sticky directory owned by root may be)");
	sp_unsafe(sp("gw/x.sock"), "unsafe directory BASE/gw: writable "
	    "by its group (only a sticky directory owned by root may be)");
	sp_unsafe(sp("nsticky/x.sock"), "unsafe directory BASE/nsticky: "
	    "owned by uid 65534, not by root or soad's user");
	sp_unsafe(sp("nobody/x.sock"), "unsafe directory BASE/nobody: "
	    "owned by uid 65534, not by root or soad's user");
	/* The service's own runtime directory may be the socket user's,
	 * but nothing below it. */
	sp_mkdir("nobody/sub", 0755, 65534);
	assert_int_equal(sockpath_check(sp("nobody/x.sock"), 65534, NULL, 0),
	    0);
	assert_int_equal(sockpath_check(sp("nobody/sub/x.sock"), 65534, NULL,
	    0), -1);
	assert_int_equal(sockpath_check(sp("nobody/x.sock"), 1, NULL, 0), -1);
	sp_unsafe(sp("www/../ok/x.sock"), "unsafe directory BASE/www: "
	    "writable by others (only a sticky directory owned by root may "
	    "be)");
	sp_unsafe(sp("missing/x.sock"), "directory BASE/missing: No such "
	    "file or directory");
	sp_unsafe(sp("file/x.sock"), "BASE/file is not a directory");
	sp_unsafe("x.sock", "x.sock is not an absolute path");
	sp_unsafe(sp("ok/"), "BASE/ok/ names no file");

	/* Links: root's are followed, wherever they point, through the
	 * same rule; another user's are not, even in a safe place. */
	sp_symlink(sp("ok"), "abs", 0);
	sp_symlink("ok/deep", "rel", 0);
	sp_symlink("../ok", "ok/up", 0);
	sp_symlink(sp("ok"), "sticky/rootlink", 0);
	sp_symlink(sp("ok"), "sticky/evil", 65534);
	sp_symlink(sp("ok"), "nlink", 65534);
	sp_symlink(sp("www"), "towww", 0);
	sp_symlink("loop", "loop", 0);
	sp_symlink("/nonexistent", "ok/final.sock", 0);
	sp_safe("abs/x.sock");
	sp_safe("rel/x.sock");
	sp_safe("ok/up/deep/x.sock");
	sp_safe("sticky/rootlink/x.sock");
	sp_unsafe(sp("sticky/evil/x.sock"), "unsafe symbolic link "
	    "BASE/sticky/evil: owned by uid 65534, not by root or soad's "
	    "user");
	sp_unsafe(sp("nlink/x.sock"), "unsafe symbolic link BASE/nlink: "
	    "owned by uid 65534, not by root or soad's user");
	sp_unsafe(sp("towww/x.sock"), "unsafe directory BASE/www: writable "
	    "by others (only a sticky directory owned by root may be)");
	sp_unsafe(sp("loop/x.sock"), "BASE/loop/x.sock: Too many levels of "
	    "symbolic links");
	sp_unsafe(sp("ok/final.sock"), "BASE/ok/final.sock is a symbolic "
	    "link");

	/* As another user, root's directories still pass, and that user's
	 * own count as safe. */
	if (seteuid(65534) == -1)
		fail_msg("seteuid: %s", strerror(errno));
	assert_int_equal(sockpath_check("/tmp/x.sock", (uid_t)-1, NULL, 0), 0);
	assert_int_equal(sockpath_check(sp("nobody/x.sock"), (uid_t)-1, NULL, 0), 0);
	assert_int_equal(sockpath_check(sp("ok/x.sock"), (uid_t)-1, NULL, 0), 0);
	if (seteuid(0) == -1)
		fail_msg("seteuid: %s", strerror(errno));
	if (system("rm -rf /tmp/soad-unit-sp-*") != 0)
		fail_msg("rm -rf %s", spbase);
}

/* soad -n refuses the sockets that can never be bound. */
static void
test_socket_files(void **state)
{
	char		 dir[] = "/tmp/soad-unit-sf-XXXXXX", text[2048];
	char		 want[2048];
	int		 nerr;
	struct conf	*cf;

	(void)state;
	need_root();
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	if (mkdir("/tmp/soad-unit-sf-www", 0777) == -1 && errno != EEXIST)
		fail_msg("mkdir: %s", strerror(errno));
	chmod("/tmp/soad-unit-sf-www", 0777);
	snprintf(text, sizeof(text),
	    "service a {\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tlisten = { \"%s/a.sock\", \"%s/missing/a.sock\" }\n"
	    "}\n"
	    "service b {\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tlisten = { \"%s\" }\n"
	    "}\n"
	    "service c {\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tlisten = { \"/tmp/soad-unit-sf-www/c.sock\" }\n"
	    "}\n"
	    "service d {\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tlisten = { \"/bin/true\" }\n"
	    "}\n", dir, dir, dir);
	/* Without CONF_CHECK_FILES nothing is looked at on disk. */
	cf = load_ok(text, 0);
	conf_free(cf);
	snprintf(want, sizeof(want),
	    "FILE:3: service a: socket %s/missing/a.sock: directory "
	    "%s/missing: No such file or directory\n"
	    "FILE:7: service b: socket %s: the path exists and is not a "
	    "socket\n"
	    "FILE:11: service c: socket /tmp/soad-unit-sf-www/c.sock: "
	    "unsafe directory /tmp/soad-unit-sf-www: writable by others (only "
	    "a sticky directory owned by root may be)\n"
	    "FILE:15: service d: socket /bin/true: the path exists and is "
	    "not a socket\n", dir, dir, dir);
	load_bad(text, CONF_CHECK_FILES | CONF_CHECK_SOCKETS, 4, want);
	(void)nerr;
	rmdir("/tmp/soad-unit-sf-www");
	rmdir(dir);
}

/* Without root, a socket can only be given soad's own user and groups. */
static void
test_socket_owner_unprivileged(void **state)
{
	static const char head[] =
	    "service a {\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tlisten = { \"/run/soad-unit.sock\" }\n";
	char		 text[1024];
	struct conf	*cf;
	gid_t		 gid = 65534;

	(void)state;
	need_root();
	if (setgroups(1, &gid) == -1 || setegid(65534) == -1 ||
	    seteuid(65534) == -1)
		fail_msg("set ids: %s", strerror(errno));
	snprintf(text, sizeof(text), "%s\tsocket-user = \"root\"\n}\n", head);
	load_bad(text, 0, 1, "FILE:4: service a: socket-user root needs soad "
	    "to run as root\n");
	snprintf(text, sizeof(text), "%s\tsocket-group = \"root\"\n}\n",
	    head);
	load_bad(text, 0, 1, "FILE:4: service a: socket-group root needs soad "
	    "to run as root or as a member of it\n");
	/* Globally set: reported once; a TCP-only service is not hurt. */
	load_bad("socket-user = \"daemon\"\n"
	    "service t { server = \"/bin/true\" listen = \"8080\" }\n"
	    "service a { server = \"/bin/true\" listen = \"/run/a.sock\" }\n"
	    "service b { server = \"/bin/true\" listen = \"/run/b.sock\" }\n",
	    0, 1, "FILE:1: socket-user daemon needs soad to run as root\n");
	snprintf(text, sizeof(text), "%s\tsocket-user = \"nobody\"\n"
	    "\tsocket-group = \"nogroup\"\n}\n", head);
	cf = load_ok(text, 0);
	conf_free(cf);
	if (seteuid(0) == -1 || setegid(0) == -1)
		fail_msg("seteuid: %s", strerror(errno));
	gid = 0;
	(void)setgroups(1, &gid);
}

static void
test_nofile_needed(void **state)
{
	struct conf	*cf;

	(void)state;
	cf = load_ok(
	    "service a { server = \"/bin/true\" listen = { \"1\", \"2\" } }\n"
	    "service b { server = \"/bin/true\" listen = \"3\" }\n", 0);
	assert_int_equal(conf_nofile_needed(cf), 64 + 2 + 1);
	conf_free(cf);
}

/* Issue 8: nowait, dgram and internal services. */
static void
test_modes(void **state)
{
	struct conf		*cf;
	struct svc_conf		*sc;
	struct accept_conf	*ac;

	(void)state;
	cf = load_ok(
	    "max-per-minute = 100\n"
	    "rate-pause = 30\n"
	    "max-connections = 7\n"
	    "fd0 = yes\n"
	    "service pass {\n"
	    "\tlisten = { \"8080\" }\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service tftp {\n"
	    "\tlisten = { \"6969\" }\n"
	    "\tsocket-type = dgram\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service finger {\n"
	    "\tlisten = { \"7979\" }\n"
	    "\tmode = nowait\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tmax-children = 5\n"
	    "\tmax-children-per-source = 2\n"
	    "\tmax-per-minute-per-source = 9\n"
	    "}\n"
	    "service named {\n"
	    "\tlisten = { \"7980\" }\n"
	    "\tmode = nowait\n"
	    "\tserver = \"/bin/true\"\n"
	    "\ttcpwrap-name = in.fingerd\n"
	    "\trate-pause = 86400\n"
	    "}\n"
	    "service udpnowait {\n"
	    "\tlisten = { \"7979\" }\n"
	    "\tmode = nowait\n"
	    "\tsocket-type = dgram\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n"
	    "service echo {\n"
	    "\tlisten = { \"8007\" }\n"
	    "\tinternal = echo\n"
	    "}\n"
	    "service echo-udp {\n"
	    "\tlisten = { \"8007\" }\n"
	    "\tinternal = echo\n"
	    "\tsocket-type = dgram\n"
	    "\tmode = nowait\n"
	    "}\n"
	    "service time {\n"
	    "\tlisten = { \"8037\" }\n"
	    "\tinternal = time\n"
	    "\ttcpwrap = no\n"
	    "\tmax-children = 1\n"
	    "}\n", CONF_CHECK_FILES);
	assert_int_equal(cf->cf_nsvcs, 8);
	assert_int_equal(cf->cf_timeout, 300);
	assert_int_equal(cf->cf_rate_pause, 30);

	sc = svc(cf, "pass");
	assert_int_equal(sc->sc_mode, MODE_PASS);
	assert_int_equal(sc->sc_socktype, SOCK_STREAM);
	assert_int_equal(sc->sc_internal, INETD_EXTERNAL);
	assert_int_equal(sc->sc_fd0, 1);
	assert_null(sc->sc_accept);

	/* dgram pass: fd 0 always, even with fd0 = no inherited */
	sc = svc(cf, "tftp");
	assert_int_equal(sc->sc_mode, MODE_PASS);
	assert_int_equal(sc->sc_socktype, SOCK_DGRAM);
	assert_int_equal(sc->sc_fd0, 1);
	assert_null(sc->sc_accept);

	sc = svc(cf, "finger");
	assert_int_equal(sc->sc_mode, MODE_NOWAIT);
	assert_int_equal(sc->sc_socktype, SOCK_STREAM);
	assert_int_equal(sc->sc_fd0, 0);
	assert_string_equal(sc->sc_server, "/bin/true");
	assert_non_null(ac = sc->sc_accept);
#ifdef HAVE_LIBWRAP
	assert_string_equal(ac->ac_wrapname, "finger");
#else
	assert_null(ac->ac_wrapname);
#endif
	assert_int_equal(ac->ac_maxconn, 5);
	assert_int_equal(ac->ac_maxsrc, 2);
	assert_int_equal(ac->ac_rate, 100);
	assert_int_equal(ac->ac_ratesrc, 9);
	assert_int_equal(ac->ac_rate_pause, 30);

	sc = svc(cf, "named");
	ac = sc->sc_accept;
#ifdef HAVE_LIBWRAP
	assert_string_equal(ac->ac_wrapname, "in.fingerd");
#endif
	assert_int_equal(ac->ac_maxconn, 0);	/* no limit */
	assert_int_equal(ac->ac_maxsrc, 0);
	assert_int_equal(ac->ac_ratesrc, 0);
	assert_int_equal(ac->ac_rate_pause, 86400);

	/* dgram: never checked by tcp_wrappers */
	sc = svc(cf, "udpnowait");
	assert_int_equal(sc->sc_mode, MODE_NOWAIT);
	assert_int_equal(sc->sc_socktype, SOCK_DGRAM);
	assert_null(sc->sc_accept->ac_wrapname);

	sc = svc(cf, "echo");
	assert_int_equal(sc->sc_mode, MODE_NOWAIT);
	assert_int_equal(sc->sc_internal, INETD_ECHO);
	assert_int_equal(sc->sc_socktype, SOCK_STREAM);
	assert_null(sc->sc_server);
	assert_null(sc->sc_argv[0]);
	assert_int_equal(sc->sc_setuser, 0);
	assert_int_equal(sc->sc_fd0, 0);
	assert_non_null(ac = sc->sc_accept);
#ifdef HAVE_LIBWRAP
	assert_string_equal(ac->ac_wrapname, "echo");
#endif
	assert_int_equal(ac->ac_maxconn, 0);
	assert_int_equal(ac->ac_rate, 100);

	sc = svc(cf, "echo-udp");
	assert_int_equal(sc->sc_internal, INETD_ECHO);
	assert_int_equal(sc->sc_socktype, SOCK_DGRAM);
	assert_null(sc->sc_accept->ac_wrapname);

	sc = svc(cf, "time");
	assert_int_equal(sc->sc_internal, INETD_TIME);
	assert_null(sc->sc_accept->ac_wrapname);
	assert_int_equal(sc->sc_accept->ac_maxconn, 1);
	conf_free(cf);
}

/* Built-in defaults of the nowait keys, and a global-only file. */
static void
test_mode_defaults(void **state)
{
	struct conf		*cf;
	struct accept_conf	*ac;

	(void)state;
	cf = load_ok(
	    "service n {\n"
	    "\tlisten = { \"7979\" }\n"
	    "\tmode = nowait\n"
	    "\tserver = \"/bin/true\"\n"
	    "}\n", 0);
	ac = cf->cf_svcs[0]->sc_accept;
	assert_int_equal(ac->ac_maxconn, 0);
	assert_int_equal(ac->ac_maxsrc, 0);
	assert_int_equal(ac->ac_rate, 0);
	assert_int_equal(ac->ac_ratesrc, 0);
	assert_int_equal(ac->ac_rate_pause, 600);
	assert_int_equal(cf->cf_rate_pause, 600);
	assert_int_equal(cf->cf_kill_timeout, 10);
	assert_int_equal(cf->cf_backlog, 1024);
	assert_int_equal(cf->cf_stop_signal, SIGTERM);
	conf_free(cf);

	/* -i: the globals alone */
	cf = load_ok("timeout = 0\nkill-timeout = 3\n", CONF_GLOBALS_ONLY);
	assert_int_equal(cf->cf_nsvcs, 0);
	assert_int_equal(cf->cf_timeout, 0);
	assert_int_equal(cf->cf_kill_timeout, 3);
	conf_free(cf);
	load_bad("timeout = 0\n", 0, 1, "FILE:1: no service defined\n");
}

static void
test_mode_errors(void **state)
{
	(void)state;
	load_bad(
	    "max-children = 4\n"
	    "proxy-protocol = v2\n"
	    "service echo {\n"
	    "\tlisten = { \"8007\" }\n"
	    "\tinternal = echo\n"
	    "\tserver = \"/bin/true\"\n"
	    "\targs = { \"x\" }\n"
	    "\tmode = pass\n"
	    "\tfd0 = yes\n"
	    "}\n"
	    "service p {\n"
	    "\tlisten = { \"8008\" }\n"
	    "\tmode = proxy\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tsocket-type = dgram\n"
	    "\tmax-children = 3\n"
	    "\trate-pause = 5\n"
	    "}\n"
	    "service n {\n"
	    "\tlisten = { \"8009\" }\n"
	    "\tmode = nowait\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tbackend = \"127.0.0.1:5\"\n"
	    "\tproxy-protocol = v1\n"
	    "\tidle-ignore = { \"127.0.0.1\" }\n"
	    "\tstart-timeout = 5\n"
	    "\tmax-connections = 4\n"
	    "\tmax-connections-per-source = 4\n"
	    "\tfd0 = yes\n"
	    "}\n"
	    "service u {\n"
	    "\tlisten = { \"8009\" }\n"
	    "\tsocket-type = dgram\n"
	    "\tmode = nowait\n"
	    "\tserver = \"/bin/true\"\n"
	    "\ttcpwrap = yes\n"
	    "}\n"
	    "service w {\n"
	    "\tlisten = { \"8010\" }\n"
	    "\tsocket-type = dgram\n"
	    "\tserver = \"/bin/true\"\n"
	    "\tfd0 = no\n"
	    "\ttcpwrap = yes\n"
	    "\tmax-per-minute = 1\n"
	    "\tmax-per-minute-per-source = 1\n"
	    "\tmax-children-per-source = 1\n"
	    "}\n"
	    "service v {\n"
	    "\tlisten = { \"8011\" }\n"
	    "\tsocket-type = seqpacket\n"
	    "\tinternal = qotd\n"
	    "\tmode = wait\n"
	    "\trate-pause = 86401\n"
	    "\tmax-children = -1\n"
	    "\tmax-per-minute = 1000001\n"
	    "}\n", 0, 27,
	    "FILE:6: service echo: server: an internal service runs no "
	    "program\n"
	    "FILE:7: service echo: args: an internal service runs no "
	    "program\n"
	    "FILE:8: service echo: an internal service is served by soad "
	    "itself: mode must be nowait or left out\n"
	    "FILE:9: service echo: fd0 = yes needs mode = pass: an internal "
	    "service runs no program\n"
	    "FILE:15: service p: socket-type = dgram does not go with mode = "
	    "proxy: soad relays stream connections only\n"
	    "FILE:16: service p: max-children needs mode = nowait or an "
	    "internal service\n"
	    "FILE:17: service p: rate-pause needs mode = nowait or an "
	    "internal service\n"
	    "FILE:23: service n: backend needs mode = proxy\n"
	    "FILE:24: service n: proxy-protocol needs mode = proxy\n"
	    "FILE:25: service n: idle-ignore needs mode = proxy\n"
	    "FILE:26: service n: start-timeout needs mode = proxy\n"
	    "FILE:27: service n: max-connections needs mode = proxy\n"
	    "FILE:28: service n: max-connections-per-source needs mode = "
	    "proxy\n"
	    "FILE:29: service n: fd0 = yes needs mode = pass: a nowait "
	    "service gets its connection on fds 0, 1 and 2\n"
	    "FILE:36: service u: tcpwrap = yes: tcp_wrappers checks stream "
	    "connections, and a dgram service has none\n"
	    "FILE:42: service w: fd0 = no: a dgram pass-mode service always "
	    "gets its socket on fd 0\n"
	    "FILE:43: service w: tcpwrap = yes needs mode = proxy or nowait: "
	    "in pass mode the service accepts its own connections, so soad "
	    "cannot check them\n"
	    "FILE:44: service w: max-per-minute needs mode = nowait or an "
	    "internal service\n"
	    "FILE:45: service w: max-per-minute-per-source needs mode = "
	    "nowait or an internal service\n"
	    "FILE:46: service w: max-children-per-source needs mode = nowait "
	    "or an internal service\n"
	    "FILE:50: socket-type must be stream or dgram, not \"seqpacket\"\n"
	    "FILE:51: internal must be echo, discard, chargen, daytime or "
	    "time, not \"qotd\"\n"
	    "FILE:52: mode must be pass, proxy or nowait, not \"wait\"\n"
	    "FILE:52: service v: an internal service is served by soad "
	    "itself: mode must be nowait or left out\n"
	    "FILE:53: rate-pause must be from 1 to 86400, not 86401\n"
	    "FILE:54: max-children must be from 0 to 1000000, not -1\n"
	    "FILE:55: max-per-minute must be from 0 to 1000000, not "
	    "1000001\n");
}

/* A TCP and a UDP service on one port do not collide; two UDP ones do. */
static void
test_udp_addresses(void **state)
{
	(void)state;
	load_bad(
	    "service a { listen = \"7\" internal = echo }\n"
	    "service b { listen = \"7\" internal = echo socket-type = dgram }\n"
	    "service c { listen = \"127.0.0.1:7\" internal = discard\n"
	    "    socket-type = dgram }\n"
	    "service d { listen = \"/tmp/soad-unit-d.sock\" internal = echo }\n"
	    "service e { listen = \"/tmp/soad-unit-d.sock\" internal = echo\n"
	    "    socket-type = dgram }\n", 0, 2,
	    "FILE:3: service c: address 127.0.0.1:7 overlaps *:7 of service "
	    "b\n"
	    "FILE:6: service e: address /tmp/soad-unit-d.sock is already used "
	    "by service d\n");
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test_teardown(test_defaults, teardown),
		cmocka_unit_test_teardown(test_inherit, teardown),
		cmocka_unit_test_teardown(test_override, teardown),
		cmocka_unit_test_teardown(test_lists, teardown),
		cmocka_unit_test_teardown(test_late_globals, teardown),
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
		cmocka_unit_test_teardown(test_decimal, teardown),
		cmocka_unit_test_teardown(test_file_types, teardown),
		cmocka_unit_test_teardown(test_sink, teardown),
		cmocka_unit_test_teardown(test_duplicates, teardown),
		cmocka_unit_test(test_section_lines),
		cmocka_unit_test_teardown(test_addresses_random, teardown),
		cmocka_unit_test_teardown(test_sockpath, teardown),
		cmocka_unit_test_teardown(test_socket_files, teardown),
		cmocka_unit_test_teardown(test_socket_owner_unprivileged,
		    teardown),
		cmocka_unit_test_teardown(test_nofile_needed, teardown),
		cmocka_unit_test_teardown(test_modes, teardown),
		cmocka_unit_test_teardown(test_mode_defaults, teardown),
		cmocka_unit_test_teardown(test_mode_errors, teardown),
		cmocka_unit_test_teardown(test_udp_addresses, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
