/* Loading a tokenizer from files held in memory (a packed model's embedded
 * tokenizer): no temporary directory, the same rules as qat_tokenizer_load
 * on a directory (or on one file). For other parts of lib/. */
#ifndef QAT_LIB_TOKENIZER_LOAD_FILES_H
#define QAT_LIB_TOKENIZER_LOAD_FILES_H

#include <stddef.h>

#include "qat/tokenizer.h"

typedef struct qat_tok_file {
    const char *name;     /* a file name as a checkpoint directory has it */
    const void *data;
    size_t size;
} qat_tok_file;

/* as_directory: the files as one directory holds them (qat_tokenizer_load
 * of a directory); else exactly one file, read as that file alone. The
 * bytes are copied. `where` names the source in messages. */
qat_status qat_tokenizer_load_files(const qat_tok_file *files, size_t n, int as_directory, const char *where,
                                    qat_tokenizer **out);

#endif
