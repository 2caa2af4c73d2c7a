/*
 * Random bytes for secrets outside the store (the viewer's session and
 * CSRF tokens), from the same generator as the keys: callers need no
 * crypto library of their own.
 */
#include <gcrypt.h>

#include "archive_int.h"
#include "common/banned.h"

void cv_archive_random(void *buf, size_t n)
{
	gcry_randomize(buf, n, GCRY_STRONG_RANDOM);
}
