/* qat_tokenizer_save: the file a tokenizer was loaded from, written into a
 * model directory under the name its loader looks for, with a
 * tokenizer_config.json that pins how it is read, so that
 * qat_tokenizer_load(dir) gives the same ids (and AutoTokenizer finds it,
 * as in a save_pretrained directory). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json.h"
#include "tokenizer/tokenizer_impl.h"

/* Every file qat_tokenizer_load(dir) may read a tokenizer from. */
#define DIR_FILE_COUNT 5
static const char *const dir_files[DIR_FILE_COUNT] = {
    "tokenizer.json", "sentencepiece.bpe.model", "spiece.model", "vocab.txt", "tokenizer_config.json",
};

static qat_status write_config(const char *dir, const qat_tokenizer *t)
{
    json_object *j = json_object_new_object();
    if (t->source_kind == QAT_TOK_SOURCE_VOCAB_TXT) { /* BertTokenizer's flags as it was read */
        json_object_object_add(j, "tokenizer_class", json_object_new_string("BertTokenizer"));
        json_object_object_add(j, "do_lower_case", json_object_new_boolean(t->vocab_lowercase));
        json_object_object_add(j, "strip_accents", json_object_new_boolean(t->vocab_strip_accents));
        json_object_object_add(j, "tokenize_chinese_chars", json_object_new_boolean(t->vocab_chinese));
    } else { /* a SentencePiece model read with a fairseq convention */
        json_object_object_add(j, "tokenizer_class", json_object_new_string(
            t->idmap == QAT_TOK_MAP_CAMEMBERT ? "CamembertTokenizer" : "XLMRobertaTokenizer"));
    }
    char *path = qat_path_join(dir, "tokenizer_config.json");
    qat_status st = path ? qat_json_write_file(path, j) : qat_fail(QAT_ERR_OUT_OF_MEMORY, "out of memory");
    free(path);
    json_object_put(j);
    return st;
}

QAT_API qat_status qat_tokenizer_save(const qat_tokenizer *tok, const char *dir)
{
    QAT_CHECK_ARG(tok != NULL && dir != NULL, "qat_tokenizer_save: NULL tokenizer or directory");
    QAT_CHECK_ARG(tok->source != NULL, "qat_tokenizer_save: the tokenizer keeps no source file");
    const char *name = tok->source_kind == QAT_TOK_SOURCE_JSON        ? "tokenizer.json"
                       : tok->source_kind == QAT_TOK_SOURCE_VOCAB_TXT ? "vocab.txt"
                       : tok->idmap != QAT_TOK_MAP_NONE               ? "sentencepiece.bpe.model"
                                                                      : "spiece.model";
    QAT_TRY(qat_mkdirs(dir));
    /* Another kind's file left there could be read first: remove it. */
    for (size_t i = 0; i < DIR_FILE_COUNT; i++) {
        if (strcmp(dir_files[i], name) == 0)
            continue;
        char *path = qat_path_join(dir, dir_files[i]);
        if (!path)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_tokenizer_save: out of memory");
        int gone = unlink(path) == 0 || errno == ENOENT;
        int e = errno;
        free(path);
        if (!gone)
            return qat_fail(QAT_ERR_IO, "cannot remove %s/%s: %s", dir, dir_files[i], strerror(e));
    }
    char *path = qat_path_join(dir, name);
    if (!path)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "qat_tokenizer_save: out of memory");
    qat_status st = qat_file_write_atomic(path, tok->source, tok->source_size);
    free(path);
    QAT_TRY(st);
    int pinned = tok->source_kind == QAT_TOK_SOURCE_VOCAB_TXT || tok->idmap != QAT_TOK_MAP_NONE;
    return pinned ? write_config(dir, tok) : QAT_OK;
}
