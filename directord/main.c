/* directord/main.c: command line, then hand over to the daemon core.
 * Owns the default libev loop (the only code that does). */
#include "config.h"
#include <stdio.h>
int main(void)
{
	puts(PACKAGE_STRING);
	return 0;
}
