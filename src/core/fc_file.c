#include "fc_file.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_alloc.h"

fc_status fc_file_read_all(const char *path, uint64_t cap, const char *what, uint8_t **out,
                           size_t *len, fc_err *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fc_err_set(err, FC_ERR_IO, "%s: cannot open %s: %s", path, what, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fc_err_set(err, FC_ERR_IO, "%s: cannot stat %s: %s", path, what, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return fc_err_set(err, FC_ERR_IO, "%s: is a folder, expected a %s file", path, what);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fc_err_set(err, FC_ERR_IO, "%s: not a regular file (%s)", path, what);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > cap) {
        close(fd);
        return fc_err_set(err, FC_ERR_LIMIT, "%s: %s file has %lld bytes, the cap is %llu",
                          path, what, (long long)st.st_size, (unsigned long long)cap);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = fc_malloc(size + 1);
    if (!buf) {
        close(fd);
        return fc_err_set(err, FC_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            fc_free(buf);
            return fc_err_set(err, FC_ERR_IO, "%s: read failed after %zu of %zu bytes%s%s", path,
                              got, size, e ? ": " : "", e ? strerror(e) : "");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = 0;
    *out = buf;
    *len = size;
    return FC_OK;
}

fc_status fc_file_write_all(const char *path, const void *data, size_t len, fc_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fc_err_set(err, FC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    const uint8_t *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return fc_err_set(err, FC_ERR_IO, "%s: write failed: %s", path, strerror(e));
        }
        done += (size_t)w;
    }
    if (close(fd) != 0)
        return fc_err_set(err, FC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return FC_OK;
}

fc_status fc_file_write_atomic(const char *path, const void *data, size_t len, fc_err *err)
{
    /* The temporary name carries the pid so concurrent writers (forked
     * tests, parallel workers) never share one. */
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return fc_err_set(err, FC_ERR_LIMIT, "%s: path too long", path);
    fc_status st = fc_file_write_all(tmp, data, len, err);
    if (st) {
        unlink(tmp);
        return st;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fc_err_set(err, FC_ERR_IO, "%s: cannot replace: %s", path, strerror(e));
    }
    return FC_OK;
}

fc_status fc_file_mkdirs(const char *path, fc_err *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "bad folder name '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return fc_err_set(err, FC_ERR_IO, "%s: cannot create folder: %s", buf,
                              strerror(errno));
        buf[i] = c;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fc_err_set(err, FC_ERR_IO, "%s: not a folder", path);
    return FC_OK;
}
