/*
 * Portability shims for what some libcs lack.  Each is compiled only when
 * configure did not find the real one.
 *
 * closefrom(lowfd) closes every fd >= lowfd.  spawn.c calls it in a child
 * that shares the master's memory (Linux: CLONE_VM), so the Linux path
 * makes system calls only: no malloc, no opendir.  It never walks the
 * whole fd limit when it can list the open fds instead: that limit is
 * raised to the hard one in the master, often ~10^6.
 */
#include "config.h"

#include <sys/types.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "soad.h"

#ifndef HAVE_CLOSEFROM

#if defined(__linux__) && defined(SYS_getdents64)
/* The kernel's record, as getdents64(2) returns it. */
struct dirent64_raw {
	uint64_t	d_ino;
	int64_t		d_off;
	unsigned short	d_reclen;
	unsigned char	d_type;
	char		d_name[];
};

/* Close the open fds >= lowfd listed in /proc/self/fd; -1 if unlisted.
 * The listing is by fd number, so closing as we go skips nothing. */
static int
closefrom_listed(int lowfd)
{
	char			 buf[4096] __attribute__((__aligned__(8)));
	struct dirent64_raw	*d;
	long			 n, off;
	int			 dfd, fd;
	const char		*p;

	if ((dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (off = 0; off < n; off += d->d_reclen) {
			d = (struct dirent64_raw *)(void *)(buf + off);
			if (d->d_name[0] < '0' || d->d_name[0] > '9')
				continue;
			for (fd = 0, p = d->d_name; *p >= '0' && *p <= '9';
			    p++)
				fd = fd * 10 + (*p - '0');
			if (fd >= lowfd && fd != dfd)
				(void)close(fd);
		}
	(void)close(dfd);
	return n == 0 ? 0 : -1;
}
#else
/* After fork only (opendir allocates). */
static int
closefrom_listed(int lowfd)
{
	DIR		*dir;
	struct dirent	*d;
	long		 fd;
	char		*end;

	if ((dir = opendir("/dev/fd")) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		fd = strtol(d->d_name, &end, 10);
		if (*end == '\0' && end != d->d_name && fd >= lowfd &&
		    fd <= INT_MAX && fd != dirfd(dir))
			(void)close((int)fd);
	}
	(void)closedir(dir);
	return 0;
}
#endif

void
closefrom(int lowfd)
{
	long	fd, max;

	if (lowfd < 0)
		lowfd = 0;
#if defined(HAVE_CLOSE_RANGE)
	if (close_range((unsigned int)lowfd, ~0U, 0) == 0)
		return;
#elif defined(__linux__) && defined(SYS_close_range)
	if (syscall(SYS_close_range, (unsigned int)lowfd, ~0U, 0) == 0)
		return;
#endif
	if (closefrom_listed(lowfd) == 0)
		return;
	/* Neither: up to the limit, the one case that can be slow. */
	if ((max = sysconf(_SC_OPEN_MAX)) < 0 || max > INT_MAX)
		max = INT_MAX;
	for (fd = lowfd; fd < max; fd++)
		(void)close((int)fd);
}

#endif /* !HAVE_CLOSEFROM */
