/*
 * The config file as text, before libconfuse sees it: read whole, and
 * comments blanked (newlines kept) because libconfuse 3.3 miscounts lines
 * after them.  conf.c parses the result with cfg_parse_buf().
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soad.h"

/*
 * The whole file, NUL-terminated.  NULL with errno set if it cannot be
 * read (a directory too: fopen succeeds, fread fails with EISDIR).
 */
char *
conftext_read(const char *file, size_t *lenp)
{
	FILE	*fp;
	char	*buf = NULL, *nb;
	size_t	 len = 0, size = 0, n;
	int	 saved;

	if ((fp = fopen(file, "r")) == NULL)
		return NULL;
	for (;;) {
		if (size - len < 2) {
			size = size == 0 ? 8192 : size * 2;
			if ((nb = realloc(buf, size)) == NULL)
				fatal("realloc");
			buf = nb;
		}
		if ((n = fread(buf + len, 1, size - len - 1, fp)) == 0)
			break;
		len += n;
	}
	if (ferror(fp)) {
		saved = errno;
		fclose(fp);
		free(buf);
		errno = saved;
		return NULL;
	}
	fclose(fp);
	buf[len] = '\0';
	*lenp = len;
	return buf;
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
	char	q;

	while (*s != '\0') {
		if (*s == '"' || *s == '\'') {
			for (q = *s++; *s != '\0' && *s != q; s++) {
				if (*s == '\\' && s[1] != '\0')
					s++;
				if (*s == '\n')
					line++;
			}
			if (*s != '\0')
				s++;
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
