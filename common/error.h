/*
 * common/error.h — errors a user can cause, carried as values.
 *
 * Library code (boot/, shadowpt/, cli/ parsing) never prints or exits: it fills
 * a popek_error and returns false. Only cli/main.c turns an error into the one
 * line the user sees and a non-zero exit status, so every module stays
 * testable in-process.
 */
#ifndef POPEK_COMMON_ERROR_H
#define POPEK_COMMON_ERROR_H

#include <stdbool.h>

struct popek_error {
    char message[512];
};

/* Formats message into err (if err is non-NULL) and returns false. */
bool popek_fail(struct popek_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
