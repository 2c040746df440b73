/*
 * Unit tests for addr.c: listen address parsing, NAME= prefixes,
 * printing and the overlap rules the second config pass relies on.
 * Pure functions: no sockets, no files.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "soad.h"

static const struct sockaddr_in *
sin4(const struct addr *a)
{
	return (const struct sockaddr_in *)&a->ad_ss;
}

static const struct sockaddr_in6 *
sin6(const struct addr *a)
{
	return (const struct sockaddr_in6 *)&a->ad_ss;
}

/* Parse S, which must be valid. */
static void
parse_ok(const char *s, struct addr *a)
{
	char	err[256] = "";

	if (addr_parse(s, a, err, sizeof(err)) != 0)
		fail_msg("addr_parse(\"%s\") failed: %s", s, err);
}

/* Parse S, which must be refused with a message containing WANT. */
static void
parse_bad(const char *s, const char *want)
{
	struct addr	a;
	char		err[256] = "";

	if (addr_parse(s, &a, err, sizeof(err)) != -1)
		fail_msg("addr_parse(\"%s\") accepted a bad address", s);
	if (strstr(err, want) == NULL)
		fail_msg("addr_parse(\"%s\"): message \"%s\" lacks \"%s\"", s,
		    err, want);
}

static void
test_unix_path(void **state)
{
	struct addr	a;

	(void)state;
	parse_ok("/run/soad/x.sock", &a);
	assert_int_equal(a.ad_family, AF_UNIX);
	assert_int_equal(a.ad_any, 0);
	assert_string_equal(addr_path(&a), "/run/soad/x.sock");
	assert_int_equal(a.ad_len, sizeof(struct sockaddr_un));
	assert_int_equal(addr_port(&a), 0);
}

static void
test_unix_path_length(void **state)
{
	struct sockaddr_un	sun;
	struct addr		a;
	char			path[sizeof(sun.sun_path) + 2];

	(void)state;
	/* The longest path that fits with its NUL: 107 bytes on Linux. */
	memset(path, 'x', sizeof(path));
	path[0] = '/';
	path[sizeof(sun.sun_path) - 1] = '\0';
	parse_ok(path, &a);
	assert_string_equal(addr_path(&a), path);
	path[sizeof(sun.sun_path) - 1] = 'x';
	path[sizeof(sun.sun_path)] = '\0';
	parse_bad(path, "is longer than");
	parse_bad(path, "107 bytes");
}

static void
test_unix_relative(void **state)
{
	(void)state;
	parse_bad("run/x.sock", "a UNIX socket path must be absolute");
	parse_bad("./x.sock", "a UNIX socket path must be absolute");
	parse_bad("../x.sock", "a UNIX socket path must be absolute");
	parse_bad("@abstract", "a UNIX socket path must be absolute");
}

static void
test_port_only(void **state)
{
	struct addr	a;

	(void)state;
	parse_ok("8080", &a);
	assert_int_equal(a.ad_family, AF_INET6);
	assert_int_equal(a.ad_any, 1);
	assert_int_equal(addr_port(&a), 8080);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6(&a)->sin6_addr));
	assert_int_equal(a.ad_len, sizeof(struct sockaddr_in6));
	assert_null(addr_path(&a));
	parse_ok("1", &a);
	assert_int_equal(addr_port(&a), 1);
	parse_ok("65535", &a);
	assert_int_equal(addr_port(&a), 65535);
	parse_ok("00080", &a);
	assert_int_equal(addr_port(&a), 80);
}

static void
test_star_port(void **state)
{
	struct addr	a, b;

	(void)state;
	parse_ok("*:8080", &a);
	assert_int_equal(a.ad_family, AF_INET6);
	assert_int_equal(a.ad_any, 1);
	assert_int_equal(addr_port(&a), 8080);
	parse_ok("8080", &b);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void
test_ipv4(void **state)
{
	struct addr	a;

	(void)state;
	parse_ok("127.0.0.1:80", &a);
	assert_int_equal(a.ad_family, AF_INET);
	assert_int_equal(a.ad_any, 0);
	assert_int_equal(sin4(&a)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	assert_int_equal(sin4(&a)->sin_port, htons(80));
	assert_int_equal(addr_port(&a), 80);
	assert_int_equal(a.ad_len, sizeof(struct sockaddr_in));
	assert_null(addr_path(&a));

	/* 0.0.0.0 is IPv4 only, not the dual-stack "every address". */
	parse_ok("0.0.0.0:65535", &a);
	assert_int_equal(a.ad_family, AF_INET);
	assert_int_equal(a.ad_any, 0);
	assert_int_equal(sin4(&a)->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(addr_port(&a), 65535);
}

static void
test_ipv6(void **state)
{
	struct addr	a;

	(void)state;
	parse_ok("[::1]:443", &a);
	assert_int_equal(a.ad_family, AF_INET6);
	assert_int_equal(a.ad_any, 0);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6(&a)->sin6_addr));
	assert_int_equal(addr_port(&a), 443);
	assert_int_equal(a.ad_len, sizeof(struct sockaddr_in6));

	/* [::] is IPv6 only (V6ONLY), also not "every address". */
	parse_ok("[::]:80", &a);
	assert_int_equal(a.ad_any, 0);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6(&a)->sin6_addr));

	parse_ok("[2001:db8::10:1]:8080", &a);
	assert_int_equal(sin6(&a)->sin6_addr.s6_addr[15], 1);
	assert_int_equal(sin6(&a)->sin6_addr.s6_addr[13], 0x10);

	/* The longest textual IPv6 address still fits. */
	parse_ok("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:1", &a);
	assert_int_equal(a.ad_family, AF_INET6);
}

static void
test_bad_ports(void **state)
{
	static const char *bad[] = {
		"0", "65536", "abc", "*:", "*:0", "*:65536", "*:abc",
		"127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "[::1]:",
		"[::1]:0", "123456", "-1", "+80", "8080 ", " 8080", "80x",
		"1.2.3.4:-1", "[::1]", "0x50",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i], "port must be a number from 1 to 65535");
	parse_bad("", "empty listen address");
}

static void
test_bad_hosts(void **state)
{
	static const char *bad[] = {
		"localhost:80", "[::1:80", "1.2.3:80", "::1:80", ":80",
		"[]:80", "[::1]x:80", "x[::1]:80", "256.1.1.1:80",
		"1.2.3.4.5:80", "[fe80::1%lo]:80", "[127.0.0.1]:80",
		"**:80", "example.com:443",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i], "host must be a numeric IPv4 address, "
		    "[IPv6] address or *");
}

static void
test_error_message(void **state)
{
	struct addr	a;
	char		err[256], small[8];

	(void)state;
	assert_int_equal(addr_parse("1.2.3:80", &a, err, sizeof(err)), -1);
	assert_string_equal(err, "listen address \"1.2.3:80\": host must be "
	    "a numeric IPv4 address, [IPv6] address or *");
	assert_int_equal(addr_parse("*:0", &a, err, sizeof(err)), -1);
	assert_string_equal(err, "listen address \"*:0\": port must be a "
	    "number from 1 to 65535");
	/* A short buffer is truncated, never overrun. */
	memset(small, 'z', sizeof(small));
	assert_int_equal(addr_parse("nope", &a, small, sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void
test_split_name(void **state)
{
	char		 name[SOAD_FDNAME_MAX + 1];
	const char	*rest, *s;

	(void)state;
	s = "http=127.0.0.1:80";
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 1);
	assert_string_equal(name, "http");
	assert_string_equal(rest, "127.0.0.1:80");

	s = "a.b-c_D9=/run/x.sock";
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 1);
	assert_string_equal(name, "a.b-c_D9");
	assert_string_equal(rest, "/run/x.sock");

	s = "admin=[::1]:8443";
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 1);
	assert_string_equal(name, "admin");
	assert_string_equal(rest, "[::1]:8443");

	/* Not names: the whole string stays the address. */
	s = "/run/a=b.sock";
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 0);
	assert_ptr_equal(rest, s);
	s = "=80";
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 0);
	assert_ptr_equal(rest, s);
	s = "8080";
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 0);
	assert_ptr_equal(rest, s);
	s = "*:80";
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 0);
	assert_ptr_equal(rest, s);
	s = "a b=80";
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 0);
	assert_ptr_equal(rest, s);
	s = "a:b=80";
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 0);
	assert_ptr_equal(rest, s);
	s = "";
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 0);
	assert_ptr_equal(rest, s);

	/* Only the first '=' splits. */
	s = "x=y=80";
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 1);
	assert_string_equal(name, "x");
	assert_string_equal(rest, "y=80");
}

static void
test_split_name_length(void **state)
{
	char		 name[SOAD_FDNAME_MAX + 1], s[SOAD_FDNAME_MAX + 8];
	const char	*rest;

	(void)state;
	/* SOAD_FDNAME_MAX characters fit, one more does not. */
	memset(s, 'n', SOAD_FDNAME_MAX);
	strcpy(s + SOAD_FDNAME_MAX, "=80");
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), 1);
	assert_int_equal(strlen(name), SOAD_FDNAME_MAX);
	assert_string_equal(rest, "80");

	memset(s, 'n', SOAD_FDNAME_MAX + 1);
	strcpy(s + SOAD_FDNAME_MAX + 1, "=80");
	assert_int_equal(addr_split_name(s, name, sizeof(name), &rest), -1);

	assert_int_equal(addr_split_name("abcd=80", name, 4, &rest), -1);
	assert_int_equal(addr_split_name("abc=80", name, 4, &rest), 1);
	assert_string_equal(name, "abc");
}

static void
test_fmt_roundtrip(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} t[] = {
		{ "8080", "*:8080" },
		{ "*:1", "*:1" },
		{ "*:65535", "*:65535" },
		{ "127.0.0.1:80", "127.0.0.1:80" },
		{ "0.0.0.0:80", "0.0.0.0:80" },
		{ "[::1]:443", "[::1]:443" },
		{ "[::]:80", "[::]:80" },
		{ "[2001:DB8:0:0::1]:80", "[2001:db8::1]:80" },
		{ "/run/soad/x.sock", "/run/soad/x.sock" },
		{ "/a=b", "/a=b" },
	};
	struct addr	a, b;
	char		buf[128], buf2[128];
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		parse_ok(t[i].in, &a);
		addr_fmt(&a, buf, sizeof(buf));
		assert_string_equal(buf, t[i].out);
		/* What addr_fmt prints parses back to the same address. */
		parse_ok(buf, &b);
		assert_memory_equal(&a, &b, sizeof(a));
		addr_fmt(&b, buf2, sizeof(buf2));
		assert_string_equal(buf2, buf);
	}
}

static void
test_fmt_small_buffer(void **state)
{
	struct addr	a;
	char		buf[6];

	(void)state;
	parse_ok("127.0.0.1:80", &a);
	addr_fmt(&a, buf, sizeof(buf));
	assert_string_equal(buf, "127.0");
	memset(&a, 0, sizeof(a));
	addr_fmt(&a, buf, sizeof(buf));
	assert_string_equal(buf, "?");
}

static int
conflict(const char *x, const char *y)
{
	struct addr	a, b;
	int		r;

	parse_ok(x, &a);
	parse_ok(y, &b);
	r = addr_conflict(&a, &b);
	if (addr_conflict(&b, &a) != r)
		fail_msg("addr_conflict(\"%s\", \"%s\") is not symmetric",
		    x, y);
	return r;
}

static void
test_conflict_unix(void **state)
{
	(void)state;
	assert_true(conflict("/run/a.sock", "/run/a.sock"));
	assert_false(conflict("/run/a.sock", "/run/b.sock"));
	assert_false(conflict("/run/a.sock", "/run/a.sock2"));
	assert_false(conflict("/run/a.sock", "8080"));
	assert_false(conflict("/run/a.sock", "127.0.0.1:8080"));
}

static void
test_conflict_inet(void **state)
{
	(void)state;
	/* Same address and port. */
	assert_true(conflict("127.0.0.1:80", "127.0.0.1:80"));
	assert_true(conflict("[::1]:80", "[::1]:80"));
	assert_true(conflict("8080", "*:8080"));
	/* Different ports never conflict. */
	assert_false(conflict("127.0.0.1:80", "127.0.0.1:81"));
	assert_false(conflict("80", "81"));
	assert_false(conflict("*:80", "127.0.0.1:81"));
	/* Different specific addresses of one family. */
	assert_false(conflict("127.0.0.1:80", "127.0.0.2:80"));
	assert_false(conflict("[::1]:80", "[2001:db8::1]:80"));
	/* A wildcard covers every specific address of its family. */
	assert_true(conflict("*:80", "127.0.0.1:80"));
	assert_true(conflict("0.0.0.0:80", "127.0.0.1:80"));
	assert_true(conflict("[::]:80", "[::1]:80"));
	/* Specific v4 and v6 addresses never meet. */
	assert_false(conflict("127.0.0.1:80", "[::1]:80"));
	/* V6ONLY [::] and 0.0.0.0 can both be bound. */
	assert_false(conflict("[::]:80", "0.0.0.0:80"));
	assert_false(conflict("[::]:80", "127.0.0.1:80"));
	/* Dual-stack "PORT" covers both families. */
	assert_true(conflict("8080", "127.0.0.1:8080"));
	assert_true(conflict("8080", "0.0.0.0:8080"));
	assert_true(conflict("8080", "[::1]:8080"));
	assert_true(conflict("8080", "[::]:8080"));
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_unix_path),
		cmocka_unit_test(test_unix_path_length),
		cmocka_unit_test(test_unix_relative),
		cmocka_unit_test(test_port_only),
		cmocka_unit_test(test_star_port),
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_bad_ports),
		cmocka_unit_test(test_bad_hosts),
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_split_name),
		cmocka_unit_test(test_split_name_length),
		cmocka_unit_test(test_fmt_roundtrip),
		cmocka_unit_test(test_fmt_small_buffer),
		cmocka_unit_test(test_conflict_unix),
		cmocka_unit_test(test_conflict_inet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
