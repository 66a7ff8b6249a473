/* Directories written whole. A run's model directory (a finished phase, a
 * snapshot) is written into a temporary sibling and renamed into place
 * once every file in it is durable, so its presence is what marks the
 * phase done: a kill or a full disk leaves either no directory or the
 * whole of it, never config.json without the weights. */
#ifndef QAT_LIB_CORE_ATOMIC_DIR_H
#define QAT_LIB_CORE_ATOMIC_DIR_H

#include "qat/core.h"

typedef struct qat_atomic_dir {
    char *tmp_path; /* "<path>.tmp-XXXXXX": write the files here */
    char *path;
} qat_atomic_dir;

/* Creates the temporary sibling of `path` (its parents if needed). */
qat_status qat_atomic_dir_open(const char *path, qat_atomic_dir *out);
/* fsyncs every file of the temporary directory and the directory itself,
 * renames it to `path` (exchanging it with an older `path`, which is then
 * removed) and fsyncs the parent. Ends the writer whatever the outcome
 * (a failed commit removes the temporary directory). */
qat_status qat_atomic_dir_commit(qat_atomic_dir *d);
/* Removes the temporary directory; harmless on a zeroed or ended writer. */
void qat_atomic_dir_abort(qat_atomic_dir *d);

/* fsyncs the directory that holds `path` (after a rename there). */
qat_status qat_sync_parent_dir(const char *path);

/* rm -r path (no error when it is absent). */
qat_status qat_remove_tree(const char *path);

/* Removes what interrupted atomic writers left directly in `dir`: the
 * files and directories named "<name>.tmp-XXXXXX" (qat_atomic_open's and
 * qat_atomic_dir_open's temporaries). An absent dir is not an error. Call
 * it only where no other writer is at work (a run holds its lock). */
qat_status qat_remove_temporaries(const char *dir);

#endif
