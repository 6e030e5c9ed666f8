/*
 * common/file.h — reading a user-named file whole, with errors naming it.
 */
#ifndef POPEK_COMMON_FILE_H
#define POPEK_COMMON_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Reads `path` into a malloc'd buffer. `what` names the file's role in error
 * messages ("kernel", "initrd"). Files larger than max_size are refused. */
bool file_read_all(const char *path, const char *what, size_t max_size, uint8_t **data,
                   size_t *size, struct popek_error *err);

#endif
