/* The sweep's journal, OUT/journal.jsonl: what finished, one unit per
 * line, so an interrupted sweep loses nothing that finished.
 *
 * Each line is written whole with one write() and fsync'd; a crash can
 * only leave the last line cut short, which the next run cuts off. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "sweep_internal.h"

/* A journal holds every per-image record of a shard: generous, but a cap. */
#define JOURNAL_MAX_BYTES (UINT64_C(8) << 30)

static void journal_path(const char *out_dir, char *buf, size_t size)
{
    snprintf(buf, size, "%s/journal.jsonl", out_dir);
}

static cJSON *header(const cJSON *plan, const cJSON *shard)
{
    cJSON *h = cJSON_CreateObject();
    if (!h || !cJSON_AddNumberToObject(h, "flipcheck_sweep_journal", 1) ||
        !cJSON_AddItemToObject(h, "plan", cJSON_Duplicate(plan, true)) ||
        !cJSON_AddItemToObject(h, "shard", cJSON_Duplicate(shard, true))) {
        cJSON_Delete(h);
        return NULL;
    }
    return h;
}

static fc_status write_all(int fd, const char *p, size_t len, const char *path, fc_err *err)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fc_err_set(err, FC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    return fsync(fd) ? fc_err_set(err, FC_ERR_IO, "%s: fsync: %s", path, strerror(errno)) : FC_OK;
}

fc_status sweep_journal_open(const char *out_dir, const cJSON *plan, const cJSON *shard, int *fd,
                             fc_err *err)
{
    char path[4200];
    journal_path(out_dir, path, sizeof path);
    *fd = -1;
    struct stat sb;
        if (stat(path, &sb) == 0 && sb.st_size > 0) {
        uint8_t *text = NULL;
        size_t len = 0;
        fc_status st = fc_file_read_all(path, JOURNAL_MAX_BYTES, "journal", &text, &len, err);
        if (st)
            return st;
        size_t keep = len;
        while (keep > 0 && text[keep - 1] != '\n')
            keep--;
        if (keep == 0) {   /* not even the header finished: start afresh */
            fc_free(text);
            goto create;
        }
        char *nl = memchr(text, '\n', keep);
        cJSON *h = NULL;
        if (nl) {
            *nl = '\0';
            h = cJSON_Parse((const char *)text);
        }
        bool same = h && cJSON_Compare(cJSON_GetObjectItemCaseSensitive(h, "plan"), plan, true) &&
                    cJSON_Compare(cJSON_GetObjectItemCaseSensitive(h, "shard"), shard, true);
        cJSON_Delete(h);
        fc_free(text);
        if (!same)
            return fc_err_set(err, FC_ERR_INVALID_ARG,
                              "%s: written by a sweep with another plan or shard (models, images, "
                              "attacks, engines, eps, block, seed); use another --out or remove it",
                              path);
        *fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (*fd < 0)
            return fc_err_set(err, FC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        if (keep < len && ftruncate(*fd, (off_t)keep) != 0) {
            close(*fd);
            *fd = -1;
            return fc_err_set(err, FC_ERR_IO, "%s: cannot cut the unfinished last line: %s", path,
                              strerror(errno));
        }
        return FC_OK;
    }
create:
    *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (*fd < 0)
        return fc_err_set(err, FC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    cJSON *h = header(plan, shard);
    char *line = h ? cJSON_PrintUnformatted(h) : NULL;
    cJSON_Delete(h);
    if (!line) {
        close(*fd);
        *fd = -1;
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    }
    size_t n = strlen(line);
    line[n] = '\n';
    fc_status st = write_all(*fd, line, n + 1, path, err);
    fc_free(line);
    if (st) {
        close(*fd);
        *fd = -1;
    }
    return st;
}

/* The index into units of (model, block, attack), -1 when not there.
 * Units of one model and block are consecutive, in attack order. */
static int64_t find_unit(const sweep_unit *units, int64_t n_units, int m, int64_t b, int a)
{
    int64_t lo = 0, hi = n_units;
    /* units are sorted by (model, block): binary search, then the attack */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const sweep_unit *u = &units[mid];
        if (u->model < m || (u->model == m && u->block < b))
            lo = mid + 1;
        else
            hi = mid;
    }
    for (int64_t k = lo; k < n_units && units[k].model == m && units[k].block == b; k++)
        if (units[k].attack == a)
            return k;
    return -1;
}

static fc_status take_line(cJSON *line, const sweep_model *models, int n_models,
                           sweep_unit *units, int64_t n_units, cJSON *records, cJSON *failures,
                           const char *path, long lineno, fc_err *err)
{
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(line, "model");
    const cJSON *jb = cJSON_GetObjectItemCaseSensitive(line, "block");
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(line, "attack");
    int m = -1, a = cJSON_IsString(ja) ? sweep_attack_parse(ja->valuestring) : -1;
    for (int i = 0; cJSON_IsString(jm) && i < n_models; i++)
        if (!strcmp(models[i].mc->name, jm->valuestring))
            m = i;
    int64_t k = m >= 0 && a >= 0 && cJSON_IsNumber(jb)
                    ? find_unit(units, n_units, m, sweep_i64(jb->valuedouble), a)
                    : -1;
    if (k < 0)
        return fc_err_set(err, FC_ERR_PARSE, "%s:%ld: not a unit of this sweep", path, lineno);
    if (units[k].done)
        return FC_OK;   /* a unit journaled twice: the first line counts */
    units[k].done = 1;
    if (!records)
        return FC_OK;
    cJSON *fail = cJSON_GetObjectItemCaseSensitive(line, "failure");
    cJSON *recs = cJSON_GetObjectItemCaseSensitive(line, "records");
    if (cJSON_IsString(fail)) {
        cJSON *f = cJSON_CreateObject();
        if (!f || !cJSON_AddItemToArray(failures, f) ||
            !cJSON_AddStringToObject(f, "model", jm->valuestring) ||
            !cJSON_AddStringToObject(f, "attack", ja->valuestring) ||
            !cJSON_AddNumberToObject(f, "block", jb->valuedouble) ||
            !cJSON_AddStringToObject(f, "error", fail->valuestring))
            return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
        return FC_OK;
    }
    if (!cJSON_IsArray(recs))
        return fc_err_set(err, FC_ERR_PARSE, "%s:%ld: no records and no failure", path, lineno);
    while (recs->child) {
        cJSON *r = cJSON_DetachItemViaPointer(recs, recs->child);
        cJSON_AddItemToArray(records, r);
    }
    return FC_OK;
}

fc_status sweep_journal_load(const char *out_dir, const sweep_model *models, int n_models,
                             sweep_unit *units, int64_t n_units, cJSON **records,
                             cJSON **failures, fc_err *err)
{
    char path[4200];
    journal_path(out_dir, path, sizeof path);
    uint8_t *text = NULL;
    size_t len = 0;
    fc_status st = fc_file_read_all(path, JOURNAL_MAX_BYTES, "journal", &text, &len, err);
    if (st)
        return st;
    cJSON *recs = NULL, *fails = NULL;
    if (records && (!(recs = cJSON_CreateArray()) || !(fails = cJSON_CreateArray())))
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    char *p = (char *)text, *end = p + len;
    long lineno = 0;
    while (!st && p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;   /* a cut last line: not finished */
        *nl = '\0';
        lineno++;
        if (lineno > 1 && nl > p) {
            cJSON *line = cJSON_Parse(p);
            if (!line)
                st = fc_err_set(err, FC_ERR_PARSE, "%s:%ld: not JSON", path, lineno);
            else
                st = take_line(line, models, n_models, units, n_units, recs, fails, path, lineno,
                               err);
            cJSON_Delete(line);
        }
        p = nl + 1;
    }
    fc_free(text);
    if (st || !records) {
        cJSON_Delete(recs);
        cJSON_Delete(fails);
        return st;
    }
    *records = recs;
    *failures = fails;
    return FC_OK;
}
