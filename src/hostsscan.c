/*
 * A conservative scan of hosts.allow/hosts.deny: "could a matching rule
 * run an option other than allow or deny?"  If not, the access-check
 * helper may call hosts_access() in its own process; if so (or if in
 * doubt), every check runs in a throwaway fork (wrapd.c).
 *
 * It reads lines as libwrap does: a backslash before the newline joins
 * the next line; a line starting with '#' is a comment (after joining);
 * the daemon list, client list and options are split at ':' outside
 * '[...]' (IPv6 addresses); the options are split at ':' where "\:" is
 * a literal colon.  Where libwrap's reading depends on its buffer size
 * (very long lines) or on C strings (NUL bytes), the answer is "options".
 *
 * The files are read with the helper's (root's) rights; the answer is
 * cached by the identity of both files and recomputed when either
 * changes.  Opens nothing it does not close.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "soad.h"

/* libwrap reads a logical line into 2048 bytes; well below that, a
 * line is certainly read whole. */
#define SCAN_LINE_MAX	1024
#define SCAN_FILE_MAX	(4 << 20)	/* bigger files: assume options */

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

/* libwrap's field split: the first DELIM outside brackets, or NULL. */
static const char *
split_field(const char *s, const char *end)
{
	int	depth = 0;

	for (; s < end; s++) {
		if (*s == '[')
			depth++;
		else if (*s == ']')
			depth--;
		else if (depth == 0 && *s == ':')
			return s;
	}
	return NULL;
}

static int
word_is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

/*
 * One option field, "\:" already counting as part of it.  Safe only if
 * it is a bare "allow" or "deny" (any value makes libwrap refuse, but
 * that is its business: a value is doubt).
 */
static int
option_harmless(const char *s, const char *end)
{
	const char	*key;

	while (s < end && is_space(*s))
		s++;
	while (end > s && is_space(end[-1]))
		end--;
	for (key = s; s < end && !is_space(*s) && *s != '='; s++)
		;
	if (s != end)
		return 0;		/* a value */
	return word_is(key, (size_t)(end - key), "allow") ||
	    word_is(key, (size_t)(end - key), "deny");
}

/* The options part of a rule: every field must be harmless. */
static int
options_harmless(const char *s, const char *end)
{
	const char	*f = s;

	for (; s < end; s++) {
		if (*s == '\\' && s + 1 < end && s[1] == ':') {
			s++;
			continue;
		}
		if (*s == ':') {
			if (!option_harmless(f, s))
				return 0;
			f = s + 1;
		}
	}
	return option_harmless(f, end);
}

/* One logical line, continuations removed by the caller. */
static int
line_has_options(const char *s, size_t len)
{
	const char	*end = s + len, *p, *q;

	if (len > SCAN_LINE_MAX)
		return 1;
	if (len == 0 || s[0] == '#')
		return 0;
	for (p = s; p < end && is_space(*p); p++)
		;
	if (p == end)
		return 0;
	if ((p = split_field(s, end)) == NULL)
		return 0;		/* libwrap skips it */
	if ((q = split_field(p + 1, end)) == NULL)
		return 0;		/* no options */
	return !options_harmless(q + 1, end);
}

/*
 * 1 if a rule in BUF may carry an option other than allow/deny (or the
 * text is beyond what this scan reads with certainty), else 0.
 */
int
hostsscan_buf(const char *buf, size_t len)
{
	char		*line;
	size_t		 i, n = 0;
	int		 found = 0;

	if (memchr(buf, '\0', len) != NULL)
		return 1;
	if ((line = malloc(SCAN_LINE_MAX + 2)) == NULL)
		return 1;
	for (i = 0; i < len && !found; i++) {
		if (buf[i] == '\\' && i + 1 < len && buf[i + 1] == '\n') {
			i++;		/* joined to the next line */
			continue;
		}
		if (n <= SCAN_LINE_MAX)
			line[n] = buf[i];
		n++;
		if (buf[i] == '\n') {
			found = line_has_options(line, n);
			n = 0;
		}
	}
	/* A last line without newline is skipped by libwrap: scan it. */
	if (!found && n > 0)
		found = line_has_options(line, n);
	free(line);
	return found;
}

/* What identifies a version of a file; all zero if it does not exist. */
struct file_id {
	dev_t		 fi_dev;
	ino_t		 fi_ino;
	off_t		 fi_size;
	struct timespec	 fi_mtim;
	struct timespec	 fi_ctim;
	int		 fi_exists;
};

static void
file_id_of(const struct stat *st, struct file_id *fi)
{
	memset(fi, 0, sizeof(*fi));
	fi->fi_dev = st->st_dev;
	fi->fi_ino = st->st_ino;
	fi->fi_size = st->st_size;
	fi->fi_mtim = st->st_mtim;
	fi->fi_ctim = st->st_ctim;
	fi->fi_exists = 1;
}

static int
file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->fi_exists == b->fi_exists && a->fi_dev == b->fi_dev &&
	    a->fi_ino == b->fi_ino && a->fi_size == b->fi_size &&
	    a->fi_mtim.tv_sec == b->fi_mtim.tv_sec &&
	    a->fi_mtim.tv_nsec == b->fi_mtim.tv_nsec &&
	    a->fi_ctim.tv_sec == b->fi_ctim.tv_sec &&
	    a->fi_ctim.tv_nsec == b->fi_ctim.tv_nsec;
}

static int
stat_id(const char *path, struct file_id *fi)
{
	struct stat	st;

	memset(fi, 0, sizeof(*fi));
	if (stat(path, &st) == 0) {
		file_id_of(&st, fi);
		return 0;
	}
	return errno == ENOENT ? 0 : -1;
}

/*
 * Scan one file; its identity from the open file, so what was read is
 * what is remembered.  A file that cannot be read as a regular file is
 * doubt (libwrap may see something else in it).
 */
static int
scan_file(const char *path, struct file_id *fi)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd, found;

	memset(fi, 0, sizeof(*fi));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return errno == ENOENT ? 0 : 1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > SCAN_FILE_MAX ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return 1;
	}
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (got != (size_t)st.st_size)
		found = 1;		/* changed under us */
	else {
		found = hostsscan_buf(buf, got);
		file_id_of(&st, fi);
	}
	free(buf);
	return found;
}

/* Changed in the last moments: the timestamps may not show the next
 * change (coarse clock), so the answer is not kept. */
static int
too_fresh(const struct file_id *fi, time_t now)
{
	return fi->fi_exists && (fi->fi_mtim.tv_sec >= now - 1 ||
	    fi->fi_ctim.tv_sec >= now - 1);
}

/*
 * 1 if either file may make hosts_access() run options other than
 * allow/deny, else 0.  Cached per process by both files' identity.
 */
int
hostsscan_files(const char *allow, const char *deny)
{
	static struct file_id	 cached[2];
	static int		 cached_ok, cached_answer;
	struct file_id		 now_id[2], read_id[2];
	int			 answer;
	time_t			 now = time(NULL);

	if (stat_id(allow, &now_id[0]) == -1 ||
	    stat_id(deny, &now_id[1]) == -1)
		return 1;
	if (cached_ok && file_id_eq(&now_id[0], &cached[0]) &&
	    file_id_eq(&now_id[1], &cached[1]))
		return cached_answer;
	cached_ok = 0;
	answer = scan_file(allow, &read_id[0]) | scan_file(deny, &read_id[1]);
	/* Keep it only if the files read are the ones just stat'ed. */
	if (file_id_eq(&now_id[0], &read_id[0]) &&
	    file_id_eq(&now_id[1], &read_id[1]) &&
	    !too_fresh(&read_id[0], now) && !too_fresh(&read_id[1], now)) {
		cached[0] = read_id[0];
		cached[1] = read_id[1];
		cached_answer = answer;
		cached_ok = 1;
	}
	return answer;
}
