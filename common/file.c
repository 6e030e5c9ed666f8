/* common/file.c — see file.h. */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool file_read_all(const char *path, const char *what, size_t max_size, uint8_t **data,
                   size_t *size, struct popek_error *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return popek_fail(err, "cannot open %s '%s': %s", what, path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return popek_fail(err, "%s '%s' is not a regular file", what, path);
    }
    if ((uint64_t)st.st_size > max_size) {
        close(fd);
        return popek_fail(err, "%s '%s' is too large (%lld bytes, at most %zu)", what, path,
                          (long long)st.st_size, max_size);
    }

    uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t done = 0;
    if (!buf) {
        close(fd);
        return popek_fail(err, "out of memory reading %s '%s'", what, path);
    }
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = n < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return popek_fail(err, "cannot read %s '%s': %s", what, path, strerror(saved));
        }
        done += (size_t)n;
    }
    close(fd);
    *data = buf;
    *size = done;
    return true;
}
