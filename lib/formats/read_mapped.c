#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file_io.h"
#include "formats/tensor_set.h"

qat_status qat_formats_read_mapped(const char *path, qat_tensor_reader_fn read, unsigned flags,
                                   qat_tensor_set *set)
{
    qat_mapped_file mf;
    QAT_TRY(qat_file_map(path, &mf));
    size_t label_len = strlen(path) + 3;
    char *label = malloc(label_len);
    qat_status st;
    if (!label) {
        st = qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    } else {
        snprintf(label, label_len, "'%s'", path);
        st = read(mf.data, mf.size, label, flags, set);
    }
    free(label);
    qat_file_unmap(&mf);
    return st;
}
