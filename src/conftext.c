/*
 * The config file as text, before libconfuse sees it: read whole (a
 * regular file of bounded size only), comments blanked (newlines kept)
 * because libconfuse 3.3 miscounts lines after them, and the line of
 * each section's opening brace found, which libconfuse forgets.  conf.c
 * parses the result with cfg_parse_buf().  Opens and closes one fd.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "soad.h"

static int
regular_ok(const struct stat *st, char *err, size_t errlen)
{
	if (S_ISDIR(st->st_mode)) {
		snprintf(err, errlen, "cannot read: %s", strerror(EISDIR));
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "cannot read: not a regular file");
		return -1;
	}
	if (st->st_size > CONF_MAX_SIZE) {
		snprintf(err, errlen, "cannot read: larger than %d MiB",
		    CONF_MAX_SIZE >> 20);
		return -1;
	}
	return 0;
}

/*
 * The whole file, NUL-terminated, in *bufp.  Only a regular file of at
 * most CONF_MAX_SIZE bytes is read: a FIFO would block, a device such as
 * /dev/zero never ends.  The type is checked before the open (so no
 * device is ever opened) and again on the open file (it may have been
 * swapped in between); the open does not block on a FIFO.  Returns 0, or
 * -1 with a message in ERR.
 */
int
conftext_read(const char *file, char **bufp, size_t *lenp, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	*bufp = NULL;
	if (stat(file, &st) == -1) {
		snprintf(err, errlen, "cannot read: %s", strerror(errno));
		return -1;
	}
	if (regular_ok(&st, err, errlen) == -1)
		return -1;
	if ((fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC))
	    == -1) {
		snprintf(err, errlen, "cannot read: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "cannot read: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (regular_ok(&st, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	/* One byte more than the cap tells a file that grew meanwhile. */
	if ((buf = malloc((size_t)st.st_size + 2)) == NULL)
		fatal("malloc");
	for (;;) {
		n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "cannot read: %s",
			    strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)st.st_size)
			break;
	}
	close(fd);
	if (len > (size_t)st.st_size) {
		snprintf(err, errlen, "cannot read: the file changed while "
		    "being read");
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

/*
 * The length of the quoted string at S (its quote included, as the libconfuse lexer
 * reads it, backslash escapes and all), counting its newlines in *LINE.
 */
static size_t
quoted_len(const char *s, int *line)
{
	const char	*p = s + 1;

	for (; *p != '\0' && *p != *s; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (*p == '\n')
			(*line)++;
	}
	return (size_t)(p - s) + (*p != '\0');
}

/*
 * Blank out comments ("#" or "//" to the end of the line, C-style block
 * comments) outside quoted strings, as the libconfuse lexer sees them,
 * keeping every newline: libconfuse 3.3 counts two extra lines for each
 * one-line comment and one for each block comment, which would put every
 * later FILE:LINE off.  Returns the line of an unterminated block comment,
 * or 0.
 */
int
conftext_strip_comments(char *s)
{
	int	line = 1, start, inword = 0;

	while (*s != '\0') {
		if (*s == '"' || *s == '\'') {
			s += quoted_len(s, &line);
			inword = 0;
		} else if (*s == '#' || (!inword && s[0] == '/' &&
		    s[1] == '/')) {
			while (*s != '\0' && *s != '\n')
				*s++ = ' ';
			inword = 0;
		} else if (!inword && s[0] == '/' && s[1] == '*') {
			start = line;
			*s++ = ' ';
			*s++ = ' ';
			while (*s != '\0' && !(s[0] == '*' && s[1] == '/')) {
				if (*s == '\n')
					line++;
				else
					*s = ' ';
				s++;
			}
			if (*s == '\0')
				return start;
			*s++ = ' ';
			*s++ = ' ';
			inword = 0;
		} else {
			/* Within an unquoted word "//" starts no comment. */
			if (*s == '\n')
				line++;
			inword = strchr(" \t\r\n\"'={}()+,*#", *s) == NULL;
			s++;
		}
	}
	return 0;
}

/*
 * The line where each section starts in S (comments blanked), in file
 * order, as *LINESP (allocated); returns how many.  libconfuse keeps only
 * a section's closing line, but the "service" of "service NAME {" is
 * where a message about the section as a whole belongs.  At the top
 * level a brace opens a section unless it follows "=" or "+=" (then it
 * opens a list); the section starts two tokens before its brace.
 * *LATE is set if a top-level "=" (a global key) follows the first
 * section, i.e. the global settings are not final when a section ends.
 */
size_t
conftext_section_lines(const char *s, int **linesp, int *late)
{
	int	*lines = NULL, *nl;
	size_t	 n = 0, size = 0;
	int	 line = 1, depth = 0, after_eq = 0, tok[3] = { 1, 1, 1 };

	*late = 0;
	while (*s != '\0') {
		if (*s == '\n') {
			line++;
			s++;
			continue;
		}
		if (*s == ' ' || *s == '\t' || *s == '\r') {
			s++;
			continue;
		}
		/* The lines of this token and the two before it. */
		tok[2] = tok[1];
		tok[1] = tok[0];
		tok[0] = line;
		if (*s == '"' || *s == '\'') {
			s += quoted_len(s, &line);
			after_eq = 0;
			continue;
		}
		if (strchr("{}()=+,", *s) == NULL) {
			/* A bare word. */
			while (*s != '\0' && strchr(" \t\r\n\"'{}()=+,", *s) ==
			    NULL)
				s++;
			after_eq = 0;
			continue;
		}
		if (*s == '{') {
			if (depth == 0 && !after_eq) {
				if (n == size) {
					size = size == 0 ? 64 : size * 2;
					nl = reallocarray(lines, size,
					    sizeof(*lines));
					if (nl == NULL)
						fatal("reallocarray");
					lines = nl;
				}
				lines[n++] = tok[2];
			}
			depth++;
		} else if (*s == '}' && depth > 0)
			depth--;
		else if (*s == '=' && depth == 0 && n > 0)
			*late = 1;
		after_eq = *s == '=';
		s++;
	}
	*linesp = lines;
	return n;
}
