/* common/error.c — filling a popek_error (see error.h). */
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>

bool popek_fail(struct popek_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return false;
}
