#include "qat/core.h"

#define QAT_STR2(x) #x
#define QAT_STR(x) QAT_STR2(x)

QAT_API const char *qat_version(void)
{
    return QAT_STR(QAT_VERSION_MAJOR) "." QAT_STR(QAT_VERSION_MINOR) "." QAT_STR(QAT_VERSION_PATCH);
}

QAT_API int qat_version_number(void)
{
    return QAT_VERSION_NUMBER;
}
