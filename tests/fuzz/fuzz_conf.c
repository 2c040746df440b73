/*
 * libFuzzer target for the soad.conf reader: bytes in, conf_load_buf()
 * with every per-key and cross-service check except those that look at
 * the file system (no CONF_CHECK_FILES, no CONF_CHECK_SOCKETS), messages
 * dropped.  Built and run by `make fuzz`; seeds in tests/fuzz/corpus/conf.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

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
	struct conf	*cf;
	int		 nerr;

	conf_set_sink(drop);
	cf = conf_load_buf("fuzz.conf", (const char *)data, size, 0, &nerr);
	conf_free(cf);
	return 0;
}
