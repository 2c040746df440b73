/*
 * libFuzzer target for the hosts.allow/hosts.deny option scan: bytes in,
 * hostsscan_buf() out.  Besides crashes, leaks and timeouts it checks
 * two properties libwrap's reading implies: the answer is 0 or 1, and a
 * text that may run options still may after a comment line is put in
 * front of it (a comment never changes what follows).  Built and run by
 * `make fuzz`; seeds in tests/fuzz/corpus/hostsscan.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "soad.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char	 comment[] = "# soad\n";
	char			*buf;
	int			 a, b;

	a = hostsscan_buf((const char *)data, size);
	if (a != 0 && a != 1)
		abort();
	if ((buf = malloc(sizeof(comment) - 1 + size)) == NULL)
		return 0;
	memcpy(buf, comment, sizeof(comment) - 1);
	if (size > 0)
		memcpy(buf + sizeof(comment) - 1, data, size);
	b = hostsscan_buf(buf, sizeof(comment) - 1 + size);
	free(buf);
	if (a != b)
		abort();
	return 0;
}
