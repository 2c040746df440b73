/*
 * libFuzzer target for the inetd.conf reader and the soad -C writer:
 * bytes in, inetd_parse(), and on success the conversion to a memory
 * stream; messages dropped.  Host names are never looked up
 * (INETD_NORESOLVE), so no input waits on a resolver.  Built and run by
 * `make fuzz`; seeds in tests/fuzz/corpus/inetd.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "soad.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
drop(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	(void)msg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inetd_entry	*v;
	char			*out = NULL;
	size_t			 n, len = 0;
	FILE			*f;

	conf_set_sink(drop);
	conf_errors_begin();
	if (inetd_parse("fuzz.conf", (const char *)data, size,
	    INETD_NORESOLVE, &v, &n) == 0) {
		if ((f = open_memstream(&out, &len)) == NULL)
			abort();
		inetd_conv_write(f, "fuzz.conf", (const char *)data, size, v, n);
		fclose(f);
		free(out);
	}
	conf_errors_end("fuzz.conf");
	inetd_free(v, n);
	return 0;
}
