/* The files of an HF directory that qat_tokenizer_load(dir) may read, in
 * one list (qat_tokenizer_save writes one kind and clears the others; the
 * packed exporter embeds them, with config.json for its model_type). */
#ifndef QAT_LIB_TOKENIZER_DIR_FILES_H
#define QAT_LIB_TOKENIZER_DIR_FILES_H

#include <stddef.h>

#define QAT_TOK_DIR_FILE_COUNT 5
extern const char *const qat_tok_dir_files[QAT_TOK_DIR_FILE_COUNT];

#endif
