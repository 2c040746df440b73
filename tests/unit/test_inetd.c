/*
 * Unit tests for inetd.c and inetd_conv.c: inetd.conf text in, entries
 * and the exact "LINE: message" list out (FILE: is left off), and the
 * soad.conf text soad -C writes.  Needs what every Debian system has:
 * the users root, nobody, daemon, the groups nogroup, tty, and the usual
 * /etc/services names.  Host names are never looked up except
 * "localhost".
 */
#include "config.h"

#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "soad.h"

static char	*msgs;		/* "LINE: message\n" of the last parse */
static size_t	 msglen;

static void
collect(const char *file, int line, const char *msg)
{
	char	*m;
	int	 n;

	(void)file;
	if ((n = asprintf(&m, "%d: %s\n", line, msg)) == -1 ||
	    (msgs = realloc(msgs, msglen + (size_t)n + 1)) == NULL)
		fail_msg("asprintf");
	memcpy(msgs + msglen, m, (size_t)n + 1);
	msglen += (size_t)n;
	free(m);
}

/* TEXT parsed; *NERR errors, messages in msgs. */
static struct inetd_entry *
parse(const char *text, size_t *n, int *nerr)
{
	struct inetd_entry	*v;

	free(msgs);
	msgs = NULL;
	msglen = 0;
	conf_set_sink(collect);
	conf_errors_begin();
	inetd_parse("t.conf", text, strlen(text), INETD_NORESOLVE, &v, n);
	*nerr = conf_errors_end("t.conf");
	conf_set_sink(NULL);
	if (msgs == NULL && (msgs = strdup("")) == NULL)
		fail_msg("strdup");
	return v;
}

/* TEXT must parse to N entries with exactly the messages WANT. */
static struct inetd_entry *
parse_want(const char *text, size_t nwant, int nerrwant, const char *want)
{
	struct inetd_entry	*v;
	size_t			 n;
	int			 nerr;

	v = parse(text, &n, &nerr);
	if (strcmp(msgs, want) != 0)
		fail_msg("messages:\n%s\nwanted:\n%s", msgs, want);
	assert_int_equal(nerr, nerrwant);
	assert_int_equal(n, nwant);
	return v;
}

static void
assert_argv(char **argv, ...)
{
	va_list		 ap;
	const char	*s;
	size_t		 i = 0;

	va_start(ap, argv);
	while ((s = va_arg(ap, const char *)) != NULL) {
		assert_non_null(argv[i]);
		assert_string_equal(argv[i], s);
		i++;
	}
	va_end(ap);
	assert_null(argv[i]);
}

static void
test_openbsd(void **state)
{
	struct inetd_entry	*v;

	(void)state;
	v = parse_want(
	    "# OpenBSD\n"
	    "finger\t\tstream\ttcp\tnowait\t_fingerd\t/usr/libexec/fingerd\t"
	    "fingerd -lsm\n"
	    "ident\t\tstream\ttcp6\tnowait.400 nobody.tty /usr/libexec/identd "
	    "identd -el\n"
	    "127.0.0.1:\n"
	    "comsat\t\tdgram\tudp\twait\troot:tty\t/usr/libexec/comsat\n"
	    "[::1]:daytime\tstream\ttcp6\tnowait\troot\tinternal\n"
	    "*:\n"
	    ":time\t\tdgram\tudp4\twait\troot\tinternal\n"
	    "10.0.0.1,10.0.0.2:echo stream tcp4 nowait root internal\n",
	    6, 1,
	    "2: no such user \"_fingerd\"\n");
	inetd_free(v, 6);

	v = parse_want(
	    "ident\t\tstream\ttcp6\tnowait.400 nobody.tty /usr/libexec/identd "
	    "identd -el\n"
	    "127.0.0.1:\n"
	    "comsat\t\tdgram\tudp\twait\troot:tty\t/usr/libexec/comsat\n"
	    "[::1]:daytime\tstream\ttcp6\tnowait\troot\tinternal\n"
	    "*:\n"
	    ":time\t\tdgram\tudp4\twait\troot\tinternal\n"
	    "10.0.0.1,10.0.0.2:echo stream tcp4 nowait root internal\n",
	    6, 0, "");
	assert_int_equal(v[0].ie_line, 1);
	assert_int_equal(v[0].ie_port, 113);
	assert_int_equal(v[0].ie_family, AF_INET6);
	assert_string_equal(v[0].ie_listen, "[::]:113");
	assert_int_equal(v[0].ie_max_per_minute, 400);
	assert_int_equal(v[0].ie_max_children, 0);
	assert_string_equal(v[0].ie_user, "nobody");
	assert_string_equal(v[0].ie_group, "tty");
	assert_string_equal(v[0].ie_wrapname, "identd");
	assert_argv(v[0].ie_argv, "identd", "-el", NULL);

	/* The default host of a "host:" line; argv[0] from the server. */
	assert_int_equal(v[1].ie_line, 3);
	assert_int_equal(v[1].ie_socktype, SOCK_DGRAM);
	assert_int_equal(v[1].ie_wait, 1);
	assert_string_equal(v[1].ie_listen, "127.0.0.1:512");
	assert_string_equal(v[1].ie_host, "127.0.0.1");
	assert_string_equal(v[1].ie_group, "tty");
	assert_argv(v[1].ie_argv, "comsat", NULL);

	assert_string_equal(v[2].ie_listen, "[::1]:13");
	assert_int_equal(v[2].ie_internal, INETD_DAYTIME);
	assert_null(v[2].ie_server);
	assert_string_equal(v[2].ie_wrapname, "daytime");

	/* "*:" resets; ":service" is every address too. */
	assert_string_equal(v[3].ie_listen, "0.0.0.0:37");
	assert_null(v[3].ie_host);
	assert_int_equal(v[3].ie_family, AF_INET);

	/* A host list: one entry per address, same line. */
	assert_string_equal(v[4].ie_listen, "10.0.0.1:7");
	assert_string_equal(v[5].ie_listen, "10.0.0.2:7");
	assert_int_equal(v[4].ie_line, 7);
	assert_int_equal(v[5].ie_line, 7);
	inetd_free(v, 6);
}

static void
test_freebsd(void **state)
{
	struct inetd_entry	*v;

	(void)state;
	v = parse_want(
	    "#@ ipsec esp/transport//require\n"
	    "finger\tstream\ttcp\tnowait/3/10 nobody /usr/libexec/fingerd "
	    "fingerd -k -s\n"
	    "ftp\tstream\ttcp46\tnowait//5/2\troot:daemon/ftpd /usr/libexec/ftpd"
	    "\tftpd -l\n"
	    "tcpmux/+date stream tcp nowait root /bin/date date\n"
	    "#@\n"
	    ":root:daemon:0660:/var/run/echo stream unix nowait root "
	    "internal\n"
	    "discard\tstream\ttcp\tnowait\troot\t/usr/bin/env\t\"e nv\" 'a b'\n",
	    4, 0,
	    "1: warning: IPsec policy lines are not supported; the services "
	    "below run without it\n"
	    "3: warning: login class \"ftpd\" ignored: this system has no "
	    "login classes\n"
	    "4: warning: tcpmux services are not supported; line not served\n");
	assert_int_equal(v[0].ie_max_children, 3);
	assert_int_equal(v[0].ie_max_per_minute_per_source, 10);
	assert_int_equal(v[0].ie_max_children_per_source, 0);
#ifdef __linux__
	assert_string_equal(v[0].ie_listen, "79");
	assert_int_equal(v[0].ie_family, AF_UNSPEC);
#endif
	assert_string_equal(v[1].ie_listen, "21");
	assert_int_equal(v[1].ie_family, AF_UNSPEC);
	assert_int_equal(v[1].ie_max_children, 0);
	assert_int_equal(v[1].ie_max_per_minute_per_source, 5);
	assert_int_equal(v[1].ie_max_children_per_source, 2);
	assert_string_equal(v[1].ie_class, "ftpd");
	assert_string_equal(v[1].ie_group, "daemon");

	assert_int_equal(v[2].ie_family, AF_UNIX);
	assert_string_equal(v[2].ie_listen, "/var/run/echo");
	assert_string_equal(v[2].ie_sockuser, "root");
	assert_string_equal(v[2].ie_sockgroup, "daemon");
	assert_string_equal(v[2].ie_sockmode, "0660");
	assert_int_equal(v[2].ie_internal, INETD_ECHO);

	/* Quoted fields (FreeBSD). */
	assert_argv(v[3].ie_argv, "e nv", "a b", NULL);
	inetd_free(v, 4);
}

static void
test_debian(void **state)
{
	struct inetd_entry	*v;

	(void)state;
	v = parse_want(
	    "#:INFO: Info services\n"
	    "finger\t\tstream\ttcp\tnowait\tnobody\t/usr/sbin/tcpd\t"
	    "/usr/sbin/in.fingerd\n"
	    "#<off># talk\tdgram\tudp\twait\tnobody.tty\t/usr/sbin/in.talkd\t"
	    "in.talkd\n"
	    "tftp\tdgram\tudp\twait\tnobody\t/usr/sbin/tcpd in.tftpd "
	    "--secure\n"
	    "\t/srv/tftp\n"
	    "git\tstream\ttcp6\tnowait\tnobody\t/usr/bin/git git daemon --inetd "
	    "--base-path=/srv/git\n"
	    "  # an indented comment ends the entry\n"
	    "rsync\tstream\ttcp4\tnowait\troot\t/usr/sbin/tcpd /usr/bin/rsync "
	    "rsyncd --daemon\n",
	    4, 0, "");
	assert_int_equal(v[0].ie_tcpwrap, 1);
	assert_string_equal(v[0].ie_server, "/usr/sbin/in.fingerd");
	assert_argv(v[0].ie_argv, "in.fingerd", NULL);
	assert_string_equal(v[0].ie_wrapname, "in.fingerd");

	/* A relative real server is in REAL_DAEMON_DIR; continued line. */
	assert_int_equal(v[1].ie_line, 4);
	assert_string_equal(v[1].ie_server,
#ifdef __linux__
	    "/usr/sbin/in.tftpd"
#else
	    "/usr/libexec/in.tftpd"
#endif
	    );
	assert_argv(v[1].ie_argv, "in.tftpd", "--secure", "/srv/tftp", NULL);
	assert_string_equal(v[1].ie_wrapname, "in.tftpd");

	/* Not wrapped: the daemon name is still argv[0]'s basename. */
	assert_int_equal(v[2].ie_tcpwrap, 0);
	assert_string_equal(v[2].ie_wrapname, "git");
	assert_argv(v[2].ie_argv, "git", "daemon", "--inetd",
	    "--base-path=/srv/git", NULL);

	/* tcpd keeps argv[0] as tcpd does: its basename. */
	assert_string_equal(v[3].ie_server, "/usr/bin/rsync");
	assert_argv(v[3].ie_argv, "rsync", "rsyncd", "--daemon", NULL);
	assert_string_equal(v[3].ie_wrapname, "rsync");
	assert_string_equal(v[3].ie_listen, "0.0.0.0:873");
	inetd_free(v, 4);
}

static void
test_internal(void **state)
{
	struct inetd_entry	*v;

	(void)state;
	v = parse_want(
	    "echo stream tcp nowait root internal\n"
	    "discard dgram udp wait root internal\n"
	    "chargen stream tcp nowait root internal\n"
	    "daytime dgram udp wait root internal\n"
	    "time stream tcp nowait root internal\n"
	    "sink stream tcp4 nowait root internal\n"
	    "ftp stream tcp nowait root internal\n"
	    "echo raw tcp nowait root internal\n",
	    6, 0,
	    "7: warning: internal service ftp is not supported; line not "
	    "served\n"
	    "8: warning: socket type raw is not supported; line not "
	    "served\n");
	assert_int_equal(v[0].ie_internal, INETD_ECHO);
	assert_int_equal(v[1].ie_internal, INETD_DISCARD);
	assert_int_equal(v[1].ie_socktype, SOCK_DGRAM);
	assert_int_equal(v[2].ie_internal, INETD_CHARGEN);
	assert_int_equal(v[3].ie_internal, INETD_DAYTIME);
	assert_int_equal(v[4].ie_internal, INETD_TIME);
	assert_int_equal(v[4].ie_port, 37);
	/* An /etc/services alias of discard. */
	assert_int_equal(v[5].ie_internal, INETD_DISCARD);
	assert_string_equal(v[5].ie_wrapname, "discard");
	assert_non_null(v[5].ie_argv);
	assert_null(v[5].ie_argv[0]);
	inetd_free(v, 6);
}

static void
test_errors(void **state)
{
	struct inetd_entry	*v;
	size_t			 n;
	int			 nerr;

	(void)state;
	v = parse_want(
	    "finger stream tcp nowait nobody\n"
	    "finger stream\n"
	    "finger bogus tcp nowait nobody /usr/sbin/in.fingerd\n"
	    "finger stream sctp nowait nobody /usr/sbin/in.fingerd\n"
	    "finger stream udp nowait nobody /usr/sbin/in.fingerd\n"
	    "finger stream tcp sometimes nobody /usr/sbin/in.fingerd\n"
	    "finger stream tcp nowait.0 nobody /usr/sbin/in.fingerd\n"
	    "finger stream tcp nowait/x nobody /usr/sbin/in.fingerd\n"
	    "finger stream tcp nowait/1/2/3/4 nobody /usr/sbin/in.fingerd\n"
	    "finger stream tcp nowait nosuchuser /usr/sbin/in.fingerd\n"
	    "finger stream tcp nowait nobody:nosuchgroup /usr/sbin/in.fingerd\n"
	    "finger stream tcp nowait nobody in.fingerd\n"
	    "finger stream tcp nowait nobody /usr/sbin/tcpd\n"
	    "finger stream tcp nowait nobody /bin/x 1 2 3 4 5 6 7 8 9 10 11 "
	    "12 13 14 15 16 17 18 19 20 21\n"
	    "70000 stream tcp nowait nobody /bin/x\n"
	    "::1:finger stream tcp4 nowait nobody /bin/x\n"
	    "finger stream tcp nowait nobody /bin/x \"open\n",
	    1, 17,
	    "1: missing the server field\n"
	    "2: missing the protocol field\n"
	    "3: unknown socket type \"bogus\"\n"
	    "4: unknown protocol \"sctp\"\n"
	    "5: socket type stream does not go with protocol udp\n"
	    "6: bad wait/nowait field \"sometimes\"\n"
	    "7: bad max field \"0\": a number from 1 to 1000000\n"
	    "8: bad limit \"x\" in \"nowait/x\": a number from 0 to 1000000\n"
	    "9: bad wait/nowait field \"nowait/1/2/3/4\": at most three "
	    "/limits\n"
	    "10: no such user \"nosuchuser\"\n"
	    "11: no such group \"nosuchgroup\"\n"
	    "12: server \"in.fingerd\" must be an absolute path or internal\n"
	    "13: /usr/sbin/tcpd needs the real server as its first argument\n"
	    "14: too many arguments: at most 20, argv[0] included\n"
	    "15: port \"70000\" is not a number from 1 to 65535\n"
	    "16: address ::1 is not IPv4 (protocol tcp4)\n"
	    "17: unterminated \" quote\n");
	inetd_free(v, 1);

	/* The NUL test above is cut by strlen: feed it with its length. */
	free(msgs);
	msgs = NULL;
	msglen = 0;
	conf_set_sink(collect);
	conf_errors_begin();
	inetd_parse("t.conf", "echo stream tcp nowait root internal\0x\n",
	    39, 0, &v, &n);
	nerr = conf_errors_end("t.conf");
	conf_set_sink(NULL);
	assert_int_equal(nerr, 1);
	assert_string_equal(msgs, "1: NUL byte in the line\n");
	inetd_free(v, n);
}

static void
test_warnings(void **state)
{
	struct inetd_entry	*v;

	(void)state;
	v = parse_want(
	    "rstatd/1-3 dgram rpc/udp wait root /usr/libexec/rpc.rstatd "
	    "rpc.rstatd\n"
	    "nosuchservice stream tcp nowait root /bin/cat cat\n"
	    "example.org:echo stream tcp nowait root internal\n"
	    "[fe80::1]:echo stream tcp6 nowait root internal\n"
	    ",:echo stream tcp nowait root internal\n"
	    "echo stream tcp nowait root internal\n",
	    1, 0,
	    "1: warning: rpc/udp services are not supported; line not served\n"
	    "2: warning: unknown service nosuchservice/tcp (not in "
	    "/etc/services); line not served\n"
	    "3: warning: host name \"example.org\" not looked up; not "
	    "served\n"
	    "4: warning: listen address \"[fe80::1]:7\": link-local IPv6 "
	    "addresses are not supported; not served\n"
	    "5: warning: no address in host list \",\"; not served\n");
	assert_int_equal(v[0].ie_line, 6);
	inetd_free(v, 1);
}

/* soad -C's text for TEXT (no error allowed). */
static char *
convert(const char *text)
{
	struct inetd_entry	*v;
	char			*out = NULL;
	size_t			 n, len = 0;
	int			 nerr;
	FILE			*f;

	v = parse(text, &n, &nerr);
	assert_int_equal(nerr, 0);
	if ((f = open_memstream(&out, &len)) == NULL)
		fail_msg("open_memstream");
	conf_set_sink(collect);
	conf_errors_begin();
	inetd_conv_write(f, "t.conf", text, strlen(text), v, n);
	conf_errors_end("t.conf");
	conf_set_sink(NULL);
	fclose(f);
	inetd_free(v, n);
	return out;
}

static const char sample[] =
    "# the classics\n"
    "echo stream tcp nowait root internal\n"
    "echo dgram udp wait root internal\n"
    "\n"
    "#<off># talk dgram udp wait nobody.tty /usr/sbin/in.talkd in.talkd\n"
    "finger stream tcp nowait/4//2 nobody /usr/sbin/tcpd /usr/sbin/in.fingerd"
    " -w\n"
    "[::1]:\n"
    "finger stream tcp6 nowait.9 nobody:nogroup /bin/sh sh -c\n"
    "\t\"it's $HOME\"\n"
    "tftp dgram udp wait nobody /usr/sbin/in.tftpd in.tftpd /srv/tftp\n"
    "*:\n"
    "git stream tcp wait daemon /usr/bin/git git daemon --inetd\n";

static void
test_convert(void **state)
{
	char	*out;

	(void)state;
	out = convert(sample);
	if (strcmp(out,
	    "# soad.conf converted by soad -C from t.conf\n"
	    "# the classics\n"
	    "# echo stream tcp nowait root internal\n"
	    "service echo-tcp {\n"
	    "\tlisten = { '7' }\n"
	    "\tinternal = echo\n"
	    "\ttcpwrap-name = 'echo'\n"
	    "\tmax-per-minute = 256\n"
	    "}\n"
	    "# echo dgram udp wait root internal\n"
	    "service echo-udp {\n"
	    "\tlisten = { '7' }\n"
	    "\tsocket-type = dgram\n"
	    "\tinternal = echo\n"
	    "\tmax-per-minute = 256\n"
	    "}\n"
	    "\n"
	    "#<off># talk dgram udp wait nobody.tty /usr/sbin/in.talkd "
	    "in.talkd\n"
	    "# finger stream tcp nowait/4//2 nobody /usr/sbin/tcpd "
	    "/usr/sbin/in.fingerd -w\n"
	    "service finger-tcp {\n"
	    "\tlisten = { '0.0.0.0:79' }\n"
	    "\tmode = nowait\n"
	    "\tserver = '/usr/sbin/in.fingerd'\n"
	    "\targs = { 'in.fingerd', '-w' }\n"
	    "\tuser = 'nobody'\n"
	    "\ttcpwrap = yes\n"
	    "\ttcpwrap-name = 'in.fingerd'\n"
	    "\tmax-children = 4\n"
	    "\tmax-per-minute = 256\n"
	    "\tmax-children-per-source = 2\n"
	    "}\n"
	    "# [::1]:\n"
	    "# finger stream tcp6 nowait.9 nobody:nogroup /bin/sh sh -c\n"
	    "# \t\"it's $HOME\"\n"
	    "service finger-tcp6 {\n"
	    "\tlisten = { '[::1]:79' }\n"
	    "\tmode = nowait\n"
	    "\tserver = '/bin/sh'\n"
	    "\targs = { 'sh', '-c', 'it\\'s $HOME' }\n"
	    "\tuser = 'nobody:nogroup'\n"
	    "\ttcpwrap-name = 'sh'\n"
	    "\tmax-per-minute = 9\n"
	    "}\n"
	    "# tftp dgram udp wait nobody /usr/sbin/in.tftpd in.tftpd "
	    "/srv/tftp\n"
	    "service tftp {\n"
	    "\tlisten = { '[::1]:69' }\n"
	    "\tsocket-type = dgram\n"
	    "\tmode = pass\n"
	    "\tfd0 = yes\n"
	    "\tserver = '/usr/sbin/in.tftpd'\n"
	    "\targs = { 'in.tftpd', '/srv/tftp' }\n"
	    "\tuser = 'nobody'\n"
	    "}\n"
	    "# *:\n"
	    "# git stream tcp wait daemon /usr/bin/git git daemon --inetd\n"
	    "service git {\n"
	    "\tlisten = { '9418' }\n"
	    "\tmode = pass\n"
	    "\tfd0 = yes\n"
	    "\tserver = '/usr/bin/git'\n"
	    "\targs = { 'git', 'daemon', '--inetd' }\n"
	    "\tuser = 'daemon'\n"
	    "}\n") != 0)
		fail_msg("got:\n%s", out);
	free(out);
}

/*
 * The converter's quoting through the real soad.conf parser, with keys
 * it has today (user, server, args, listen, fd0).
 */
static void
test_convert_quoting(void **state)
{
	struct conf	*cf;
	char		*out, *p;
	int		 nerr;

	(void)state;
	out = convert("git stream tcp wait root /bin/echo echo "
	    "'it''s' \"a\\\\b\" ${HOME} '{x, y}' #\n");
	/* mode = pass is the default; the key lands with the lead's work. */
	if ((p = strstr(out, "\tmode = pass\n")) == NULL)
		fail_msg("no mode:\n%s", out);
	memmove(p, p + 13, strlen(p + 13) + 1);
	conf_set_sink(collect);
	cf = conf_load_buf("t.conf", out, strlen(out), 0, &nerr);
	conf_set_sink(NULL);
	if (cf == NULL)
		fail_msg("soad.conf refused:\n%s\n%s", out, msgs);
	assert_int_equal(cf->cf_nsvcs, 1);
	assert_string_equal(cf->cf_svcs[0]->sc_argv[1], "it");
	assert_string_equal(cf->cf_svcs[0]->sc_argv[2], "s");
	assert_string_equal(cf->cf_svcs[0]->sc_argv[3], "a\\\\b");
	assert_string_equal(cf->cf_svcs[0]->sc_argv[4], "${HOME}");
	assert_string_equal(cf->cf_svcs[0]->sc_argv[5], "{x, y}");
	assert_string_equal(cf->cf_svcs[0]->sc_argv[6], "#");
	assert_int_equal(cf->cf_svcs[0]->sc_fd0, 1);
	conf_free(cf);
	free(out);
}

/*
 * The whole sample through soad.conf's parser: every section, with the
 * kind of service each line asked for.
 */
static void
test_convert_parses(void **state)
{
	struct conf	*cf;
	char		*out;
	int		 nerr;

	(void)state;
	out = convert(sample);
	conf_set_sink(collect);
	cf = conf_load_buf("t.conf", out, strlen(out), 0, &nerr);
	conf_set_sink(NULL);
	if (cf == NULL)
		fail_msg("soad.conf refused:\n%s\n%s", out, msgs);
	assert_int_equal(cf->cf_nsvcs, 6);
	assert_int_equal(cf->cf_svcs[0]->sc_internal, INETD_ECHO);
	assert_int_equal(cf->cf_svcs[1]->sc_socktype, SOCK_DGRAM);
	assert_int_equal(cf->cf_svcs[2]->sc_mode, MODE_NOWAIT);
	assert_int_equal(cf->cf_svcs[2]->sc_accept->ac_maxconn, 4);
	assert_int_equal(cf->cf_svcs[3]->sc_accept->ac_rate, 9);
	assert_int_equal(cf->cf_svcs[4]->sc_mode, MODE_PASS);
	assert_int_equal(cf->cf_svcs[4]->sc_fd0, 1);
	assert_int_equal(cf->cf_svcs[5]->sc_mode, MODE_PASS);
	conf_free(cf);
	free(out);
}


/* TEXT written to a temp file and added (-i) to CF; messages in msgs. */
static int
add_inetd(struct conf *cf, const char *sfile, const char *text)
{
	char	 path[] = "/tmp/soad-unit-inetd-XXXXXX";
	FILE	*f;
	int	 fd, nerr;

	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		fail_msg("mkstemp");
	fputs(text, f);
	fclose(f);
	free(msgs);
	msgs = NULL;
	msglen = 0;
	conf_set_sink(collect);
	nerr = conf_inetd_add(cf, sfile, path, CONF_CHECK_FILES);
	conf_set_sink(NULL);
	unlink(path);
	if (msgs == NULL && (msgs = strdup("")) == NULL)
		fail_msg("strdup");
	return nerr;
}

/* -i: each kind of line becomes the service soad -C would make. */
static void
test_inetd_services(void **state)
{
	struct conf		*cf;
	struct svc_conf		*sc;
	struct accept_conf	*ac;

	(void)state;
	if (geteuid() != 0)
		skip();		/* the lines switch users */
	cf = conf_inetd_defaults();
	assert_int_equal(add_inetd(cf, NULL,
	    "echo stream tcp nowait root internal\n"
	    "echo dgram udp wait root internal\n"
	    "finger stream tcp nowait/4/3/2 nobody /usr/sbin/tcpd /bin/cat "
	    "-u\n"
	    "tftp dgram udp wait nobody:nogroup /bin/cat cat /srv\n"
	    "9418 stream tcp wait daemon /bin/true git daemon\n"
	    "5000 dgram udp nowait.7 nobody /bin/true x\n"), 0);
	assert_string_equal(msgs, "");
	assert_int_equal(cf->cf_nsvcs, 6);

	sc = cf->cf_svcs[0];
	assert_string_equal(sc->sc_name, "echo-tcp");
	assert_int_equal(sc->sc_mode, MODE_NOWAIT);
	assert_int_equal(sc->sc_internal, INETD_ECHO);
	assert_int_equal(sc->sc_socktype, SOCK_STREAM);
	assert_int_equal(sc->sc_inetd, 1);
	assert_null(sc->sc_server);
	assert_null(sc->sc_argv[0]);
	assert_int_equal(sc->sc_setuser, 0);
	assert_int_equal(sc->sc_timeout, 300);
	assert_int_equal(sc->sc_nlisten, 1);
	assert_int_equal(addr_port(&sc->sc_listen[0].lc_addr), 7);
	assert_string_equal(sc->sc_accept->ac_wrapname, "echo");
	assert_int_equal(sc->sc_accept->ac_rate_pause, 600);

	sc = cf->cf_svcs[1];
	assert_string_equal(sc->sc_name, "echo-udp");
	assert_int_equal(sc->sc_mode, MODE_NOWAIT);
	assert_int_equal(sc->sc_socktype, SOCK_DGRAM);
	assert_null(sc->sc_accept->ac_wrapname);

	sc = cf->cf_svcs[2];
	assert_string_equal(sc->sc_name, "finger");
	assert_int_equal(sc->sc_mode, MODE_NOWAIT);
	assert_int_equal(sc->sc_fd0, 0);
	assert_string_equal(sc->sc_server, "/bin/cat");
	assert_argv(sc->sc_argv, "cat", "-u", NULL);
	assert_int_equal(sc->sc_setuser, 1);
	assert_string_equal(sc->sc_user, "nobody");
	ac = sc->sc_accept;
	assert_string_equal(ac->ac_wrapname, "cat");
	assert_int_equal(ac->ac_maxconn, 4);
	assert_int_equal(ac->ac_ratesrc, 3);
	assert_int_equal(ac->ac_maxsrc, 2);
	assert_int_equal(ac->ac_rate, INETD_DEFAULT_RATE);

	sc = cf->cf_svcs[3];
	assert_string_equal(sc->sc_name, "tftp");
	assert_int_equal(sc->sc_mode, MODE_PASS);
	assert_int_equal(sc->sc_socktype, SOCK_DGRAM);
	assert_int_equal(sc->sc_fd0, 1);
	assert_null(sc->sc_accept);
	assert_string_equal(sc->sc_user, "nobody");

	sc = cf->cf_svcs[4];
	assert_string_equal(sc->sc_name, "9418");
	assert_int_equal(sc->sc_mode, MODE_PASS);
	assert_int_equal(sc->sc_socktype, SOCK_STREAM);
	assert_int_equal(sc->sc_fd0, 1);
	assert_int_equal(sc->sc_inetd, 1);
	assert_argv(sc->sc_argv, "git", "daemon", NULL);

	sc = cf->cf_svcs[5];
	assert_int_equal(sc->sc_mode, MODE_NOWAIT);
	assert_int_equal(sc->sc_socktype, SOCK_DGRAM);
	assert_null(sc->sc_accept->ac_wrapname);
	assert_int_equal(sc->sc_accept->ac_rate, 7);
	conf_free(cf);
}

/* -i with -f: soad.conf's globals, its names and addresses taken. */
static void
test_inetd_with_soad_conf(void **state)
{
	static const char text[] = "timeout = 0\nrate-pause = 5\n"
	    "service echo-tcp { listen = \"7007\" internal = echo }\n"
	    "service d { listen = \"79\" internal = daytime }\n";
	struct conf	*cf;
	int		 nerr;

	(void)state;
	cf = conf_load_buf("s.conf", text, strlen(text), CONF_GLOBALS_ONLY,
	    &nerr);
	assert_non_null(cf);
	assert_int_equal(add_inetd(cf, "s.conf",
	    "echo stream tcp nowait root internal\n"
	    "echo dgram udp wait root internal\n"
	    "daytime dgram udp wait root internal\n"
	    "finger stream tcp nowait root /nonexistent/fingerd fingerd\n"
	    "time stream tcp wait root /usr/sbin/tcpd /bin/true\n"), 2);
	assert_string_equal(msgs,
	    "1: service echo-tcp is already defined in s.conf; rename that "
	    "section\n"
	    "4: warning: service finger: server /nonexistent/fingerd: No such "
	    "file or directory; every connection fails until it is "
	    "installed\n"
	    "4: service finger: address *:79 is already used by service d\n"
	    "5: warning: tcpd on this line: soad does not check it itself, "
	    "so /usr/sbin/tcpd runs as inetd would run it\n");
	conf_free(cf);

	cf = conf_load_buf("s.conf", text, 26, CONF_GLOBALS_ONLY, &nerr);
	assert_int_equal(add_inetd(cf, "s.conf",
	    "echo dgram udp wait root internal\n"), 0);
	assert_int_equal(cf->cf_nsvcs, 1);
	assert_int_equal(cf->cf_svcs[0]->sc_timeout, 0);
	assert_int_equal(cf->cf_svcs[0]->sc_accept->ac_rate_pause, 5);
	conf_free(cf);

	cf = conf_inetd_defaults();
	assert_int_equal(add_inetd(cf, NULL, "# nothing\n"), 1);
	assert_string_equal(msgs, "0: no service defined\n");
	conf_free(cf);
}

static int
teardown(void **state)
{
	(void)state;
	free(msgs);
	msgs = NULL;
	msglen = 0;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_openbsd, teardown),
		cmocka_unit_test_teardown(test_freebsd, teardown),
		cmocka_unit_test_teardown(test_debian, teardown),
		cmocka_unit_test_teardown(test_internal, teardown),
		cmocka_unit_test_teardown(test_errors, teardown),
		cmocka_unit_test_teardown(test_warnings, teardown),
		cmocka_unit_test_teardown(test_convert, teardown),
		cmocka_unit_test_teardown(test_convert_quoting, teardown),
		cmocka_unit_test_teardown(test_convert_parses, teardown),
		cmocka_unit_test_teardown(test_inetd_services, teardown),
		cmocka_unit_test_teardown(test_inetd_with_soad_conf, teardown),
	};

	log_init(1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
