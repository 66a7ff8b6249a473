#include "backend/linear_check.h"
#include "core/error.h"

qat_status qat_linear_desc_validate(const qat_linear_desc *d)
{
    char why[256];
    if (qat_linear_desc_problem(d, why, sizeof why))
        return qat_fail(QAT_ERR_INVALID_ARGUMENT, "%s", why);
    return QAT_OK;
}
