/* The one version check of the public option structs.
 *
 * Option structs grow at their end (the libgit2 rule): a program built
 * against an older header passes that header's version and a shorter struct,
 * and the library fills and reads only what that version holds, so it keeps
 * working when a struct grows. `oldest` is the first version whose layout is
 * still a prefix of today's; versions before it (the pipeline and DAPT
 * options of version 1 nested their fields differently) are refused with a
 * message that says which versions this library reads. */
#ifndef QAT_LIB_OPTIONS_VERSION_H
#define QAT_LIB_OPTIONS_VERSION_H

#include <stdint.h>

#include "qat/core.h"

/* QAT_OK when oldest <= version <= current, else QAT_ERR_INVALID_ARGUMENT
 * with "<where>: options version V unknown to libqat X (it reads O..C; ...)". */
qat_status qat_options_version_check(const char *where, uint32_t version, uint32_t oldest, uint32_t current);

#endif
