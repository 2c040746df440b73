/*
 * Unit tests for hostsscan.c: which hosts.allow/hosts.deny texts may run
 * an option other than allow/deny (1) and which certainly do not (0),
 * read as libwrap reads them; then the file-level cache, which must see
 * every change, including one that keeps the size and the mtime.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

struct scan_case {
	const char	*text;
	int		 want;
};

static const struct scan_case cases[] = {
	{ "", 0 },
	{ "\n\n   \n\t\r\n", 0 },
	{ "ALL: ALL\n", 0 },
	{ "ALL : ALL : deny\n", 0 },
	{ "ALL: ALL: DENY\n", 0 },
	{ "sshd: 10.0.0.0/8: Allow\n", 0 },
	{ "ALL: ALL: allow : deny\n", 0 },
	{ "ALL: ALL: deny\r\n", 0 },
	{ "in.telnetd: .example.com EXCEPT host.example.com\n", 0 },
	{ "garbage without a separator\n", 0 },
	{ "ALL: ALL: twist /bin/echo no\n", 1 },
	{ "ALL: ALL: spawn (echo %a) &\n", 1 },
	{ "ALL: ALL: user nobody\n", 1 },
	{ "ALL: ALL: setenv A b: allow\n", 1 },
	{ "ALL: ALL: allow: umask 077\n", 1 },
	{ "ALL: ALL: severity auth.info\n", 1 },
	{ "ALL: ALL: keepalive\n", 1 },
	{ "ALL: ALL: banners /etc/banners\n", 1 },
	{ "ALL: ALL: nice\n", 1 },
	{ "ALL: ALL: rfc931\n", 1 },
	/* A value on allow/deny, an empty option: libwrap refuses, but
	 * that is doubt for a scan. */
	{ "ALL: ALL: allow = yes\n", 1 },
	{ "ALL: ALL: deny x\n", 1 },
	{ "ALL: ALL:\n", 1 },
	{ "ALL: ALL: allow:\n", 1 },
	/* Comments: '#' first on the logical line only. */
	{ "# ALL: ALL: twist /bin/false\n", 0 },
	{ "# a comment \\\nALL: ALL: twist /bin/false\n", 0 },
	{ " # ALL: ALL: twist /bin/false\n", 1 },
	{ "ALL: ALL # : twist /bin/false\n", 1 },
	/* Continuation lines join before anything else. */
	{ "ALL: ALL\\\n: twist /bin/false\n", 1 },
	{ "ALL: ALL\\\n\\\n: deny\n", 0 },
	{ "ALL:\\\nALL:\\\n spawn x\n", 1 },
	{ "ALL: ALL \\\\\n: twist x\n", 1 },
	{ "ALL: ALL \\\r\n: twist x\n", 0 },	/* not joined */
	/* '[...]' protects ':' in the daemon and client lists. */
	{ "ALL: [::1]: deny\n", 0 },
	{ "ALL: [::1]\n", 0 },
	{ "ALL: [fe80::1]/64, [::ffff:127.0.0.1]/128\n", 0 },
	{ "sshd@[::1]: ALL: allow\n", 0 },
	{ "ALL: [::1]: spawn x\n", 1 },
	{ "ALL: [::1 : twist x\n", 0 },	/* never closed: no options */
	{ "ALL: ]x: twist y\n", 0 },		/* libwrap's depth goes -1 */
	{ "ALL: [::1]]: twist y\n", 0 },
	/* "\:" is literal in options only. */
	{ "ALL: a\\:b: twist x\n", 1 },
	{ "ALL: ALL: deny \\: twist x\n", 1 },
	{ "ALL: a\\: b\n", 1 },		/* option "b" */
	/* A last line without newline (libwrap skips it): scanned. */
	{ "ALL: ALL: twist x", 1 },
	{ "ALL: ALL: deny", 0 },
	/* Several rules: any one decides. */
	{ "ALL: 127.0.0.1\n# x\nsshd: ALL: spawn y &\nALL: ALL\n", 1 },
	{ "ALL: 127.0.0.1\nsshd: ALL: deny\nALL: ALL\n", 0 },
};

static void
test_cases(void **state)
{
	size_t	i;
	int	got;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = hostsscan_buf(cases[i].text, strlen(cases[i].text));
		if (got != cases[i].want)
			fail_msg("case %zu: %s: got %d, want %d", i,
			    cases[i].text, got, cases[i].want);
	}
}

/* What libwrap would read in pieces, or stop at, is doubt. */
static void
test_doubt(void **state)
{
	char	 buf[4096];
	size_t	 n;

	(void)state;
	memcpy(buf, "ALL: ALL\0: twist x\n", 19);
	assert_int_equal(hostsscan_buf(buf, 19), 1);
	n = (size_t)snprintf(buf, sizeof(buf), "ALL: ALL # ");
	memset(buf + n, 'x', 2000);
	memcpy(buf + n + 2000, "\n", 1);
	assert_int_equal(hostsscan_buf(buf, n + 2001), 1);
	/* A long comment is read in pieces too: the rest is a "rule". */
	buf[0] = '#';
	assert_int_equal(hostsscan_buf(buf, n + 2001), 1);
	/* The same lengths below the limit are read whole. */
	assert_int_equal(hostsscan_buf(buf, n + 500), 0);
}

static char	dir[64];
static char	allow[128], deny[128];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/soad-scan-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(allow, sizeof(allow), "%s/hosts.allow", dir);
	snprintf(deny, sizeof(deny), "%s/hosts.deny", dir);
	return 0;
}

static int
teardown_dir(void **state)
{
	(void)state;
	unlink(allow);
	unlink(deny);
	rmdir(dir);
	return 0;
}

/* Write TEXT to PATH in place; with OLD, date it an hour back. */
static void
put(const char *path, const char *text, int old)
{
	struct timespec	ts[2];
	int		fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	if (old) {
		ts[0].tv_sec = 1000000000;
		ts[0].tv_nsec = 0;
		ts[1] = ts[0];
		assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	}
}

static void
test_files(void **state)
{
	char	tmp[160];

	(void)state;
	/* Missing files are empty, as for libwrap. */
	assert_int_equal(hostsscan_files(allow, deny), 0);
	put(deny, "ALL: ALL: deny\n", 1);
	assert_int_equal(hostsscan_files(allow, deny), 0);
	assert_int_equal(hostsscan_files(allow, deny), 0);
	/* Same size, same mtime, in place. */
	put(deny, "ALL: ALL: nice\n", 1);
	assert_int_equal(hostsscan_files(allow, deny), 1);
	put(deny, "ALL: ALL: deny\n", 1);
	assert_int_equal(hostsscan_files(allow, deny), 0);
	/* Replaced by rename, as editors do. */
	snprintf(tmp, sizeof(tmp), "%s/new", dir);
	put(tmp, "ALL: 1: allow\n", 1);
	assert_int_equal(rename(tmp, deny), 0);
	assert_int_equal(hostsscan_files(allow, deny), 0);
	/* Freshly written: scanned, and scanned again next time. */
	put(allow, "ALL: ALL: setenv X y\n", 0);
	assert_int_equal(hostsscan_files(allow, deny), 1);
	put(allow, "ALL: ALL: deny\n", 0);
	assert_int_equal(hostsscan_files(allow, deny), 0);
	unlink(allow);
	assert_int_equal(hostsscan_files(allow, deny), 0);
}

/* What is not a regular file is doubt, and a FIFO must not block. */
static void
test_odd_files(void **state)
{
	(void)state;
	assert_int_equal(mkdir(allow, 0755), 0);
	assert_int_equal(hostsscan_files(allow, deny), 1);
	rmdir(allow);
	assert_int_equal(mkfifo(allow, 0644), 0);
	assert_int_equal(hostsscan_files(allow, deny), 1);
	unlink(allow);
	assert_int_equal(hostsscan_files(allow, deny), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_doubt),
		cmocka_unit_test_setup_teardown(test_files, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_odd_files, setup_dir,
		    teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
