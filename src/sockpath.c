/*
 * Safe UNIX socket paths, in the spirit of sshd's StrictModes.  soad runs
 * as root and makes its sockets by name, so a directory on the way that
 * another user can change would let that user choose where the socket
 * lands (and with it who can reach a service) or swap the file under it.
 *
 * The rule, checked from / down through every component of the socket's
 * directory, following symbolic links as the kernel would:
 *   - each directory is owned by root or by soad's own user, and is not
 *     writable by group or others unless it is sticky and owned by root
 *     (as /tmp is: nobody can rename or remove what another user put
 *     there);
 *   - a symbolic link is followed only if it is owned by root or by soad's
 *     user; the directory holding it has passed the rule already, so
 *     /var/run -> /run is fine, a link planted by another user in a
 *     sticky world-writable directory is not;
 *   - the socket's own directory (the last one) may instead belong to the
 *     service's socket user, if nobody else can write to it: a service's
 *     runtime directory such as /run/blog owned by blog.  That user can
 *     only swap entries in it, and soad never follows one there: it
 *     binds, then lchown()s and chmods without following links, and
 *     unlinks only the socket it made;
 *   - the socket's own name is not a symbolic link.
 * Pure checks with lstat(2) and readlink(2); no fd is opened.  A check
 * cannot close the window between it and the bind; the rule makes sure
 * only root or soad's user could use that window.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "soad.h"

#define SOCKPATH_MAXLINKS	40	/* as Linux's ELOOP limit */

static int
trusted_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* DIR (a directory, lstat'ed into ST) may hold soad's sockets. */
static int
dir_ok(const char *dir, const struct stat *st, uid_t extra, char *err,
    size_t errlen)
{
	if (!trusted_owner(st->st_uid) && st->st_uid != extra) {
		snprintf(err, errlen, "unsafe directory %s: owned by uid %lu, "
		    "not by root or soad's user", dir,
		    (unsigned long)st->st_uid);
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    !((st->st_mode & S_ISVTX) != 0 && st->st_uid == 0)) {
		snprintf(err, errlen, "unsafe directory %s: writable by %s "
		    "(only a sticky directory owned by root may be)", dir,
		    (st->st_mode & S_IWOTH) ? "others" : "its group");
		return -1;
	}
	return 0;
}

/*
 * Append component C (LEN bytes) to the resolved directory CUR, which
 * has room for PATH_MAX bytes.
 */
static int
append(char *cur, const char *c, size_t len)
{
	size_t	n = strlen(cur);

	if (n + 1 + len >= PATH_MAX)
		return -1;
	if (n > 1)
		cur[n++] = '/';
	memcpy(cur + n, c, len);
	cur[n + len] = '\0';
	return 0;
}

int
sockpath_check(const char *path, uid_t owner, char *err, size_t errlen)
{
	char		 cur[PATH_MAX], rest[PATH_MAX], link[PATH_MAX];
	char		 tmp[PATH_MAX];
	const char	*c, *last;
	struct stat	 st;
	size_t		 len, n;
	ssize_t		 ll;
	int		 links = 0, in_owners = 0;

	if (*path != '/') {
		snprintf(err, errlen, "%s is not an absolute path", path);
		return -1;
	}
	if ((last = strrchr(path, '/')) == NULL || last[1] == '\0') {
		snprintf(err, errlen, "%s names no file", path);
		return -1;
	}
	if ((size_t)(last - path) >= sizeof(rest)) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	/* REST: what is left of the directory to walk, CUR: the real
	 * directory reached so far, free of links. */
	memcpy(rest, path, (size_t)(last - path));
	rest[last - path] = '\0';
	strcpy(cur, "/");
	if (lstat(cur, &st) == -1) {
		snprintf(err, errlen, "directory /: %s", strerror(errno));
		return -1;
	}
	if (dir_ok(cur, &st, (uid_t)-1, err, errlen) == -1)
		return -1;

	c = rest;
	for (;;) {
		while (*c == '/')
			c++;
		if (*c == '\0')
			break;
		len = strcspn(c, "/");
		if (len == 1 && c[0] == '.') {
			c += len;
			continue;
		}
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			/* CUR has no links: its parent is lexical. */
			if ((n = (size_t)(strrchr(cur, '/') - cur)) == 0)
				n = 1;
			cur[n] = '\0';
			in_owners = 0;
			c += len;
			continue;
		}
		if (in_owners) {
			/* Only the socket's own directory may be the user's. */
			snprintf(err, errlen, "unsafe directory %s: owned by uid "
			    "%lu, which may only own the socket's own "
			    "directory", cur, (unsigned long)owner);
			return -1;
		}
		strcpy(tmp, cur);
		if (append(tmp, c, len) == -1) {
			snprintf(err, errlen, "%s: %s", path,
			    strerror(ENAMETOOLONG));
			return -1;
		}
		if (lstat(tmp, &st) == -1) {
			snprintf(err, errlen, "directory %s: %s", tmp,
			    strerror(errno));
			return -1;
		}
		if (S_ISLNK(st.st_mode)) {
			if (!trusted_owner(st.st_uid)) {
				snprintf(err, errlen, "unsafe symbolic link "
				    "%s: owned by uid %lu, not by root or "
				    "soad's user", tmp,
				    (unsigned long)st.st_uid);
				return -1;
			}
			if (++links > SOCKPATH_MAXLINKS) {
				snprintf(err, errlen, "%s: %s", path,
				    strerror(ELOOP));
				return -1;
			}
			if ((ll = readlink(tmp, link, sizeof(link) - 1)) ==
			    -1) {
				snprintf(err, errlen, "symbolic link %s: %s",
				    tmp, strerror(errno));
				return -1;
			}
			link[ll] = '\0';
			/* The link's target, then what followed the link. */
			c += len;
			if ((size_t)ll + 1 + strlen(c) >= sizeof(tmp)) {
				snprintf(err, errlen, "%s: %s", path,
				    strerror(ENAMETOOLONG));
				return -1;
			}
			n = strlen(c);
			memmove(rest + ll + 1, c, n + 1);
			memcpy(rest, link, (size_t)ll);
			rest[ll] = '/';
			c = rest;
			if (*link == '/')
				strcpy(cur, "/");
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s is not a directory", tmp);
			return -1;
		}
		if (dir_ok(tmp, &st, owner, err, errlen) == -1)
			return -1;
		in_owners = !trusted_owner(st.st_uid);
		strcpy(cur, tmp);
		c += len;
	}

	strcpy(tmp, cur);
	if (append(tmp, last + 1, strlen(last + 1)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	if (lstat(tmp, &st) == 0 && S_ISLNK(st.st_mode)) {
		snprintf(err, errlen, "%s is a symbolic link", path);
		return -1;
	}
	return 0;
}
