/*
 * Per-source limits of the accept path: connections open, and started in
 * the current minute, from one client address to one service.  A hash
 * table keyed by (service, address); IPv4 clients are keyed as
 * IPv4-mapped IPv6, so a dual-stack listener counts them as one.  An
 * entry lives while it has open connections or its minute runs, and
 * expired entries are dropped as their chain is walked: memory is
 * bounded by the sources seen in the last minute.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "soad.h"

#define SRC_BUCKETS	4096

struct srcent {
	struct srcent		*se_next;
	const struct service	*se_svc;
	int			 se_n;		/* open */
	long			 se_r;		/* started in the minute */
	time_t			 se_t;		/* ... that began then */
	unsigned char		 se_addr[16];	/* IPv4 as mapped IPv6 */
};

static struct srcent		*src_tab[SRC_BUCKETS];

/* The client's address as a mapped IPv6 key; 0 for UNIX clients. */
static int
src_key(const struct conn *cn, unsigned char key[16])
{
	memset(key, 0, 16);
	if (cn->cn_peer.sa.sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &cn->cn_peer.sin.sin_addr, 4);
		return 1;
	}
	if (cn->cn_peer.sa.sa_family == AF_INET6) {
		memcpy(key, &cn->cn_peer.sin6.sin6_addr, 16);
		return 1;
	}
	return 0;
}

static size_t
src_hash(const struct service *sv, const unsigned char key[16])
{
	uint64_t	h = (uint64_t)(uintptr_t)sv * 0x9e3779b97f4a7c15ULL;
	size_t		i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 29)) & (SRC_BUCKETS - 1);
}

static int
src_expired(const struct srcent *se, time_t now)
{
	return se->se_n == 0 && now - se->se_t >= 60;
}

/*
 * Count CN against its source: open connections against MAX and starts
 * in the current minute against RATE (0: no limit).  Returns NULL, or
 * why the source is over.  An entry outlives its connections while its
 * minute runs; expired ones are dropped as their chain is walked.
 */
const char *
srclimit_take(struct conn *cn, long max, long rate)
{
	unsigned char	  key[16];
	struct srcent	 *se, **pp;
	time_t		  now = cn->cn_since.tv_sec;
	size_t		  h;

	if ((max <= 0 && rate <= 0) || !src_key(cn, key))
		return NULL;
	h = src_hash(cn->cn_svc, key);
	for (pp = &src_tab[h]; (se = *pp) != NULL; ) {
		if (se->se_svc == cn->cn_svc &&
		    memcmp(se->se_addr, key, 16) == 0)
			break;
		if (src_expired(se, now)) {
			*pp = se->se_next;
			free(se);
		} else
			pp = &se->se_next;
	}
	if (se == NULL) {
		if ((se = calloc(1, sizeof(*se))) == NULL)
			return "out of memory";
		se->se_svc = cn->cn_svc;
		memcpy(se->se_addr, key, 16);
		se->se_t = now;
		se->se_next = src_tab[h];
		src_tab[h] = se;
	}
	if (now - se->se_t >= 60) {
		se->se_t = now;
		se->se_r = 0;
	}
	/* The key that set the limit names it. */
	if (max > 0 && se->se_n >= max)
		return cn->cn_svc->sv_conf->sc_mode == MODE_PROXY ?
		    "over max-connections-per-source" :
		    "over max-children-per-source";
	if (rate > 0 && se->se_r >= rate)
		return "over max-per-minute-per-source";
	se->se_n++;
	se->se_r++;
	cn->cn_src = se;
	return NULL;
}

void
srclimit_drop(struct conn *cn)
{
	struct srcent	*se = cn->cn_src, **pp;
	unsigned char	 key[16];
	struct timespec	 now;

	if (se == NULL)
		return;
	cn->cn_src = NULL;
	se->se_n--;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!src_expired(se, now.tv_sec))
		return;
	memcpy(key, se->se_addr, 16);
	for (pp = &src_tab[src_hash(se->se_svc, key)]; *pp != NULL;
	    pp = &(*pp)->se_next)
		if (*pp == se) {
			*pp = se->se_next;
			break;
		}
	free(se);
}
