/* The sweep driver: models, data and int8 twins; this shard's units; the
 * journal that makes an interrupted sweep resumable; the worker threads;
 * progress on stderr.  The document is built from the journal at the end
 * (sweep_journal.c), whatever ran now and whatever ran before. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fc_alloc.h"
#include "core/fc_file.h"
#include "onnx/fc_onnx.h"
#include "onnx/fc_onnx_write.h"
#include "quant/fc_quantize.h"
#include "sweep_internal.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The model's file stem for OUT/int8/: its name with unsafe bytes as '_'. */
static void stem_of(const char *name, char *buf, size_t size)
{
    size_t n = 0;
    for (const char *c = name; *c && n + 1 < size; c++) {
        char ch = *c;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
        buf[n++] = ok ? ch : '_';
    }
    buf[n] = '\0';
}

static fc_status load_images(const char *src, const char *labels, int64_t max, const fc_model *m,
                             fc_dataset *d, fc_err *err)
{
    fc_dataset_opts opt;
    memset(&opt, 0, sizeof opt);
    opt.channels = fc_model_channels(m);
    opt.height = fc_model_height(m);
    opt.width = fc_model_width(m);
    opt.labels_path = labels;
    opt.max_images = max;
    return fc_dataset_load(&src, 1, &opt, d, err);
}

/* The twin configured as `calibrate`: made here, as the integrity suite
 * does, into OUT/int8/<stem>.int8.onnx. */
static fc_status calibrate(const fc_sweep_options *o, sweep_model *sm, const fc_model *probe,
                           fc_err *err)
{
    const fc_model_config *mc = sm->mc;
    if (!mc->calib_data)
        return fc_err_set(err, FC_ERR_INVALID_ARG,
                          "%s: no int8 twin and no calibration data to make one", mc->name);
    char dir[4096], stem[128];
    stem_of(mc->name, stem, sizeof stem);
    snprintf(dir, sizeof dir, "%s/int8", o->out_dir);
    snprintf(sm->int8_path, sizeof sm->int8_path, "%s/%s.int8.onnx", dir, stem);
    fc_dataset calib = {0};
    fc_graph *g = NULL, *q = NULL;
    fc_tensor x = {0};
    fc_quant_options qo = {.method = mc->calibrate, .percentile = mc->percentile};
    fc_status st = fc_file_mkdirs(dir, err);
    if (!st)
        st = load_images(mc->calib_data, mc->calib_labels, 0, probe, &calib, err);
    if (!st && !(st = fc_onnx_load(mc->fp32, &g, err)) &&
        !(st = fc_preproc_apply(&mc->pre, &calib.images, &x, err)) &&
        !(st = fc_quantize_graph(g, &x, &qo, &q, err)))
        st = fc_onnx_save(q, sm->int8_path, err);
    if (st)
        fc_err_prefix(err, "%s: calibrating the int8 twin: ", mc->name);
    fc_tensor_release(&x);
    fc_graph_free(g);
    fc_graph_free(q);
    fc_dataset_free(&calib);
    return st;
}

static fc_status prepare_model(const fc_sweep_options *o, int i, sweep_model *sm, fc_err *err)
{
    const fc_model_config *mc = &o->cfg->models[i];
    sm->mc = mc;
    sm->seed = mc->seed;
    sm->pgd_steps = o->pgd_steps > 0 ? o->pgd_steps : mc->pgd_steps > 0 ? mc->pgd_steps : 10;
    fc_model *probe = NULL, *twin = NULL;
    fc_status st = fc_model_open(mc->fp32, "f32", &mc->pre, &probe, err);
    if (st)
        return st;
    if (!mc->test_data)
        st = fc_err_set(err, FC_ERR_INVALID_ARG, "%s: no test data configured", mc->name);
    if (!st)
        st = load_images(mc->test_data, mc->test_labels,
                         o->max_images > 0 ? o->max_images : mc->max_images, probe, &sm->data,
                         err);
    if (!st && sm->data.n == 0)
        st = fc_err_set(err, FC_ERR_INVALID_ARG, "%s: no test images in %s", mc->name,
                        mc->test_data);
    if (!st && o->q8) {
        if (mc->int8)
            snprintf(sm->int8_path, sizeof sm->int8_path, "%s", mc->int8);
        else
            st = calibrate(o, sm, probe, err);
        /* Refuse a twin that does not open now rather than in every unit. */
        if (!st)
            st = fc_model_open(sm->int8_path, "q8", &mc->pre, &twin, err);
    }
    fc_model_free(twin);
    fc_model_free(probe);
    sm->n_blocks = (sm->data.n + o->block - 1) / o->block;
    return st;
}

static cJSON *plan_json(const fc_sweep_options *o, const sweep_model *models, int n)
{
    cJSON *plan = cJSON_CreateObject(), *ms = cJSON_AddArrayToObject(plan, "models");
    cJSON *at = cJSON_AddArrayToObject(plan, "attacks"), *en = cJSON_AddArrayToObject(plan, "engines");
    cJSON *eps = cJSON_AddArrayToObject(plan, "eps");
    if (!ms || !at || !en || !eps)
        goto fail;
    for (int i = 0; i < n; i++) {
        cJSON *m = cJSON_CreateObject();
        if (!m || !cJSON_AddItemToArray(ms, m) ||
            !cJSON_AddStringToObject(m, "name", models[i].mc->name) ||
            !cJSON_AddNumberToObject(m, "images", (double)models[i].data.n) ||
            !cJSON_AddBoolToObject(m, "labels", models[i].data.labels != NULL) ||
            !cJSON_AddNumberToObject(m, "seed", (double)models[i].seed) ||
            !cJSON_AddNumberToObject(m, "pgd_steps", models[i].pgd_steps))
            goto fail;
    }
    static const int kinds[] = {FC_ATTACK_FGSM, FC_ATTACK_PGD, FC_ATTACK_BOUNDARY};
    for (int k = 0; k < 3; k++)
        if ((o->attacks & (1u << kinds[k])) &&
            !cJSON_AddItemToArray(at, cJSON_CreateString(fc_attack_kind_name((fc_attack_kind)kinds[k]))))
            goto fail;
    bool on[FC_SWEEP_N_ENGINES] = {o->f32, o->q8, o->f32 && o->q8};
    for (int e = 0; e < FC_SWEEP_N_ENGINES; e++)
        if (on[e] && !cJSON_AddItemToArray(en, cJSON_CreateString(fc_sweep_engine_name(e))))
            goto fail;
    for (int k = 0; k < o->n_eps; k++)
        if (!cJSON_AddItemToArray(eps, cJSON_CreateNumber(o->eps[k])))
            goto fail;
    if (!cJSON_AddNumberToObject(plan, "block", (double)o->block) ||
        !cJSON_AddNumberToObject(plan, "boundary_queries", (double)o->boundary_queries))
        goto fail;
    return plan;
fail:
    cJSON_Delete(plan);
    return NULL;
}

cJSON *sweep_shard_json(int index, int count)
{
    cJSON *s = cJSON_CreateObject();
    if (!s || !cJSON_AddNumberToObject(s, "index", index) ||
        !cJSON_AddNumberToObject(s, "count", count)) {
        cJSON_Delete(s);
        return NULL;
    }
    return s;
}

/* ---- worker threads ------------------------------------------------------ */

typedef struct run_ctx {
    const fc_sweep_options *o;
    sweep_model *models;
    sweep_unit *units;
    int64_t n_units, next;
    int64_t done_now, images_now, total_todo;
    int journal_fd;
    pthread_mutex_t lock;
    double t0, last_print;
    fc_status fatal;       /* a journal write that failed stops everyone */
    fc_err fatal_err;
} run_ctx;

static void progress(run_ctx *c, bool final)
{
    const fc_sweep_options *o = c->o;
    if (!o->progress)
        return;
    double t = now_s(), el = t - c->t0;
    if (!final && !o->progress_tty && t - c->last_print < 10.0)
        return;
    c->last_print = t;
    /* images/s: a model's image through every attack, eps and engine */
    double rate = el > 0 ? (double)c->images_now / el / __builtin_popcount(o->attacks) : 0.0;
    double eta = c->done_now > 0 ? el * (double)(c->total_todo - c->done_now) / (double)c->done_now : 0;
    if (o->progress_tty) {
        int w = 30, fill = c->total_todo ? (int)(w * c->done_now / c->total_todo) : w;
        char bar[32];
        for (int i = 0; i < w; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[w] = '\0';
        fprintf(o->progress, "\rsweep [%s] %lld/%lld units  %.1f images/s  ETA %.0fs   %s", bar,
                (long long)c->done_now, (long long)c->total_todo, rate, eta, final ? "\n" : "");
    } else {
        fprintf(o->progress, "sweep: %lld/%lld units, %.1f images/s, ETA %.0fs\n",
                (long long)c->done_now, (long long)c->total_todo, rate, eta);
    }
    fflush(o->progress);
}

static fc_status append_line(run_ctx *c, cJSON *line, fc_err *err)
{
    char *text = cJSON_PrintUnformatted(line);
    if (!text)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    size_t len = strlen(text);
    text[len] = '\n';   /* replaces the NUL: written with its length */
    fc_status st = FC_OK;
    for (size_t off = 0; off <= len;) {
        ssize_t w = write(c->journal_fd, text + off, len + 1 - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = fc_err_set(err, FC_ERR_IO, "%s/journal.jsonl: cannot write: %s", c->o->out_dir,
                            strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (!st && fsync(c->journal_fd) != 0)
        st = fc_err_set(err, FC_ERR_IO, "%s/journal.jsonl: fsync: %s", c->o->out_dir,
                        strerror(errno));
    fc_free(text);
    return st;
}

static fc_status open_models(const sweep_model *sm, int mi, const fc_sweep_options *o,
                             sweep_open *op, fc_err *err)
{
    if (op->model == mi)
        return FC_OK;
    fc_model_free(op->f32);
    fc_model_free(op->q8);
    op->f32 = op->q8 = NULL;
    op->model = -1;
    fc_status st = FC_OK;
    if (o->f32 && (st = fc_model_open(sm->mc->fp32, "f32", &sm->mc->pre, &op->f32, err)))
        return st;
    if (o->q8 && (st = fc_model_open(sm->int8_path, "q8", &sm->mc->pre, &op->q8, err)))
        return st;
    /* A block is one batch everywhere: per-image numbers never depend on
     * which images share it. */
    if (op->f32)
        fc_model_set_batch(op->f32, o->block);
    if (op->q8)
        fc_model_set_batch(op->q8, o->block);
    op->model = mi;
    return FC_OK;
}

static cJSON *unit_line(const sweep_model *sm, const sweep_unit *u)
{
    cJSON *l = cJSON_CreateObject();
    if (!l || !cJSON_AddStringToObject(l, "model", sm->mc->name) ||
        !cJSON_AddNumberToObject(l, "block", (double)u->block) ||
        !cJSON_AddStringToObject(l, "attack", fc_attack_kind_name((fc_attack_kind)u->attack))) {
        cJSON_Delete(l);
        return NULL;
    }
    return l;
}

static void *worker(void *arg)
{
    run_ctx *c = arg;
    sweep_open op = {.model = -1};
    for (;;) {
        pthread_mutex_lock(&c->lock);
        int64_t k = c->next;
        while (k < c->n_units && c->units[k].done)
            k++;
        c->next = k + 1;
        bool stop = k >= c->n_units || c->fatal;
        pthread_mutex_unlock(&c->lock);
        if (stop)
            break;
        const sweep_unit *u = &c->units[k];
        const sweep_model *sm = &c->models[u->model];
        fc_err err;
        fc_err_clear(&err);
        cJSON *line = unit_line(sm, u), *records = cJSON_CreateArray();
        fc_status st = !line || !records ? fc_err_set(&err, FC_ERR_NOMEM, "out of memory")
                                         : open_models(sm, u->model, c->o, &op, &err);
        if (!st)
            st = sweep_unit_run(c->o, sm, &op, u, records, &err);
        if (line && records) {
            /* A unit that fails is a finding (a crash of that model on those
             * images), journaled like a result so it is not retried forever. */
            if (st) {
                cJSON_Delete(records);
                records = NULL;
                if (!cJSON_AddStringToObject(line, "failure", err.msg))
                    st = FC_ERR_NOMEM;
            } else if (!cJSON_AddItemToObject(line, "records", records)) {
                cJSON_Delete(records);
                st = FC_ERR_NOMEM;
            }
            records = NULL;
        }
        cJSON_Delete(records);
        pthread_mutex_lock(&c->lock);
        fc_err werr;
        fc_err_clear(&werr);
        fc_status ws = line ? append_line(c, line, &werr)
                            : fc_err_set(&werr, FC_ERR_NOMEM, "out of memory");
        if (ws && !c->fatal) {
            c->fatal = ws;
            c->fatal_err = werr;
        }
        c->units[k].done = 1;
        c->done_now++;
        int64_t from = u->block * c->o->block;
        c->images_now += sm->data.n - from < c->o->block ? sm->data.n - from : c->o->block;
        progress(c, false);
        pthread_mutex_unlock(&c->lock);
        cJSON_Delete(line);
    }
    fc_model_free(op.f32);
    fc_model_free(op.q8);
    return NULL;
}

/* ---- the sweep ------------------------------------------------------------ */

static fc_status make_units(const fc_sweep_options *o, const sweep_model *models, int n,
                            sweep_unit **out, int64_t *count, fc_err *err)
{
    static const int kinds[] = {FC_ATTACK_FGSM, FC_ATTACK_PGD, FC_ATTACK_BOUNDARY};
    int64_t total = 0, pair = 0, k = 0;
    for (int m = 0; m < n; m++)
        total += models[m].n_blocks * 3;
    sweep_unit *u = fc_calloc(total ? (size_t)total : 1, sizeof *u);
    if (!u)
        return fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    for (int m = 0; m < n; m++)
        for (int64_t b = 0; b < models[m].n_blocks; b++, pair++) {
            if (pair % o->shard_count != o->shard_index)
                continue;
            for (int a = 0; a < 3; a++)
                if (o->attacks & (1u << kinds[a]))
                    u[k++] = (sweep_unit){m, b, kinds[a], 0};
        }
    *out = u;
    *count = k;
    return FC_OK;
}

fc_status fc_sweep_run(const fc_sweep_options *opt, cJSON **doc, fc_sweep_stats *stats,
                       fc_err *err)
{
    *doc = NULL;
    memset(stats, 0, sizeof *stats);
    fc_sweep_options o = *opt;
    if (o.block <= 0)
        o.block = FC_SWEEP_DEFAULT_BLOCK;
    if (o.boundary_queries <= 0)
        o.boundary_queries = FC_SWEEP_DEFAULT_QUERIES;
    if (o.jobs < 1)
        o.jobs = 1;
    if (o.shard_count < 1 || o.shard_index < 0 || o.shard_index >= o.shard_count)
        return fc_err_set(err, FC_ERR_INVALID_ARG, "shard %d/%d: want 0 <= K < N", o.shard_index,
                          o.shard_count);
    if (!o.cfg || o.cfg->n_models < 1 || o.n_eps < 1 || !o.attacks || !(o.f32 || o.q8))
        return fc_err_set(err, FC_ERR_INVALID_ARG, "nothing to sweep (models, eps, attacks, engines)");
    const double t0 = now_s();
    int n = o.cfg->n_models;
    sweep_model *models = fc_calloc((size_t)n, sizeof *models);
    sweep_unit *units = NULL;
    int64_t n_units = 0;
    cJSON *plan = NULL, *shard = NULL, *records = NULL, *failures = NULL;
    run_ctx c = {.o = &o, .journal_fd = -1};
    fc_status st = models ? fc_file_mkdirs(o.out_dir, err) : fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    for (int i = 0; !st && i < n; i++)
        st = prepare_model(&o, i, &models[i], err);
    if (!st && (!(plan = plan_json(&o, models, n)) ||
                !(shard = sweep_shard_json(o.shard_index, o.shard_count))))
        st = fc_err_set(err, FC_ERR_NOMEM, "out of memory");
    if (!st)
        st = make_units(&o, models, n, &units, &n_units, err);
    if (!st)
        st = sweep_journal_open(o.out_dir, plan, shard, &c.journal_fd, err);
    if (!st)
        st = sweep_journal_load(o.out_dir, models, n, units, n_units, NULL, NULL, err);
    if (!st) {
        for (int64_t k = 0; k < n_units; k++)
            stats->units_skipped += units[k].done != 0;
        c.models = models;
        c.units = units;
        c.n_units = n_units;
        c.total_todo = n_units - stats->units_skipped;
        c.t0 = c.last_print = now_s();
        pthread_mutex_init(&c.lock, NULL);
        int jobs = o.jobs;
        pthread_t tid[64];
        bool started[64] = {false};
        if (jobs > 64)
            jobs = 64;
        for (int t = 1; t < jobs; t++)
            started[t] = pthread_create(&tid[t], NULL, worker, &c) == 0;
        worker(&c);
        for (int t = 1; t < jobs; t++)
            if (started[t])
                pthread_join(tid[t], NULL);
        pthread_mutex_destroy(&c.lock);
        if (o.progress && c.total_todo)
            progress(&c, true);
        if (c.fatal) {
            st = c.fatal;
            *err = c.fatal_err;
        }
        stats->units = n_units;
        stats->images = c.images_now;
    }
    if (c.journal_fd >= 0)
        close(c.journal_fd);
    if (!st) {
        for (int64_t k = 0; k < n_units; k++)
            units[k].done = 0;
        st = sweep_journal_load(o.out_dir, models, n, units, n_units, &records, &failures, err);
    }
    if (!st) {
        st = fc_sweep_document(plan, shard, records, failures, doc, err);
        plan = shard = NULL;
    } else {
        cJSON_Delete(plan);
        cJSON_Delete(shard);
    }
    for (int i = 0; i < n && models; i++)
        fc_dataset_free(&models[i].data);
    fc_free(models);
    fc_free(units);
    stats->seconds = now_s() - t0;
    return st;
}
