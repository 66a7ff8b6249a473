/* Reading a token-classification task file: the IOB2 check is chosen by
 * the tags (NER when every tag is O, B-X or I-X) and made strict or
 * lenient by the context (QAT_CTX_STRICT_IOB2); a lenient read that met
 * inconsistencies says so through the context's warnings. */
#include <stdio.h>
#include <string.h>

#include "core/context.h"
#include "core/error.h"
#include "study/evaluate.h"
#include "study/task_data.h"

static void warn_iob2(qat_context *ctx, const qat_data_conll *c, const char *path)
{
    size_t n = qat_data_conll_iob2_issue_count(c);
    if (n == 0)
        return;
    char first[768] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && i < QAT_DATA_CONLL_KEPT_ISSUES && used < sizeof first; i++)
        used += (size_t)snprintf(first + used, sizeof first - used, "%s%s", i ? "; " : "",
                                 qat_data_conll_iob2_issue(c, i));
    qat_context_warn(ctx,
                     "%s: %zu IOB2 inconsistenc%s read as seqeval's default mode does (an I- tag that does not "
                     "continue an entity of its type starts a new one; QAT_CTX_STRICT_IOB2 or --strict-iob refuses "
                     "them): %s%s",
                     path, n, n == 1 ? "y" : "ies", first, n > QAT_DATA_CONLL_KEPT_ISSUES ? "; ..." : "");
}

qat_status qat_task_conll_read_as(qat_context *ctx, const char *path, int ner, qat_data_conll **out)
{
    qat_data_conll_options co = {ner ? QAT_DATA_TAGS_IOB2 : QAT_DATA_TAGS_ANY, ctx->strict_iob2};
    QAT_TRY(qat_data_conll_read_file(path, &co, out));
    warn_iob2(ctx, *out, path);
    return QAT_OK;
}

qat_status qat_task_conll_read(qat_context *ctx, const char *path, int *ner, qat_data_conll **out)
{
    QAT_TRY(qat_task_conll_read_as(ctx, path, 0, out));
    *ner = qat_pipeline_looks_iob2(*out);
    if (!*ner)
        return QAT_OK;
    qat_data_conll_free(*out); /* read again with the IOB2 checks, now that we know it is NER */
    *out = NULL;
    return qat_task_conll_read_as(ctx, path, 1, out);
}
