/* The one version check of the public option structs (see the header). */
#include "core/options_version.h"

#include "core/error.h"

qat_status qat_options_version_check(const char *where, uint32_t version, uint32_t oldest, uint32_t current)
{
    if (version >= oldest && version <= current)
        return QAT_OK;
    if (oldest == current)
        return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                        "%s: options version %u unknown to libqat %s (it reads version %u; initialise the "
                        "options with their _init function and the header's *_VERSION)",
                        where, version, qat_version(), current);
    return qat_fail(QAT_ERR_INVALID_ARGUMENT,
                    "%s: options version %u unknown to libqat %s (it reads versions %u to %u; initialise the "
                    "options with their _init function and the header's *_VERSION)",
                    where, version, qat_version(), oldest, current);
}
