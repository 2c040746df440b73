/*
 * Open-connection counts for pass-mode services: how many connections are
 * still open on a service's listeners, asked by svc.c before it stops an
 * idle service and while connections keep it busy.
 *
 * What counts (unchanged from the first version): a TCP socket whose local
 * address and port are a listener's (any address of the listener's family
 * for one bound to every address) in state ESTABLISHED or SYN_RECV, or in a
 * closing state while a process still holds it (idiag_inode != 0); a UNIX
 * socket, not listening, bound to a listener's socket file, which
 * sock_diag names by the file's vfs inode and device as learnt from the
 * listening socket itself.  -1 means unknown: not Linux, or a dump failed.
 *
 * What a count costs: the service's own sockets, not the host's.
 *  - TCP is filtered in the kernel: inet_diag bytecode (one S_COND per
 *    listener: family, port and, for a specific address, the address) and
 *    the state mask, so the kernel walks its table and hands back only the
 *    service's sockets.  A UNIX dump cannot be filtered; it runs only when
 *    a UNIX listener is involved.
 *  - A busy service stays busy while one connection stays open: the
 *    dump that found its connections keeps one as a witness, and later
 *    counts first look that one up by its address pair and cookie (a hash
 *    lookup in the kernel, however many sockets the host has).  While it
 *    is held the count is reported as 1 (at least one); once it is gone
 *    the next count walks again and picks a new witness, or finds none.
 *  - Busy services are re-counted on one grid of CC_GRID seconds (see
 *    conncount_delay), so the counts of every service busy at once fall
 *    due together and one dump per family, with one filter covering them
 *    all, answers them; the others take the answer from a cache younger
 *    than CC_REUSE.  A service is re-counted every max(T/10, CC_GRID)
 *    seconds, so one with timeout T stops within max(1.1 T, T + 1 s) of
 *    its last connection closing.
 *  - The read is synchronous and bounded: the kernel computes a dump inside
 *    sendmsg/recvmsg and never waits for anything, so a non-blocking socket
 *    read with MSG_DONTWAIT returns every part at once (an EAGAIN is a
 *    failure, not a wait).  Driving it from the event loop would spend the
 *    same CPU in the same calls and make svc.c's idle check a two-phase
 *    state machine.  What bounds the block: a lookup is one socket; a walk
 *    returns only the counted services' own connections (88 bytes each),
 *    but its kernel time grows with the host's table (visiting each socket:
 *    ~11 ms at 40,000 sockets in the bench VM, half an unfiltered dump),
 *    so it runs only when a busy service's known connection closed, or to
 *    decide a stop.
 *
 * Each dump opens and closes its own netlink socket; nothing stays open.
 * The cache keeps copies of the listeners' addresses, never a pointer it
 * follows, so a service freed meanwhile costs nothing but a stale entry
 * that expires within a grid tick.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <linux/unix_diag.h>
#endif

#include "soad.h"

#define CC_GRID		1.0	/* seconds; the floor between busy re-counts */
/* A count this fresh answers without a dump: long enough for every
 * service due at one grid tick, too short to matter to a stop. */
#define CC_REUSE	0.05

static double
mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How often a busy service with this timeout wants a new count. */
static double
every(long timeout)
{
	double	i = (double)timeout / 10;

	return i < CC_GRID ? CC_GRID : i;
}

/* The first grid instant strictly after T + EVERY - CC_GRID. */
static double
next_tick(double t, double ev)
{
	double	x = (t + ev - CC_GRID) / CC_GRID;

	if (x < 0)
		x = 0;
	return ((double)(long long)x + 1) * CC_GRID;
}

/*
 * Seconds until a busy service with this timeout should be counted again:
 * the first instant of the shared grid later than every - CC_GRID from
 * now.  So consecutive counts are at most every apart (the stop bound
 * holds) and, once on the grid, at least CC_GRID apart; the first re-count
 * of a busy period may come sooner, to join the grid.
 */
double
conncount_delay(long timeout)
{
	double	now = mono();

	return next_tick(now, every(timeout)) - now;
}

#ifdef __linux__

/* TCP states in which a connection still belongs to the service. */
#define TCPF(s)		(1U << (s))
#define ST_ESTABLISHED	1
#define ST_SYN_RECV	3
#define ST_LISTEN	10
#define HELD_STATES	(TCPF(1) | TCPF(3) | TCPF(4) | TCPF(5) | TCPF(8) | \
			 TCPF(9) | TCPF(11))

#define CC_BCMAX	16384	/* filter bytes per dump; the kernel takes 64K */

/* One listener, as the kernel reports its sockets. */
struct cc_target {
	int		 ct_family;	/* AF_INET, AF_INET6 or AF_UNIX */
	int		 ct_any;	/* bound to every address */
	uint16_t	 ct_port;	/* host order */
	uint32_t	 ct_addr[4];	/* network order */
	uint32_t	 ct_vfs_ino;	/* AF_UNIX: the socket file */
	uint32_t	 ct_vfs_dev;
};

struct cc_entry {
	const void		*ce_key;	/* the service; compared only */
	struct cc_target	*ce_t;
	size_t			 ce_nt;
	double			 ce_at;		/* when ce_n was counted */
	double			 ce_every;
	int			 ce_n;
	int			 ce_got;	/* counting in progress */
	int			 ce_batch;	/* in this pass */
	int			 ce_walk;	/* in this pass's dumps */
	int			 ce_wfamily;	/* 0, or the witness's family */
	struct inet_diag_sockid	 ce_wid;	/* one of its connections */
};

static struct cc_entry	*cc;
static size_t		 ncc, cccap;
static size_t		 nread;		/* TCP sockets the kernel let through */

static int
diag_dump(void *req, size_t reqlen,
    void (*each)(const struct nlmsghdr *, void *), void *arg)
{
	struct sockaddr_nl	 nl = { .nl_family = AF_NETLINK };
	socklen_t		 nllen;
	struct nlmsghdr		*h;
	union {
		struct nlmsghdr	 h;		/* aligns the buffer */
		char		 b[32768];
	}			 u;
	const struct nlmsgerr	*err;
	ssize_t			 n;
	int			 fd, done = 0;

	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, NETLINK_SOCK_DIAG)) == -1)
		return -1;
	if (sendto(fd, req, reqlen, 0, (struct sockaddr *)&nl,
	    sizeof(nl)) == -1)
		goto fail;
	while (!done) {
		nllen = sizeof(nl);
		/* Every part is ready when asked for: EAGAIN is a failure. */
		n = recvfrom(fd, u.b, sizeof(u.b), MSG_DONTWAIT | MSG_TRUNC,
		    (struct sockaddr *)&nl, &nllen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || (size_t)n > sizeof(u.b) || nl.nl_pid != 0)
			goto fail;
		for (h = &u.h; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				err = NLMSG_DATA(h);
				if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(*err)))
					log_debug("sock_diag: %s",
					    strerror(-err->error));
				goto fail;
			}
			each(h, arg);
		}
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
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

static int
unix_dump(uint32_t states, void (*each)(const struct nlmsghdr *, void *),
    void *arg)
{
	struct {
		struct nlmsghdr		nlh;
		struct unix_diag_req	r;
	} req;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = AF_UNIX;
	req.r.udiag_states = states;
	req.r.udiag_show = UDIAG_SHOW_VFS;
	return diag_dump(&req, sizeof(req), each, arg);
}

struct learn {
	struct service	*lr_sv;
	uint32_t	 lr_sockino[SOAD_MAXLISTEN];
};

/*
 * Learn how sock_diag names each listener's socket file: from the
 * listening socket itself (its socket inode is fstat's st_ino), so the
 * match compares the kernel's values with the kernel's values, whatever
 * the filesystem (overlayfs, 64-bit inodes) makes lstat say.
 */
static void
learn_each(const struct nlmsghdr *h, void *arg)
{
	const struct unix_diag_msg	*m = NLMSG_DATA(h);
	const struct unix_diag_vfs	*vfs;
	struct learn			*lr = arg;
	struct listener			*ls;
	size_t				 i;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
	    m->udiag_state != ST_LISTEN || (vfs = unix_vfs(h)) == NULL)
		return;
	for (i = 0; i < lr->lr_sv->sv_nls; i++) {
		ls = &lr->lr_sv->sv_ls[i];
		if (lr->lr_sockino[i] != 0 &&
		    lr->lr_sockino[i] == m->udiag_ino) {
			ls->ls_vfs_ino = vfs->udiag_vfs_ino;
			ls->ls_vfs_dev = vfs->udiag_vfs_dev;
			ls->ls_vfs_known = 1;
		}
	}
}

static int
unix_learn(struct service *sv)
{
	struct learn	lr;
	struct stat	st;
	size_t		i;
	int		learn = 0;

	memset(&lr, 0, sizeof(lr));
	lr.lr_sv = sv;
	for (i = 0; i < sv->sv_nls; i++) {
		if (sv->sv_ls[i].ls_conf->lc_addr.ad_family != AF_UNIX ||
		    sv->sv_ls[i].ls_vfs_known)
			continue;
		if (fstat(sv->sv_ls[i].ls_fd, &st) == 0) {
			lr.lr_sockino[i] = (uint32_t)st.st_ino;
			learn = 1;
		}
	}
	return learn ? unix_dump(TCPF(ST_LISTEN), learn_each, &lr) : 0;
}

/* The service's listeners as the kernel names their sockets. */
static int
targets(struct service *sv, struct cc_target *t, size_t *ntp)
{
	struct sockaddr_storage		 ss;
	const struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	const struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	const struct listener		*ls;
	socklen_t			 len;
	size_t				 i, n = 0;

	for (i = 0; i < sv->sv_nls; i++) {
		ls = &sv->sv_ls[i];
		len = sizeof(ss);
		if (getsockname(ls->ls_fd, (struct sockaddr *)&ss, &len) == -1)
			return -1;
		memset(&t[n], 0, sizeof(t[n]));
		t[n].ct_family = ss.ss_family;
		switch (ss.ss_family) {
		case AF_INET:
			t[n].ct_port = ntohs(sin->sin_port);
			t[n].ct_addr[0] = sin->sin_addr.s_addr;
			t[n].ct_any = sin->sin_addr.s_addr == htonl(INADDR_ANY);
			break;
		case AF_INET6:
			t[n].ct_port = ntohs(sin6->sin6_port);
			memcpy(t[n].ct_addr, &sin6->sin6_addr, 16);
			t[n].ct_any = IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
			break;
		case AF_UNIX:
			if (!ls->ls_vfs_known)
				continue;
			t[n].ct_vfs_ino = ls->ls_vfs_ino;
			t[n].ct_vfs_dev = ls->ls_vfs_dev;
			break;
		default:
			continue;
		}
		n++;
	}
	*ntp = n;
	return 0;
}

static size_t
addrlen(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Bytes of filter one target of FAMILY takes: the condition and a jump. */
static size_t
cond_size(int family)
{
	return sizeof(struct inet_diag_bc_op) +
	    sizeof(struct inet_diag_hostcond) + addrlen(family);
}

/*
 * The filter: "accept if any listener of the batch matches".  Each target
 * is an S_COND (family, port, address/prefix) that falls through to a JMP
 * to the end (accept) when it matches and skips it to the next condition
 * when not; the last condition's "no" jumps past the end (reject).  The
 * kernel's audit follows the "yes" links, so every "no" target must lie
 * on that chain, which this layout gives.
 */
static unsigned char *
tcp_filter(int family, size_t *lenp)
{
	struct inet_diag_bc_op		 op;
	struct inet_diag_hostcond	 hc;
	const struct cc_target		*t;
	unsigned char			*bc;
	size_t				 i, j, n = 0, k = 0, len, off = 0;
	size_t				 cs = cond_size(family);

	for (i = 0; i < ncc; i++)
		for (j = 0; cc[i].ce_walk && j < cc[i].ce_nt; j++)
			n += cc[i].ce_t[j].ct_family == family;
	if (n == 0)
		return NULL;
	len = n * cs + (n - 1) * sizeof(op);
	if ((bc = calloc(1, len)) == NULL)
		return NULL;
	for (i = 0; i < ncc; i++) {
		for (j = 0; cc[i].ce_walk && j < cc[i].ce_nt; j++) {
			t = &cc[i].ce_t[j];
			if (t->ct_family != family)
				continue;
			k++;
			memset(&op, 0, sizeof(op));
			op.code = INET_DIAG_BC_S_COND;
			op.yes = (unsigned char)cs;
			/* No match: the next condition, or past the end. */
			op.no = (unsigned short)(k < n ? cs + sizeof(op) :
			    len - off + sizeof(op));
			memset(&hc, 0, sizeof(hc));
			hc.family = (unsigned char)family;
			hc.prefix_len = t->ct_any ? 0 :
			    (unsigned char)(8 * addrlen(family));
			hc.port = t->ct_port;
			memcpy(bc + off, &op, sizeof(op));
			memcpy(bc + off + sizeof(op), &hc, sizeof(hc));
			memcpy(bc + off + sizeof(op) + sizeof(hc), t->ct_addr,
			    addrlen(family));
			off += cs;
			if (k == n)
				break;
			memset(&op, 0, sizeof(op));
			op.code = INET_DIAG_BC_JMP;
			op.yes = sizeof(op);
			op.no = (unsigned short)(len - off);
			memcpy(bc + off, &op, sizeof(op));
			off += sizeof(op);
		}
	}
	*lenp = len;
	return bc;
}

/* A connection the service still has: HELD_STATES, and once closing only
 * while a process holds it (not just lingering in the kernel). */
static int
held(const struct inet_diag_msg *m)
{
	if (m->idiag_state >= 32 || (HELD_STATES & TCPF(m->idiag_state)) == 0)
		return 0;
	return m->idiag_state == ST_ESTABLISHED ||
	    m->idiag_state == ST_SYN_RECV || m->idiag_inode != 0;
}

/*
 * Is the entry's witness, a connection the last dump found, still held?
 * One lookup by its address pair and cookie (a hash lookup in the kernel,
 * whatever the host's size) instead of a walk of the whole table.  Any
 * doubt (gone, reused, an error) answers no, and the walk decides.
 */
static int
witness_held(const struct cc_entry *e)
{
	struct sockaddr_nl		 nl = { .nl_family = AF_NETLINK };
	socklen_t			 nllen = sizeof(nl);
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	r;
	}				 req;
	union {
		struct nlmsghdr		 h;
		char			 b[8192];
	}				 u;
	const struct inet_diag_msg	*m;
	ssize_t				 n;
	int				 fd, ok = 0;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = (unsigned char)e->ce_wfamily;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = HELD_STATES;
	req.r.id = e->ce_wid;
	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, NETLINK_SOCK_DIAG)) == -1)
		return 0;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&nl,
	    sizeof(nl)) == -1)
		goto out;
	do
		n = recvfrom(fd, u.b, sizeof(u.b), MSG_DONTWAIT | MSG_TRUNC,
		    (struct sockaddr *)&nl, &nllen);
	while (n == -1 && errno == EINTR);
	if (n <= 0 || (size_t)n > sizeof(u.b) || nl.nl_pid != 0 ||
	    !NLMSG_OK(&u.h, n) || u.h.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    u.h.nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		goto out;
	m = NLMSG_DATA(&u.h);
	ok = held(m) && m->id.idiag_sport == e->ce_wid.idiag_sport &&
	    m->id.idiag_dport == e->ce_wid.idiag_dport &&
	    memcmp(m->id.idiag_cookie, e->ce_wid.idiag_cookie,
	    sizeof(m->id.idiag_cookie)) == 0;
out:
	close(fd);
	return ok;
}

static void
tcp_each(const struct nlmsghdr *h, void *arg)
{
	const struct inet_diag_msg	*m = NLMSG_DATA(h);
	const struct cc_target		*t;
	size_t				 i, j;

	(void)arg;
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return;
	nread++;
	if (!held(m))
		return;
	for (i = 0; i < ncc; i++) {
		for (j = 0; cc[i].ce_walk && j < cc[i].ce_nt; j++) {
			t = &cc[i].ce_t[j];
			if (t->ct_family == m->idiag_family &&
			    t->ct_port == ntohs(m->id.idiag_sport) &&
			    (t->ct_any || memcmp(t->ct_addr, m->id.idiag_src,
			    addrlen(t->ct_family)) == 0)) {
				cc[i].ce_got++;
				if (cc[i].ce_wfamily == 0) {
					cc[i].ce_wfamily = m->idiag_family;
					cc[i].ce_wid = m->id;
				}
				break;
			}
		}
	}
}

/*
 * The one local port every walking target of FAMILY has, or 0.  Given in
 * the request, the kernel skips other ports before it runs the filter
 * (5-10 % of a walk in the bench).
 */
static uint16_t
one_port(int family)
{
	const struct cc_target	*t;
	size_t			 i, j;
	uint16_t		 port = 0;

	for (i = 0; i < ncc; i++) {
		for (j = 0; cc[i].ce_walk && j < cc[i].ce_nt; j++) {
			t = &cc[i].ce_t[j];
			if (t->ct_family != family)
				continue;
			if (port != 0 && t->ct_port != port)
				return 0;
			port = t->ct_port;
		}
	}
	return port;
}

static int
tcp_count(int family)
{
	struct nlmsghdr		*nlh;
	struct inet_diag_req_v2	*r;
	struct rtattr		*rta;
	unsigned char		*bc, *req;
	size_t			 bclen, len;
	uint16_t		 sport = one_port(family);
	int			 rc;

	if ((bc = tcp_filter(family, &bclen)) == NULL)
		return 0;
	len = NLMSG_LENGTH(sizeof(*r)) + RTA_LENGTH(bclen);
	if ((req = calloc(1, len)) == NULL) {
		free(bc);
		return -1;
	}
	nlh = (struct nlmsghdr *)(void *)req;
	nlh->nlmsg_len = (uint32_t)len;
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r = NLMSG_DATA(nlh);
	r->sdiag_family = (unsigned char)family;
	r->sdiag_protocol = IPPROTO_TCP;
	r->idiag_states = HELD_STATES;
	r->id.idiag_sport = htons(sport);
	rta = (struct rtattr *)(void *)(req + NLMSG_LENGTH(sizeof(*r)));
	rta->rta_type = INET_DIAG_REQ_BYTECODE;
	rta->rta_len = (unsigned short)RTA_LENGTH(bclen);
	memcpy(RTA_DATA(rta), bc, bclen);
	rc = diag_dump(req, len, tcp_each, NULL);
	free(req);
	free(bc);
	return rc;
}

static void
unix_each(const struct nlmsghdr *h, void *arg)
{
	const struct unix_diag_msg	*m = NLMSG_DATA(h);
	const struct unix_diag_vfs	*vfs;
	const struct cc_target		*t;
	size_t				 i, j;

	(void)arg;
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
	    m->udiag_state == ST_LISTEN || (vfs = unix_vfs(h)) == NULL)
		return;
	for (i = 0; i < ncc; i++) {
		for (j = 0; cc[i].ce_walk && j < cc[i].ce_nt; j++) {
			t = &cc[i].ce_t[j];
			if (t->ct_family == AF_UNIX &&
			    t->ct_vfs_ino == vfs->udiag_vfs_ino &&
			    t->ct_vfs_dev == vfs->udiag_vfs_dev) {
				cc[i].ce_got++;
				break;
			}
		}
	}
}

/* When a busy entry's service will ask again. */
static double
due(const struct cc_entry *e)
{
	return next_tick(e->ce_at, e->ce_every);
}

static void
drop(size_t i)
{
	free(cc[i].ce_t);
	cc[i] = cc[--ncc];
}

/*
 * Forget counts nobody will ask for: a busy service that let its grid
 * tick pass (it stopped, got arrivals, or is gone), and an idle one as
 * soon as its count is too old to reuse.
 */
static void
expire(double now)
{
	size_t	i = 0;

	while (i < ncc) {
		if (cc[i].ce_n > 0 ? now >= due(&cc[i]) + CC_GRID :
		    now - cc[i].ce_at >= CC_REUSE)
			drop(i);
		else
			i++;
	}
}

/*
 * Put SELF and every busy entry due for a count by now into the dump,
 * within the filter's size limit, and count them all.
 */
static int
count_batch(size_t self, double now)
{
	size_t	i, j, nb = 0, nw = 0, bytes[2] = { 0, 0 }, need[2];
	int	fam[3] = { 0, 0, 0 };

	nread = 0;
	for (i = 0; i < ncc; i++) {
		cc[i].ce_batch = cc[i].ce_walk = 0;
		cc[i].ce_got = 0;
	}
	for (i = 0; i < ncc; i++) {
		if (i != self && (cc[i].ce_n <= 0 ||
		    due(&cc[i]) > now + CC_REUSE))
			continue;
		need[0] = need[1] = 0;
		for (j = 0; j < cc[i].ce_nt; j++) {
			if (cc[i].ce_t[j].ct_family == AF_INET)
				need[0] += cond_size(AF_INET) + 4;
			else if (cc[i].ce_t[j].ct_family == AF_INET6)
				need[1] += cond_size(AF_INET6) + 4;
		}
		if (i != self && (bytes[0] + need[0] > CC_BCMAX ||
		    bytes[1] + need[1] > CC_BCMAX))
			continue;
		bytes[0] += need[0];
		bytes[1] += need[1];
		cc[i].ce_batch = 1;
		nb++;
		/* Busy for as long as one known connection stays open. */
		if (cc[i].ce_wfamily != 0 && witness_held(&cc[i])) {
			cc[i].ce_got = 1;
			nw++;
			continue;
		}
		cc[i].ce_wfamily = 0;
		cc[i].ce_walk = 1;
		for (j = 0; j < cc[i].ce_nt; j++) {
			switch (cc[i].ce_t[j].ct_family) {
			case AF_INET:
				fam[0] = 1;
				break;
			case AF_INET6:
				fam[1] = 1;
				break;
			default:
				fam[2] = 1;
			}
		}
	}
	if ((fam[0] && tcp_count(AF_INET) == -1) ||
	    (fam[1] && tcp_count(AF_INET6) == -1) ||
	    (fam[2] && unix_dump(~TCPF(ST_LISTEN), unix_each, NULL) == -1))
		return -1;
	for (i = 0; i < ncc; i++) {
		if (!cc[i].ce_batch)
			continue;
		cc[i].ce_n = cc[i].ce_got;
		cc[i].ce_at = now;
	}
	log_debug("open connections: %zu service%s counted in one pass "
	    "(%zu by a held connection, %zu TCP sockets read, %.2f ms)", nb,
	    nb == 1 ? "" : "s", nw, nread, (mono() - now) * 1e3);
	return 0;
}

/* Connections open on the service's listeners; -1 if unknown. */
int
conncount_open(struct service *sv)
{
	struct cc_target	 t[SOAD_MAXLISTEN];
	struct cc_entry		*e, *n;
	size_t			 nt, i;
	double			 now;

	if (sv->sv_nls > SOAD_MAXLISTEN || unix_learn(sv) == -1 ||
	    targets(sv, t, &nt) == -1)
		return -1;
	now = mono();
	expire(now);
	for (i = 0; i < ncc && cc[i].ce_key != sv; i++)
		;
	if (i < ncc && cc[i].ce_nt == nt &&
	    memcmp(cc[i].ce_t, t, nt * sizeof(*t)) == 0 &&
	    now - cc[i].ce_at < CC_REUSE)
		return cc[i].ce_n;
	if (i == ncc) {
		if (ncc == cccap) {
			if ((n = reallocarray(cc, cccap ? cccap * 2 : 8,
			    sizeof(*cc))) == NULL)
				return -1;
			cc = n;
			cccap = cccap ? cccap * 2 : 8;
		}
		memset(&cc[ncc], 0, sizeof(cc[ncc]));
		cc[ncc++].ce_key = sv;
	}
	e = &cc[i];
	if (e->ce_nt != nt ||
	    (nt > 0 && memcmp(e->ce_t, t, nt * sizeof(*t)) != 0))
		e->ce_wfamily = 0;	/* another service's, maybe */
	free(e->ce_t);
	e->ce_t = NULL;
	e->ce_nt = 0;
	if ((e->ce_t = calloc(nt ? nt : 1, sizeof(*t))) == NULL) {
		drop(i);
		return -1;
	}
	memcpy(e->ce_t, t, nt * sizeof(*t));
	e->ce_nt = nt;
	e->ce_every = every(sv->sv_conf->sc_timeout);
	if (count_batch(i, now) == -1) {
		drop(i);
		return -1;
	}
	return cc[i].ce_n;
}

#else /* !__linux__ */

int
conncount_open(struct service *sv)
{
	(void)sv;
	return -1;
}

#endif
