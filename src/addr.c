/*
 * Listen addresses: parsing, printing and overlap tests.  Pure functions
 * over struct addr; no sockets are made here.
 *
 *	/abs/path		UNIX stream socket
 *	PORT or *:PORT		every address (IPv6 dual-stack, or IPv4)
 *	A.B.C.D:PORT		one IPv4 address
 *	[V6ADDR]:PORT		one IPv6 address (IPV6_V6ONLY)
 *
 * Only numeric hosts and ports: soad never resolves names at start-up,
 * so a slow resolver cannot stall it.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "soad.h"

static int
parse_port(const char *s, in_port_t *port)
{
	long	v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = htons((in_port_t)v);
	return 0;
}

int
addr_parse(const char *s, struct addr *a, char *err, size_t errlen)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&a->ad_ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a->ad_ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&a->ad_ss;
	char			 host[INET6_ADDRSTRLEN + 2];
	const char		*colon, *portstr;
	in_port_t		 port;
	size_t			 hlen;

	memset(a, 0, sizeof(*a));
	if (*s == '\0') {
		snprintf(err, errlen, "empty listen address");
		return -1;
	}
	if (*s == '/') {
		if (strlen(s) >= sizeof(sun->sun_path)) {
			snprintf(err, errlen, "UNIX socket path \"%s\" is "
			    "longer than %zu bytes", s,
			    sizeof(sun->sun_path) - 1);
			return -1;
		}
		a->ad_family = sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, s);
		a->ad_len = sizeof(*sun);
		return 0;
	}
	if (*s == '@' || *s == '.' || strchr(s, '/') != NULL) {
		snprintf(err, errlen, "listen address \"%s\": a UNIX socket "
		    "path must be absolute", s);
		return -1;
	}
	if ((colon = strrchr(s, ':')) == NULL) {
		if (parse_port(s, &port) == -1)
			goto badport;
		a->ad_any = 1;
		a->ad_family = sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		sin6->sin6_addr = in6addr_any;
		a->ad_len = sizeof(*sin6);
		return 0;
	}
	portstr = colon + 1;
	if (parse_port(portstr, &port) == -1)
		goto badport;
	hlen = (size_t)(colon - s);
	if (hlen == 1 && *s == '*') {
		a->ad_any = 1;
		a->ad_family = sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		sin6->sin6_addr = in6addr_any;
		a->ad_len = sizeof(*sin6);
		return 0;
	}
	if (hlen >= sizeof(host))
		goto badhost;
	if (*s == '[') {
		if (hlen < 3 || s[hlen - 1] != ']')
			goto badhost;
		memcpy(host, s + 1, hlen - 2);
		host[hlen - 2] = '\0';
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			goto badhost;
		/* Neither can be bound as written: a v4-mapped address takes
		 * the IPv4 form, a link-local one needs an interface. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			snprintf(err, errlen, "listen address \"%s\": write an "
			    "IPv4-mapped address as A.B.C.D:PORT", s);
			return -1;
		}
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) {
			snprintf(err, errlen, "listen address \"%s\": link-local "
			    "IPv6 addresses are not supported", s);
			return -1;
		}
		a->ad_family = sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		a->ad_len = sizeof(*sin6);
		return 0;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		goto badhost;
	a->ad_family = sin->sin_family = AF_INET;
	sin->sin_port = port;
	a->ad_len = sizeof(*sin);
	return 0;

badport:
	snprintf(err, errlen, "listen address \"%s\": port must be a number "
	    "from 1 to 65535", s);
	return -1;
badhost:
	snprintf(err, errlen, "listen address \"%s\": host must be a numeric "
	    "IPv4 address, [IPv6] address or *", s);
	return -1;
}

/*
 * "NAME=ADDR" gives a listener its own LISTEN_FDNAMES entry.  The prefix
 * is a name only if it is made of [A-Za-z0-9_.-], so a path such as
 * "/run/a=b.sock" is never split.  Returns 1 if a name was found.
 */
int
addr_split_name(const char *s, char *name, size_t namelen, const char **rest)
{
	const char	*p;

	*rest = s;
	for (p = s; *p != '\0' && *p != '='; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' &&
		    *p != '.')
			return 0;
	if (*p != '=' || p == s)
		return 0;
	if ((size_t)(p - s) >= namelen)
		return -1;
	memcpy(name, s, (size_t)(p - s));
	name[p - s] = '\0';
	*rest = p + 1;
	return 1;
}

void
addr_fmt(const struct addr *a, char *buf, size_t len)
{
	const struct sockaddr_in	*sin = (const void *)&a->ad_ss;
	const struct sockaddr_in6	*sin6 = (const void *)&a->ad_ss;
	char				 h[INET6_ADDRSTRLEN];

	switch (a->ad_family) {
	case AF_UNIX:
		snprintf(buf, len, "%s", addr_path(a));
		break;
	case AF_INET:
		inet_ntop(AF_INET, &sin->sin_addr, h, sizeof(h));
		snprintf(buf, len, "%s:%d", h, ntohs(sin->sin_port));
		break;
	case AF_INET6:
		if (a->ad_any)
			snprintf(buf, len, "*:%d", ntohs(sin6->sin6_port));
		else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, h, sizeof(h));
			snprintf(buf, len, "[%s]:%d", h,
			    ntohs(sin6->sin6_port));
		}
		break;
	default:
		snprintf(buf, len, "?");
	}
}

int
addr_port(const struct addr *a)
{
	if (a->ad_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ad_ss)->sin_port);
	if (a->ad_family == AF_INET6)
		return ntohs(
		    ((const struct sockaddr_in6 *)&a->ad_ss)->sin6_port);
	return 0;
}

const char *
addr_path(const struct addr *a)
{
	if (a->ad_family != AF_UNIX)
		return NULL;
	return ((const struct sockaddr_un *)&a->ad_ss)->sun_path;
}

static int
is_wild(const struct addr *a)
{
	const struct sockaddr_in	*sin = (const void *)&a->ad_ss;
	const struct sockaddr_in6	*sin6 = (const void *)&a->ad_ss;

	if (a->ad_any)
		return 1;
	if (a->ad_family == AF_INET)
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/* Would binding both addresses collide?  Mirrors the kernel's rules. */
int
addr_conflict(const struct addr *a, const struct addr *b)
{
	const struct sockaddr_in	*a4 = (const void *)&a->ad_ss;
	const struct sockaddr_in	*b4 = (const void *)&b->ad_ss;
	const struct sockaddr_in6	*a6 = (const void *)&a->ad_ss;
	const struct sockaddr_in6	*b6 = (const void *)&b->ad_ss;

	if (a->ad_family == AF_UNIX || b->ad_family == AF_UNIX)
		return a->ad_family == b->ad_family &&
		    strcmp(addr_path(a), addr_path(b)) == 0;
	if (addr_port(a) != addr_port(b))
		return 0;
	if (a->ad_any || b->ad_any)	/* dual-stack covers both families */
		return 1;
	if (a->ad_family != b->ad_family)
		return 0;
	if (is_wild(a) || is_wild(b))
		return 1;
	if (a->ad_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return memcmp(&a6->sin6_addr, &b6->sin6_addr,
	    sizeof(a6->sin6_addr)) == 0;
}

/*
 * "ADDR" or "ADDR/BITS", IPv4 or IPv6, numeric only.  Host bits beyond
 * the prefix must be zero, as a typo there usually means a wrong prefix.
 */
int
addr_mask_parse(const char *s, struct addr_mask *m)
{
	char		 host[INET6_ADDRSTRLEN];
	const char	*slash = strchr(s, '/'), *p;
	size_t		 hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	int		 max, bits, i;

	memset(m, 0, sizeof(*m));
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, m->am_addr) == 1) {
		m->am_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, m->am_addr) == 1) {
		m->am_family = AF_INET6;
		max = 128;
	} else
		return -1;
	bits = max;
	if (slash != NULL) {
		p = slash + 1;
		if (*p == '\0' || strlen(p) > 3)
			return -1;
		for (bits = 0; *p != '\0'; p++) {
			if (!isdigit((unsigned char)*p))
				return -1;
			bits = bits * 10 + (*p - '0');
		}
		if (bits > max)
			return -1;
	}
	m->am_bits = bits;
	for (i = bits; i < max; i++)
		if (m->am_addr[i / 8] & (0x80 >> (i % 8)))
			return -1;
	return 0;
}

/* Does client address SA fall in M?  IPv4-mapped IPv6 counts as IPv4. */
int
addr_mask_match(const struct addr_mask *m, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin = (const void *)sa;
	const struct sockaddr_in6	*sin6 = (const void *)sa;
	const unsigned char		*a;
	int				 full, rest;

	if (sa->sa_family == AF_INET && m->am_family == AF_INET)
		a = (const unsigned char *)&sin->sin_addr;
	else if (sa->sa_family == AF_INET6 && m->am_family == AF_INET6)
		a = sin6->sin6_addr.s6_addr;
	else if (sa->sa_family == AF_INET6 && m->am_family == AF_INET &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		a = sin6->sin6_addr.s6_addr + 12;
	else
		return 0;
	full = m->am_bits / 8;
	rest = m->am_bits % 8;
	if (memcmp(a, m->am_addr, (size_t)full) != 0)
		return 0;
	return rest == 0 ||
	    ((a[full] ^ m->am_addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/*
 * A client's address for logs and the environment: an IPv4-mapped IPv6
 * one (a dual-stack listener's IPv4 client) as the IPv4 it is.  HOST
 * gets the address; returns the port, or -1 for a client with none
 * (UNIX), HOST then empty.
 */
int
addr_peer_host(const struct sockaddr *sa, char *host, size_t len)
{
	const struct sockaddr_in	*sin = (const void *)sa;
	const struct sockaddr_in6	*sin6 = (const void *)sa;

	host[0] = '\0';
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, host, (socklen_t)len);
		return ntohs(sin->sin_port);
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		inet_ntop(AF_INET, sin6->sin6_addr.s6_addr + 12, host,
		    (socklen_t)len);
	else
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, (socklen_t)len);
	return ntohs(sin6->sin6_port);
}

/* "A.B.C.D:PORT", "[V6]:PORT", or "local" for a client with no address. */
void
addr_peer_fmt(const struct sockaddr *sa, char *buf, size_t len)
{
	char	host[INET6_ADDRSTRLEN];
	int	port = addr_peer_host(sa, host, sizeof(host));

	if (port == -1)
		snprintf(buf, len, "local");
	else if (strchr(host, ':') != NULL)
		snprintf(buf, len, "[%s]:%d", host, port);
	else
		snprintf(buf, len, "%s:%d", host, port);
}
