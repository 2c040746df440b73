/*
 * Open connections to a pass-mode service's listeners, counted on demand
 * with sock_diag(7) on Linux: TCP sockets whose local address is a
 * listener's, UNIX sockets bound to the same socket file (accepted ones
 * inherit its inode).  Elsewhere the count is unknown (-1) and only
 * arrivals (arrival.c) count as activity.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <linux/unix_diag.h>
#endif

#include <event2/event.h>

#include "soad.h"

#ifdef __linux__

/* TCP states in which a connection still belongs to the service. */
#define TCPF(s)		(1U << (s))
#define HELD_STATES	(TCPF(1) | TCPF(3) | TCPF(4) | TCPF(5) | TCPF(8) | \
			 TCPF(9) | TCPF(11))
#define ST_ESTABLISHED	1
#define ST_SYN_RECV	3
#define ST_LISTEN	10

/* The service's listeners, as bound, looked up once per count. */
struct diag_ctx {
	struct service		*dc_sv;
	struct sockaddr_storage	 dc_ss[SOAD_MAXLISTEN];
	uint32_t		 dc_sockino[SOAD_MAXLISTEN];
};

static int
diag_dump(void *req, size_t reqlen,
    int (*match)(const struct nlmsghdr *, struct diag_ctx *),
    struct diag_ctx *dc)
{
	struct sockaddr_nl	 nl = { .nl_family = AF_NETLINK };
	struct timeval		 tv = { .tv_sec = 2 };
	struct nlmsghdr		*h;
	union {
		struct nlmsghdr	 h;		/* aligns the buffer */
		char		 b[32768];
	}			 u;
	ssize_t			 n;
	int			 fd, count = 0, done = 0;

	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1)
		return -1;
	/* The kernel answers at once; never let a dump stall the loop. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, req, reqlen, 0, (struct sockaddr *)&nl,
	    sizeof(nl)) == -1)
		goto fail;
	while (!done) {
		if ((n = recv(fd, u.b, sizeof(u.b), 0)) <= 0)
			goto fail;
		for (h = &u.h; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR)
				goto fail;
			count += match(h, dc);
		}
	}
	close(fd);
	return count;
fail:
	close(fd);
	return -1;
}

static int
tcp_match(const struct nlmsghdr *h, struct diag_ctx *dc)
{
	const struct inet_diag_msg	*m = NLMSG_DATA(h);
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	size_t				 i;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return 0;
	/* Closed by the service and only lingering in the kernel. */
	if (m->idiag_state != ST_ESTABLISHED &&
	    m->idiag_state != ST_SYN_RECV && m->idiag_inode == 0)
		return 0;
	for (i = 0; i < dc->dc_sv->sv_nls; i++) {
		sin = (const struct sockaddr_in *)&dc->dc_ss[i];
		sin6 = (const struct sockaddr_in6 *)&dc->dc_ss[i];
		if (dc->dc_ss[i].ss_family != m->idiag_family)
			continue;
		if (sin->sin_family == AF_INET) {
			if (sin->sin_port == m->id.idiag_sport &&
			    (sin->sin_addr.s_addr == htonl(INADDR_ANY) ||
			    sin->sin_addr.s_addr == m->id.idiag_src[0]))
				return 1;
		} else {
			if (sin6->sin6_port == m->id.idiag_sport &&
			    (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) ||
			    memcmp(&sin6->sin6_addr, m->id.idiag_src, 16) == 0))
				return 1;
		}
	}
	return 0;
}

static const struct unix_diag_vfs *
unix_vfs(const struct nlmsghdr *h)
{
	const struct unix_diag_msg	*m = NLMSG_DATA(h);
	const struct rtattr		*a;
	int				 len;

	len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (a = (const struct rtattr *)(m + 1); RTA_OK(a, len);
	    a = RTA_NEXT(a, len))
		if (a->rta_type == UNIX_DIAG_VFS &&
		    RTA_PAYLOAD(a) >= sizeof(struct unix_diag_vfs))
			return RTA_DATA(a);
	return NULL;
}

/*
 * Learn how sock_diag names each listener's socket file: from the
 * listening socket itself (its socket inode is fstat's st_ino), so the
 * match below compares the kernel's values with the kernel's values,
 * whatever the filesystem (overlayfs, 64-bit inodes) makes lstat say.
 */
static int
unix_learn(const struct nlmsghdr *h, struct diag_ctx *dc)
{
	const struct unix_diag_msg	*m = NLMSG_DATA(h);
	const struct unix_diag_vfs	*vfs;
	struct listener			*ls;
	size_t				 i;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
	    m->udiag_state != ST_LISTEN || (vfs = unix_vfs(h)) == NULL)
		return 0;
	for (i = 0; i < dc->dc_sv->sv_nls; i++) {
		ls = &dc->dc_sv->sv_ls[i];
		if (dc->dc_sockino[i] == m->udiag_ino) {
			ls->ls_vfs_ino = vfs->udiag_vfs_ino;
			ls->ls_vfs_dev = vfs->udiag_vfs_dev;
			ls->ls_vfs_known = 1;
		}
	}
	return 0;
}

static int
unix_match(const struct nlmsghdr *h, struct diag_ctx *dc)
{
	const struct unix_diag_msg	*m = NLMSG_DATA(h);
	const struct unix_diag_vfs	*vfs;
	const struct listener		*ls;
	size_t				 i;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
	    m->udiag_state == ST_LISTEN || (vfs = unix_vfs(h)) == NULL)
		return 0;
	for (i = 0; i < dc->dc_sv->sv_nls; i++) {
		ls = &dc->dc_sv->sv_ls[i];
		if (ls->ls_vfs_known && ls->ls_vfs_ino == vfs->udiag_vfs_ino &&
		    ls->ls_vfs_dev == vfs->udiag_vfs_dev)
			return 1;
	}
	return 0;
}

static int
count_tcp(struct diag_ctx *dc, int family)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	r;
	} req;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = (unsigned char)family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = HELD_STATES;
	return diag_dump(&req, sizeof(req), tcp_match, dc);
}

static int
count_unix(struct diag_ctx *dc)
{
	struct {
		struct nlmsghdr		nlh;
		struct unix_diag_req	r;
	} req;
	struct stat	st;
	size_t		i;
	int		learn = 0;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = AF_UNIX;
	req.r.udiag_states = ~0U;
	req.r.udiag_show = UDIAG_SHOW_VFS;
	for (i = 0; i < dc->dc_sv->sv_nls; i++) {
		if (dc->dc_sv->sv_ls[i].ls_conf->lc_addr.ad_family != AF_UNIX ||
		    dc->dc_sv->sv_ls[i].ls_vfs_known)
			continue;
		if (fstat(dc->dc_sv->sv_ls[i].ls_fd, &st) == 0) {
			dc->dc_sockino[i] = (uint32_t)st.st_ino;
			learn = 1;
		}
	}
	if (learn && diag_dump(&req, sizeof(req), unix_learn, dc) == -1)
		return -1;
	return diag_dump(&req, sizeof(req), unix_match, dc);
}

/* Connections to the service's listeners still open; -1 if unknown. */
int
activity_open_conns(struct service *sv)
{
	struct diag_ctx	 dc;
	socklen_t	 len;
	int		 fam[3] = { 0, 0, 0 }, total = 0, n;
	size_t		 i;

	memset(&dc, 0, sizeof(dc));
	dc.dc_sv = sv;
	for (i = 0; i < sv->sv_nls; i++) {
		len = sizeof(dc.dc_ss[i]);
		if (getsockname(sv->sv_ls[i].ls_fd,
		    (struct sockaddr *)&dc.dc_ss[i], &len) == -1)
			return -1;
		switch (sv->sv_ls[i].ls_conf->lc_addr.ad_family) {
		case AF_UNIX:
			fam[0] = 1;
			break;
		case AF_INET:
			fam[1] = 1;
			break;
		default:	/* IPv6, and "PORT" (IPv6 or IPv4 fallback) */
			fam[2] = 1;
			if (sv->sv_ls[i].ls_conf->lc_addr.ad_any)
				fam[1] = 1;
		}
	}
	if (fam[0] && (n = count_unix(&dc)) >= 0)
		total += n;
	else if (fam[0])
		return -1;
	if (fam[1] && (n = count_tcp(&dc, AF_INET)) >= 0)
		total += n;
	else if (fam[1])
		return -1;
	if (fam[2] && (n = count_tcp(&dc, AF_INET6)) >= 0)
		total += n;
	else if (fam[2])
		return -1;
	return total;
}

#else /* !__linux__ */

int
activity_open_conns(struct service *sv)
{
	(void)sv;
	return -1;
}

#endif
