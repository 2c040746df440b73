/*
 * The PROXY protocol header (haproxy's doc/proxy-protocol.txt), sent ahead
 * of a proxied connection's first byte so the service learns who the
 * client is.  Pure: bytes from two addresses, no fds, no allocation.
 *
 * Only TCP over IPv4 or IPv6 has addresses to tell.  Anything else (a UNIX
 * client, a missing address, a mixed pair) is v1 "PROXY UNKNOWN" or the v2
 * LOCAL command, which a receiver reads as "use the real endpoints".  An
 * IPv6 listener's IPv4 clients arrive as IPv4-mapped pairs; they are sent
 * as TCP4, as a receiver that filters by IPv4 address expects.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "soad.h"

#define PP2_HDR		16	/* signature, version/command, family, length */
#define PP2_CMD_LOCAL	0x20	/* version 2 in the high nibble */
#define PP2_CMD_PROXY	0x21
#define PP2_TCP4	0x11	/* AF_INET, SOCK_STREAM */
#define PP2_TCP6	0x21	/* AF_INET6, SOCK_STREAM */
#define PP2_UNSPEC	0x00

static const unsigned char pp2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 'Q', 'U', 'I', 'T', 0x0a
};

/* A connection's two ends, reduced to what the header carries. */
struct pp_ends {
	int			 pe_family;	/* AF_INET, AF_INET6, AF_UNSPEC */
	unsigned char		 pe_src[16];	/* network order; 4 for AF_INET */
	unsigned char		 pe_dst[16];
	uint16_t		 pe_sport;	/* network order */
	uint16_t		 pe_dport;
};

static const unsigned char v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* One address as IPv4 (mapped or not: 4) or IPv6 (16); 0 otherwise. */
static size_t
pp_addr(const struct sockaddr *sa, unsigned char *ip, uint16_t *port)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;

	if (sa == NULL)
		return 0;
	switch (sa->sa_family) {
	case AF_INET:
		memcpy(&sin, sa, sizeof(sin));
		memcpy(ip, &sin.sin_addr, 4);
		*port = sin.sin_port;
		return 4;
	case AF_INET6:
		memcpy(&sin6, sa, sizeof(sin6));
		*port = sin6.sin6_port;
		if (memcmp(&sin6.sin6_addr, v4mapped, sizeof(v4mapped)) == 0) {
			memcpy(ip, (unsigned char *)&sin6.sin6_addr + 12, 4);
			return 4;
		}
		memcpy(ip, &sin6.sin6_addr, 16);
		return 16;
	}
	return 0;
}

static void
pp_ends(const struct sockaddr *src, const struct sockaddr *dst,
    struct pp_ends *pe)
{
	size_t	sl, dl;

	memset(pe, 0, sizeof(*pe));
	sl = pp_addr(src, pe->pe_src, &pe->pe_sport);
	dl = pp_addr(dst, pe->pe_dst, &pe->pe_dport);
	if (sl == 4 && dl == 4)
		pe->pe_family = AF_INET;
	else if (sl == 16 && dl == 16)
		pe->pe_family = AF_INET6;
	else
		pe->pe_family = AF_UNSPEC;
}

static size_t
pp_v1(const struct pp_ends *pe, char *out)
{
	char	s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int	n;

	if (pe->pe_family == AF_UNSPEC ||
	    inet_ntop(pe->pe_family, pe->pe_src, s, sizeof(s)) == NULL ||
	    inet_ntop(pe->pe_family, pe->pe_dst, d, sizeof(d)) == NULL)
		return (size_t)snprintf(out, PROXYPROTO_MAX, "PROXY UNKNOWN\r\n");
	n = snprintf(out, PROXYPROTO_MAX, "PROXY %s %s %s %u %u\r\n",
	    pe->pe_family == AF_INET ? "TCP4" : "TCP6", s, d,
	    (unsigned)ntohs(pe->pe_sport), (unsigned)ntohs(pe->pe_dport));
	return n < 0 ? 0 : (size_t)n;	/* at most 104 bytes: it fits */
}

static size_t
pp_v2(const struct pp_ends *pe, unsigned char *out)
{
	size_t	alen, len;

	memcpy(out, pp2_sig, sizeof(pp2_sig));
	alen = pe->pe_family == AF_INET ? 4 :
	    pe->pe_family == AF_INET6 ? 16 : 0;
	if (alen == 0) {
		out[12] = PP2_CMD_LOCAL;
		out[13] = PP2_UNSPEC;
		out[14] = out[15] = 0;
		return PP2_HDR;
	}
	out[12] = PP2_CMD_PROXY;
	out[13] = alen == 4 ? PP2_TCP4 : PP2_TCP6;
	len = 2 * alen + 4;
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	memcpy(out + PP2_HDR, pe->pe_src, alen);
	memcpy(out + PP2_HDR + alen, pe->pe_dst, alen);
	memcpy(out + PP2_HDR + 2 * alen, &pe->pe_sport, 2);
	memcpy(out + PP2_HDR + 2 * alen + 2, &pe->pe_dport, 2);
	return PP2_HDR + len;
}

/*
 * The header for a connection from SRC (the client) to DST (the address
 * it reached), version 1 or 2.  Returns its length, or 0 if the version is
 * unknown or BUF too small.  Not NUL-terminated.
 */
size_t
proxyproto_header(int version, const struct sockaddr *src,
    const struct sockaddr *dst, char *buf, size_t len)
{
	struct pp_ends	pe;
	char		tmp[PROXYPROTO_MAX];
	size_t		n;

	pp_ends(src, dst, &pe);
	if (version == 1)
		n = pp_v1(&pe, tmp);
	else if (version == 2)
		n = pp_v2(&pe, (unsigned char *)tmp);
	else
		return 0;
	if (n == 0 || n > len)
		return 0;
	memcpy(buf, tmp, n);
	return n;
}
