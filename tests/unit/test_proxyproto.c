/*
 * Unit tests for proxyproto.c: the exact bytes of every header form
 * (haproxy's doc/proxy-protocol.txt, sections 2.1 and 2.2).
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
#include <string.h>

#include <cmocka.h>

#include "soad.h"

#define SIG	"\r\n\r\n\0\r\nQUIT\n"

static struct sockaddr_in
sin4(const char *ip, int port)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6
sin6(const char *ip, int port)
{
	struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	return sin6;
}

/* The header for SRC/DST must be exactly WANT (WLEN bytes). */
static void
check(int version, const void *src, const void *dst, const char *want,
    size_t wlen)
{
	char	buf[PROXYPROTO_MAX];
	size_t	n;

	memset(buf, 'x', sizeof(buf));
	n = proxyproto_header(version, src, dst, buf, sizeof(buf));
	assert_int_equal(n, wlen);
	assert_memory_equal(buf, want, wlen);
	/* An exact-size buffer is enough; one byte less is refused. */
	assert_int_equal(proxyproto_header(version, src, dst, buf, wlen),
	    wlen);
	assert_int_equal(proxyproto_header(version, src, dst, buf, wlen - 1),
	    0);
}

#define CHECK(v, s, d, lit)	check((v), (s), (d), (lit), sizeof(lit) - 1)

static void
test_v1_tcp4(void **state)
{
	struct sockaddr_in	s = sin4("192.0.2.1", 56324);
	struct sockaddr_in	d = sin4("198.51.100.7", 443);

	(void)state;
	CHECK(1, &s, &d, "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n");
	s = sin4("255.255.255.255", 65535);
	d = sin4("0.0.0.0", 0);
	CHECK(1, &s, &d, "PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n");
}

static void
test_v1_tcp6(void **state)
{
	struct sockaddr_in6	s = sin6("2001:db8::1", 40001);
	struct sockaddr_in6	d = sin6("::1", 8080);
	struct sockaddr_in6	ls = sin6("ffff:ffff:ffff:ffff:ffff:ffff:"
	    "ffff:ffff", 65535);

	(void)state;
	CHECK(1, &s, &d, "PROXY TCP6 2001:db8::1 ::1 40001 8080\r\n");
	/* The longest v1 line there is: 104 bytes. */
	CHECK(1, &ls, &ls, "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
}

static void
test_v1_mapped(void **state)
{
	struct sockaddr_in6	s = sin6("::ffff:192.0.2.9", 1234);
	struct sockaddr_in6	d = sin6("::ffff:127.0.0.1", 80);
	struct sockaddr_in	d4 = sin4("127.0.0.1", 80);
	struct sockaddr_in6	d6 = sin6("::1", 80);

	(void)state;
	CHECK(1, &s, &d, "PROXY TCP4 192.0.2.9 127.0.0.1 1234 80\r\n");
	CHECK(1, &s, &d4, "PROXY TCP4 192.0.2.9 127.0.0.1 1234 80\r\n");
	/* A mapped client beside a real IPv6 address: no common family. */
	CHECK(1, &s, &d6, "PROXY UNKNOWN\r\n");
}

static void
test_v1_unknown(void **state)
{
	struct sockaddr_un	un;
	struct sockaddr_in	d = sin4("127.0.0.1", 80);
	struct sockaddr_in6	d6 = sin6("::1", 80);

	(void)state;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, "/run/x.sock");
	CHECK(1, &un, &un, "PROXY UNKNOWN\r\n");
	CHECK(1, NULL, &d, "PROXY UNKNOWN\r\n");
	CHECK(1, &d, NULL, "PROXY UNKNOWN\r\n");
	CHECK(1, &d, &d6, "PROXY UNKNOWN\r\n");
}

static void
test_v2_tcp4(void **state)
{
	struct sockaddr_in	s = sin4("192.0.2.1", 56324);	/* 0xdc04 */
	struct sockaddr_in	d = sin4("198.51.100.7", 443);	/* 0x01bb */

	(void)state;
	CHECK(2, &s, &d, SIG "\x21\x11\x00\x0c"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x07" "\xdc\x04" "\x01\xbb");
}

static void
test_v2_tcp6(void **state)
{
	struct sockaddr_in6	s = sin6("2001:db8::1", 40001);	/* 0x9c41 */
	struct sockaddr_in6	d = sin6("::1", 8080);		/* 0x1f90 */

	(void)state;
	CHECK(2, &s, &d, SIG "\x21\x21\x00\x24"
	    "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
	    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
	    "\x9c\x41" "\x1f\x90");
}

static void
test_v2_mapped(void **state)
{
	struct sockaddr_in6	s = sin6("::ffff:192.0.2.9", 1234);
	struct sockaddr_in6	d = sin6("::ffff:127.0.0.1", 80);

	(void)state;
	CHECK(2, &s, &d, SIG "\x21\x11\x00\x0c"
	    "\xc0\x00\x02\x09" "\x7f\x00\x00\x01" "\x04\xd2" "\x00\x50");
}

static void
test_v2_local(void **state)
{
	struct sockaddr_un	un;
	struct sockaddr_in	d = sin4("127.0.0.1", 80);

	(void)state;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	CHECK(2, &un, &un, SIG "\x20\x00\x00\x00");
	CHECK(2, NULL, NULL, SIG "\x20\x00\x00\x00");
	CHECK(2, NULL, &d, SIG "\x20\x00\x00\x00");
}

static void
test_bad_version(void **state)
{
	struct sockaddr_in	s = sin4("192.0.2.1", 1);
	char			buf[PROXYPROTO_MAX];

	(void)state;
	assert_int_equal(proxyproto_header(0, (struct sockaddr *)&s,
	    (struct sockaddr *)&s, buf, sizeof(buf)), 0);
	assert_int_equal(proxyproto_header(3, (struct sockaddr *)&s,
	    (struct sockaddr *)&s, buf, sizeof(buf)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6),
		cmocka_unit_test(test_v1_mapped),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v2_tcp4),
		cmocka_unit_test(test_v2_tcp6),
		cmocka_unit_test(test_v2_mapped),
		cmocka_unit_test(test_v2_local),
		cmocka_unit_test(test_bad_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
