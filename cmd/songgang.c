/* cmd/songgang.c -- the `songgang` command: import, export, get, close-job,
 * delete, check, match, candidates, gen, key.  Each command opens the data
 * directory, does one thing and exits: 0 on success, 1 when the command ran
 * but something was rejected or not found, 2 on a usage error.
 * Single-threaded. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../tools/gen.h"
#include "serve.h"
#include "songgang/auth.h"
#include "songgang/match.h"
#include "songgang/proto.h"
#include "songgang/store.h"
#include "songgang/write.h"

#define LINE_MAX_BYTES 65536 /* an NDJSON line, as for the HTTP body */
/* Records per durable group commit of an import.  A commit rewrites every
 * index page the group touched; at 1,000 a county file (32,000 records)
 * imported at ~43k records/s, at 5,000 at ~64k/s, and 20,000 gained
 * nothing more (bench/ingest_bench.sh prints the import rate). */
#define BATCH 5000

static const char usage_text[] =
    "usage: songgang COMMAND [OPTIONS]\n"
    "  import --db DIR [--json] [--push [--push-top N] [--weights FILE]]\n"
    "         FILE...                     load NDJSON workers and jobs (- = "
    "stdin);\n"
    "                                     --push: push events as the API does\n"
    "  export --db DIR                    write every record as NDJSON\n"
    "  get --db DIR (--worker ID | --job ID)\n"
    "  close-job --db DIR --job ID\n"
    "  delete --db DIR (--worker ID | --job ID)\n"
    "  check --db DIR                     verify every index entry\n"
    "  match --db DIR --worker ID [--limit N] [--as-of YYYY-MM-DD] "
    "[--weights FILE]\n"
    "  candidates --db DIR --job ID [--limit N] [--as-of YYYY-MM-DD] "
    "[--weights FILE]\n"
    "  gen --county CODE --workers N --jobs M --seed S [--counties K]\n"
    "  serve --db DIR [--http HOST:PORT] [--push-top N] [--rate N]\n"
    "        [--request-timeout-ms MS] [--max-conns N] [--weights FILE]\n"
    "        [--cache-mb N (0 = off)] [--version-poll-ms MS] [--quiet]\n"
    "                                     matcher + HTTP gateway in one "
    "process\n"
    "  key create --db DIR --role ROLE [--scope PREFIX] [--employer ID]\n"
    "             [--worker ID] [--ttl DAYS]   print a new API key (or, for\n"
    "                                     --role worker, a worker token)\n"
    "  key revoke --db DIR ID             revoke a key or a token\n"
    "  key list --db DIR                  ids, roles, scopes, expiry; never "
    "keys\n";

/* opts holds every option any command takes; each command checks its own. */
typedef struct opts {
    const char *db;       /* --db */
    const char *worker;   /* --worker */
    const char *job;      /* --job */
    const char *weights;  /* --weights */
    const char *county;   /* --county */
    const char *role;     /* --role */
    const char *scope;    /* --scope */
    const char *employer; /* --employer */
    long ttl;             /* --ttl (days), -1 when not given */
    long limit;           /* --limit */
    long workers;         /* --workers */
    long jobs;            /* --jobs */
    long counties;        /* --counties */
    unsigned long long seed; /* --seed */
    int32_t as_of;        /* --as-of */
    bool json;            /* --json */
    bool quiet;           /* --quiet */
    bool push;            /* --push (import) */
    const char *http;     /* --http */
    long push_top;        /* --push-top */
    long rate;            /* --rate */
    long req_timeout_ms;  /* --request-timeout-ms */
    long max_conns;       /* --max-conns */
    long cache_mb;        /* --cache-mb (-1 = not given) */
    long version_poll_ms; /* --version-poll-ms */
    char **files;         /* positional arguments */
    int nfiles;           /* how many */
} opts;

static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("songgang: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    fputs(usage_text, stderr);
    return 2;
}

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("songgang: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return 1;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

/* The options, one row each: a flag (no value), a string, or a whole
 * number within [lo, hi] (its usage error says so, with `unit`).  --seed
 * and --as-of have parsers of their own. */
enum opt_kind { OPT_FLAG, OPT_STR, OPT_LONG, OPT_SEED, OPT_DATE };
typedef struct opt_def {
    const char *name;   /* "--db" */
    enum opt_kind kind; /* how its value is read */
    size_t off;         /* offsetof(opts, field) */
    long lo, hi;        /* OPT_LONG: the range */
    const char *unit;   /* OPT_LONG: words after the range, or "" */
} opt_def;

#define O(f) offsetof(opts, f)
static const opt_def opt_defs[] = {
    {"--json", OPT_FLAG, O(json), 0, 0, ""},
    {"--quiet", OPT_FLAG, O(quiet), 0, 0, ""},
    {"--push", OPT_FLAG, O(push), 0, 0, ""},
    {"--db", OPT_STR, O(db), 0, 0, ""},
    {"--http", OPT_STR, O(http), 0, 0, ""},
    {"--worker", OPT_STR, O(worker), 0, 0, ""},
    {"--job", OPT_STR, O(job), 0, 0, ""},
    {"--weights", OPT_STR, O(weights), 0, 0, ""},
    {"--county", OPT_STR, O(county), 0, 0, ""},
    {"--role", OPT_STR, O(role), 0, 0, ""},
    {"--scope", OPT_STR, O(scope), 0, 0, ""},
    {"--employer", OPT_STR, O(employer), 0, 0, ""},
    {"--push-top", OPT_LONG, O(push_top), 1, SG_MATCH_LIMIT_MAX, ""},
    {"--rate", OPT_LONG, O(rate), 1, 1000000000, " requests/s"},
    {"--request-timeout-ms", OPT_LONG, O(req_timeout_ms), 100, 86400000, ""},
    {"--max-conns", OPT_LONG, O(max_conns), 1, 1000000, ""},
    {"--cache-mb", OPT_LONG, O(cache_mb), 0, 65536, " (0 = off)"},
    {"--version-poll-ms", OPT_LONG, O(version_poll_ms), 1, 60000, ""},
    {"--ttl", OPT_LONG, O(ttl), 0, 36500, " days"},
    {"--limit", OPT_LONG, O(limit), 1, SG_MATCH_LIMIT_MAX, ""},
    {"--workers", OPT_LONG, O(workers), 0, 100000000, ""},
    {"--jobs", OPT_LONG, O(jobs), 0, 10000000, ""},
    {"--counties", OPT_LONG, O(counties), 1, 1000, ""},
    {"--seed", OPT_SEED, O(seed), 0, 0, ""},
    {"--as-of", OPT_DATE, O(as_of), 0, 0, ""},
};
#undef O

/* set_opt stores v (NULL for a flag) into o as d says; 0 or the exit
 * code of a usage error. */
static int set_opt(opts *o, const opt_def *d, const char *v)
{
    char *field = (char *)o + d->off;
    char *end;
    switch (d->kind) {
    case OPT_FLAG:
        *(bool *)field = true;
        return 0;
    case OPT_STR:
        *(const char **)field = v;
        return 0;
    case OPT_LONG:
        if (!parse_long(v, d->lo, d->hi, (long *)field)) {
            return usage("%s must be %ld..%ld%s", d->name, d->lo, d->hi,
                         d->unit);
        }
        return 0;
    case OPT_SEED:
        errno = 0;
        *(unsigned long long *)field = strtoull(v, &end, 10);
        if (errno != 0 || *end != '\0' || end == v || v[0] == '-') {
            return usage("--seed must be a non-negative integer");
        }
        return 0;
    case OPT_DATE:
        if (sg_date_parse(v, strlen(v), (int32_t *)field) != 0) {
            return usage("--as-of must be a date YYYY-MM-DD");
        }
        return 0;
    }
    return usage("unknown option %s", d->name);
}

/* parse_opts reads argv[2..]; returns 0 or the exit code of a usage error. */
static int parse_opts(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof(*o));
    o->cache_mb = -1;
    o->limit = 20;
    o->as_of = SG_DATE_NONE;
    o->counties = 1;
    o->ttl = -1;
    o->files = calloc((size_t)argc, sizeof(char *));
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            o->files[o->nfiles++] = argv[i];
            continue;
        }
        const opt_def *d = NULL;
        for (size_t k = 0; k < sizeof(opt_defs) / sizeof(opt_defs[0]); k++) {
            if (strcmp(a, opt_defs[k].name) == 0) {
                d = &opt_defs[k];
                break;
            }
        }
        if (d == NULL) {
            return usage("unknown option %s", a);
        }
        const char *v = NULL;
        if (d->kind != OPT_FLAG) {
            if (i + 1 >= argc) {
                return usage("%s needs a value", a);
            }
            v = argv[++i];
        }
        int rc = set_opt(o, d, v);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int open_store(const opts *o, bool write, sg_store **s)
{
    if (o->db == NULL) {
        return usage("--db DIR is required");
    }
    struct stat st;
    if (!write && stat(o->db, &st) != 0) {
        return fail("%s: no such data directory", o->db);
    }
    int rc = sg_store_open(s, o->db, write ? 0 : SG_STORE_RDONLY);
    if (rc != 0) {
        return fail("%s: cannot open the store: %s", o->db, sg_strerror(rc));
    }
    return 0;
}

static void print_jv(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                JSON_REAL_PRECISION(10));
    puts(s);
    free(s);
}

static int load_weights(const opts *o, sg_weights *w);

/* ---- import ---- */

typedef struct import_state {
    sg_store *s;       /* store */
    sg_txn *t;         /* open write transaction */
    sg_write wr;       /* the shared write path, over t */
    size_t in_batch;   /* records put in t */
    long accepted;     /* lines that landed */
    long rejected;     /* lines refused */
    json_t *errors;    /* [{file, line, field, reason}] */
    bool json;         /* summary as JSON */
    bool tty;          /* progress bar on stderr */
    time_t last_bar;   /* when it was last drawn */
} import_state;

static void reject(import_state *st, const char *file, long line,
                   const char *field, const char *reason)
{
    st->rejected++;
    if (st->json) {
        json_t *e = json_object();
        json_object_set_new(e, "file", json_string(file));
        json_object_set_new(e, "line", json_integer(line));
        json_object_set_new(e, "field", json_string(field));
        json_object_set_new(e, "reason", json_string(reason));
        json_array_append_new(st->errors, e);
    } else {
        if (st->tty) {
            fputs("\r\033[K", stderr);
        }
        printf("%s:%ld: %s%s%s\n", file, line, field, *field ? ": " : "",
               reason);
    }
}

/* commit_batch makes the open batch durable; a failure here loses the
 * whole batch, so it is fatal for the command. */
static int commit_batch(import_state *st, bool reopen)
{
    int rc = sg_txn_commit(st->t);
    st->t = NULL;
    st->accepted += (long)st->in_batch;
    if (rc != 0) {
        st->accepted -= (long)st->in_batch;
        return rc;
    }
    st->in_batch = 0;
    if (!reopen) {
        return 0;
    }
    rc = sg_txn_begin(st->s, true, &st->t);
    st->wr.t = st->t;
    return rc;
}

static void draw_bar(import_state *st, long done, long total, bool force)
{
    time_t now = time(NULL);
    if (!st->tty || (!force && now == st->last_bar)) {
        return;
    }
    st->last_bar = now;
    int width = 30, fill = total > 0 ? (int)(width * done / total) : 0;
    char bar[64];
    for (int i = 0; i < width; i++) {
        bar[i] = i < fill ? '#' : '.';
    }
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %3d%%  accepted %ld  rejected %ld", bar,
            total > 0 ? (int)(100 * done / total) : 0,
            st->accepted + (long)st->in_batch, st->rejected);
}

/* import_line writes one line through the shared path; a rejected line
 * is reported and the import goes on, a store failure ends it. */
static int import_line(import_state *st, const char *file, long lineno,
                       const char *line, size_t len)
{
    sg_error e;
    sg_error_clear(&e);
    int rc = sg_write_import_line(&st->wr, line, len, 0, sg_store_idkey(st->s),
                                  NULL, &e);
    if (rc < 0) {
        return rc; /* the store, not the line */
    }
    if (rc == 1) {
        reject(st, file, lineno, e.field, e.reason);
        return 0;
    }
    if (++st->in_batch >= BATCH) {
        return commit_batch(st, true);
    }
    return 0;
}

static int import_file(import_state *st, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        return fail("%s: %s", path, strerror(errno));
    }
    struct stat sb;
    long total = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)
                     ? (long)sb.st_size
                     : 0;
    long done = 0, lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        done += n;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            len--;
        }
        if (len == 0) {
            continue;
        }
        if (len > LINE_MAX_BYTES) {
            reject(st, path, lineno, "", "line longer than 65536 bytes");
            continue;
        }
        rc = import_line(st, path, lineno, line, len);
        if ((lineno & 1023) == 0) {
            draw_bar(st, done, total, false);
        }
    }
    draw_bar(st, done, total, true);
    free(line);
    if (f != stdin) {
        fclose(f);
    }
    if (rc != 0) {
        return fail("%s: store failure at line %ld: %s", path, lineno,
                    sg_strerror(rc));
    }
    return 0;
}

static int cmd_import(const opts *o)
{
    if (o->nfiles == 0) {
        return usage("import needs at least one FILE (- for stdin)");
    }
    import_state st = {0};
    sg_weights w;
    int rc = o->push ? load_weights(o, &w) : 0;
    if (rc != 0 || (rc = open_store(o, true, &st.s)) != 0) {
        return rc;
    }
    st.json = o->json;
    st.tty = isatty(STDERR_FILENO);
    st.errors = json_array();
    rc = sg_txn_begin(st.s, true, &st.t) == 0 ? 0 : 1;
    /* The bulk load pushes nothing unless asked (songgang/write.h). */
    sg_write_init(&st.wr, st.t, o->push ? 0 : SG_WRITE_NO_PUSH,
                  (int)o->push_top, &w);
    for (int i = 0; rc == 0 && i < o->nfiles; i++) {
        rc = import_file(&st, o->files[i]);
    }
    if (rc == 0) {
        int c = commit_batch(&st, false);
        rc = c == 0 ? 0 : fail("commit failed: %s", sg_strerror(c));
    } else {
        sg_txn_abort(st.t);
    }
    if (st.tty) {
        fputs("\n", stderr);
    }
    if (st.json) {
        json_t *sum = json_object();
        json_object_set_new(sum, "accepted", json_integer(st.accepted));
        json_object_set_new(sum, "rejected", json_integer(st.rejected));
        json_object_set(sum, "errors", st.errors);
        print_jv(sum);
        json_decref(sum);
    } else {
        printf("accepted %ld, rejected %ld\n", st.accepted, st.rejected);
    }
    json_decref(st.errors);
    sg_store_close(st.s);
    return rc != 0 ? rc : st.rejected > 0 ? 1 : 0;
}

/* ---- export, get, close-job, delete, check ---- */

static int export_worker(void *arg, const sg_worker *w)
{
    sg_buf *b = arg;
    b->len = 0;
    sg_worker_to_json(w, b);
    fwrite(b->data, 1, b->len, stdout);
    putchar('\n');
    return 0;
}

static int export_job(void *arg, const sg_job *j)
{
    sg_buf *b = arg;
    b->len = 0;
    sg_job_to_json(j, b);
    fwrite(b->data, 1, b->len, stdout);
    putchar('\n');
    return 0;
}

static int cmd_export(const opts *o)
{
    sg_store *s;
    sg_txn *t;
    int rc = open_store(o, false, &s);
    if (rc != 0) {
        return rc;
    }
    if ((rc = sg_txn_begin(s, false, &t)) == 0) {
        sg_buf b;
        sg_buf_init(&b);
        rc = sg_txn_each_worker(t, export_worker, &b);
        if (rc == 0) {
            rc = sg_txn_each_job(t, export_job, &b);
        }
        sg_buf_free(&b);
        sg_txn_abort(t);
    }
    sg_store_close(s);
    return rc == 0 ? 0 : fail("export failed: %s", sg_strerror(rc));
}

/* one_id checks that exactly one of --worker / --job was given. */
static int one_id(const opts *o)
{
    if ((o->worker == NULL) == (o->job == NULL)) {
        return usage("give exactly one of --worker ID and --job ID");
    }
    return 0;
}

static int cmd_get(const opts *o)
{
    sg_store *s;
    sg_txn *t;
    int rc = one_id(o);
    if (rc != 0 || (rc = open_store(o, false, &s)) != 0) {
        return rc;
    }
    if ((rc = sg_txn_begin(s, false, &t)) == 0) {
        sg_buf b;
        sg_buf_init(&b);
        if (o->worker != NULL) {
            sg_worker w;
            if ((rc = sg_txn_get_worker(t, o->worker, &w)) == 0) {
                sg_worker_to_json(&w, &b);
            }
        } else {
            sg_job j;
            if ((rc = sg_txn_get_job(t, o->job, &j)) == 0) {
                sg_job_to_json(&j, &b);
            }
        }
        if (rc == 0) {
            printf("%.*s\n", (int)b.len, (const char *)b.data);
        }
        sg_buf_free(&b);
        sg_txn_abort(t);
    }
    sg_store_close(s);
    if (rc == SG_ENOTFOUND) {
        return fail("no %s with id %s", o->worker ? "worker" : "job",
                    o->worker ? o->worker : o->job);
    }
    return rc == 0 ? 0 : fail("get failed: %s", sg_strerror(rc));
}

/* write_one runs one write (close-job or delete) durably, through the
 * shared write path with its pushes, as the API's writes are: closing or
 * deleting a job sends `removed` to the workers it was pushed to, so a
 * job taken back here leaves no stale match on a phone.  No doorbell is
 * rung for these events: gateways see them at their next poll. */
static int write_one(const opts *o, bool is_delete)
{
    sg_store *s;
    sg_txn *t;
    sg_weights w;
    int rc = is_delete ? one_id(o) : 0;
    if (!is_delete && o->job == NULL) {
        return usage("close-job needs --job ID");
    }
    if (rc != 0) {
        return rc;
    }
    const char *id = o->worker != NULL ? o->worker : o->job;
    if (!sg_id_valid(id, strlen(id))) {
        return fail("%s: not an id (1-32 of A-Z a-z 0-9 _ -)",
                    o->worker != NULL ? "--worker" : "--job");
    }
    if ((rc = load_weights(o, &w)) != 0 ||
        (rc = open_store(o, true, &s)) != 0) {
        return rc;
    }
    if ((rc = sg_txn_begin(s, true, &t)) == 0) {
        sg_write wr;
        sg_write_init(&wr, t, 0, (int)o->push_top, &w);
        if (!is_delete) {
            rc = sg_write_close_job(&wr, o->job, NULL);
        } else if (o->worker != NULL) {
            rc = sg_write_delete_worker(&wr, o->worker);
        } else {
            rc = sg_write_delete_job(&wr, o->job);
        }
        if (rc == 0) {
            rc = sg_txn_commit(t);
        } else {
            sg_txn_abort(t);
        }
    }
    sg_store_close(s);
    if (rc == SG_ENOTFOUND) {
        return fail("no %s with id %s", o->worker ? "worker" : "job",
                    o->worker ? o->worker : o->job);
    }
    return rc == 0 ? 0 : fail("write failed: %s", sg_strerror(rc));
}

static void print_problem(void *arg, const char *problem)
{
    (void)arg;
    printf("%s\n", problem);
}

static int cmd_check(const opts *o)
{
    sg_store *s;
    int rc = open_store(o, false, &s);
    if (rc != 0) {
        return rc;
    }
    sg_txn *t;
    size_t nw = 0, nj = 0;
    if (sg_txn_begin(s, false, &t) == 0) {
        sg_txn_counts(t, &nw, &nj);
        sg_txn_abort(t);
    }
    rc = sg_store_check(s, print_problem, NULL);
    sg_store_close(s);
    if (rc < 0) {
        return fail("check could not run: %s", sg_strerror(rc));
    }
    printf("check: %zu workers, %zu jobs, %d problem%s\n", nw, nj, rc,
           rc == 1 ? "" : "s");
    return rc == 0 ? 0 : 1;
}

/* ---- match, candidates ---- */

static int load_weights(const opts *o, sg_weights *w)
{
    sg_weights_default(w);
    char path[4096];
    const char *p = o->weights;
    if (p == NULL) {
        snprintf(path, sizeof(path), "%s/weights.conf", o->db);
        if (access(path, R_OK) != 0) {
            return 0;
        }
        p = path;
    }
    sg_error e;
    sg_error_clear(&e);
    int rc = sg_weights_load(w, p, &e);
    if (rc != 0) {
        return fail("%s: %s%s%s", p, e.field, *e.field ? ": " : "", e.reason);
    }
    return 0;
}

static int cmd_match(const opts *o, bool for_worker)
{
    const char *id = for_worker ? o->worker : o->job;
    if (id == NULL) {
        return usage("%s needs %s ID", for_worker ? "match" : "candidates",
                     for_worker ? "--worker" : "--job");
    }
    sg_weights w;
    sg_store *s;
    int rc = open_store(o, false, &s);
    if (rc != 0) {
        return rc;
    }
    if ((rc = load_weights(o, &w)) != 0) {
        sg_store_close(s);
        return rc;
    }
    sg_match_opts mo = {
        .as_of = o->as_of != SG_DATE_NONE ? o->as_of : sg_today(),
        .limit = (int)o->limit,
        .w = &w,
    };
    sg_txn *t;
    sg_match_list l = {0};
    if ((rc = sg_txn_begin(s, false, &t)) == 0) {
        rc = for_worker ? sg_match_worker(t, id, &mo, &l)
                        : sg_match_job(t, id, &mo, &l);
        sg_txn_abort(t);
    }
    sg_store_close(s);
    if (rc == SG_ENOTFOUND) {
        return fail("no %s with id %s", for_worker ? "worker" : "job", id);
    }
    if (rc != 0) {
        return fail("match failed: %s", sg_strerror(rc));
    }
    char day[11];
    sg_date_format(mo.as_of, day);
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++) {
        json_array_append_new(arr, sg_match_to_jv(&l.items[i], for_worker));
    }
    json_t *out = json_object();
    json_object_set_new(out, for_worker ? "worker" : "job", json_string(id));
    json_object_set_new(out, "as_of", json_string(day));
    json_object_set_new(out, for_worker ? "matches" : "candidates", arr);
    print_jv(out);
    json_decref(out);
    sg_match_list_free(&l);
    return 0;
}

/* ---- serve ---- */

static int cmd_serve(const opts *o)
{
    if (o->db == NULL) {
        return usage("serve needs --db DIR");
    }
    sg_weights w;
    int rc = load_weights(o, &w);
    if (rc != 0) {
        return rc;
    }
    sg_serve_opts so = {
        .db = o->db,
        .http = o->http != NULL ? o->http : "127.0.0.1:8080",
        .push_top = (int)o->push_top,
        .weights = &w,
        .rate_per_s = (int)o->rate,
        .request_timeout_ms = (int)o->req_timeout_ms,
        .max_conns = (int)o->max_conns,
        /* serve's 0 means "default", ours means "off" */
        .cache_mb = o->cache_mb < 0 ? 0 : o->cache_mb == 0 ? -1
                                                            : (int)o->cache_mb,
        .version_poll_ms = (int)o->version_poll_ms,
        .quiet = o->quiet,
    };
    return sg__serve(&so);
}

/* ---- gen ---- */

static int cmd_gen(const opts *o)
{
    if (o->county == NULL) {
        return usage("gen needs --county CODE");
    }
    sg_gen_opts g = {
        .county = o->county,
        .counties = (int)o->counties,
        .workers = (uint64_t)o->workers,
        .jobs = (uint64_t)o->jobs,
        .seed = o->seed,
    };
    int rc = sg_gen_write(stdout, &g);
    if (rc != 0) {
        return fail("gen: %s", sg_strerror(rc));
    }
    return fflush(stdout) == 0 ? 0 : fail("gen: write failed");
}

/* ---- key ---- */

/* key_create prints a new API key, or for --role worker a signed worker
 * token for an existing worker: alone on stdout, so that a script can
 * capture it.  It is shown this once; only its hash (or, for a token,
 * its id) is kept. */
static int key_create(const opts *o)
{
    int role = o->role != NULL ? sg_role_parse(o->role) : -1;
    if (role < 0) {
        return usage("key create needs --role admin|officer|employer|worker");
    }
    bool token = role == SG_ROLE_WORKER;
    if (token && (o->worker == NULL || o->scope || o->employer)) {
        return usage("--role worker needs --worker ID and takes no --scope "
                     "or --employer");
    }
    if (!token && o->worker != NULL) {
        return usage("--worker goes with --role worker only");
    }
    sg_store *s;
    sg_txn *t;
    int rc = open_store(o, true, &s);
    if (rc != 0) {
        return rc;
    }
    int64_t now = (int64_t)time(NULL);
    long ttl = o->ttl >= 0 ? o->ttl : token ? SG_TOKEN_TTL_DAYS : -1;
    int64_t expires = ttl >= 0 ? now + (int64_t)ttl * 86400 : 0;
    char out[SG_TOKEN_MAX + 1] = "", id[SG_CRED_ID_LEN + 1];
    sg_error e;
    sg_error_clear(&e);
    if ((rc = sg_txn_begin(s, true, &t)) == 0) {
        sg_worker w;
        if (token) {
            sg_auth a;
            sg_auth_init(&a, s);
            rc = sg_txn_get_worker(t, o->worker, &w);
            if (rc == 0) {
                rc = sg_auth_token_issue(&a, t, o->worker, expires, out, id,
                                         &e);
            }
            sg_auth_fini(&a);
        } else {
            sg_cred tmpl;
            memset(&tmpl, 0, sizeof(tmpl));
            tmpl.role = (uint8_t)role;
            tmpl.expires = expires;
            snprintf(tmpl.scope, sizeof(tmpl.scope), "%s",
                     o->scope ? o->scope : "");
            snprintf(tmpl.employer, sizeof(tmpl.employer), "%s",
                     o->employer ? o->employer : "");
            if ((o->scope && strlen(o->scope) > SG_REGION_LEN) ||
                (o->employer && strlen(o->employer) > SG_ID_MAX)) {
                rc = sg_error_set(&e, SG_EINVAL,
                                  o->employer ? "employer" : "scope",
                                  "too long");
            } else {
                rc = sg_auth_key_create(t, &tmpl, out, id, &e);
            }
        }
        rc = rc == 0 ? sg_txn_commit(t) : (sg_txn_abort(t), rc);
    }
    sg_store_close(s);
    if (rc == SG_ENOTFOUND) {
        return fail("no worker with id %s", o->worker);
    }
    if (rc == SG_EINVAL) {
        return fail("--%s: %s", e.field, e.reason);
    }
    if (rc != 0) {
        return fail("key create failed: %s", sg_strerror(rc));
    }
    puts(out);
    sodium_memzero(out, sizeof(out));
    return 0;
}

static int key_revoke(const opts *o)
{
    if (o->nfiles != 1) {
        return usage("key revoke needs one ID");
    }
    sg_store *s;
    sg_txn *t;
    int rc = open_store(o, true, &s);
    if (rc != 0) {
        return rc;
    }
    if ((rc = sg_txn_begin(s, true, &t)) == 0) {
        rc = sg_txn_cred_revoke(t, o->files[0]);
        rc = rc == 0 ? sg_txn_commit(t) : (sg_txn_abort(t), rc);
    }
    sg_store_close(s);
    if (rc == SG_ENOTFOUND) {
        return fail("no key or token with id %s", o->files[0]);
    }
    return rc == 0 ? 0 : fail("key revoke failed: %s", sg_strerror(rc));
}

/* print_cred writes one line of `key list`: id, kind, role, scope,
 * employer or worker, expiry, state; tab-separated, "-" for none. */
static int print_cred(void *arg, const sg_cred *c)
{
    int64_t now = *(const int64_t *)arg;
    char exp[26] = "never";
    if (c->expires != 0) {
        sg_time_format(c->expires, exp);
    }
    const char *subject = c->token ? c->worker : c->employer;
    printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c->id, c->token ? "token" : "key",
           sg_role_name(c->role) ? sg_role_name(c->role) : "?",
           c->scope[0] ? c->scope : "-", subject[0] ? subject : "-", exp,
           c->revoked                                ? "revoked"
           : c->expires != 0 && now >= c->expires ? "expired"
                                                     : "active");
    return 0;
}

static int key_list(const opts *o)
{
    sg_store *s;
    sg_txn *t;
    int rc = open_store(o, false, &s);
    if (rc != 0) {
        return rc;
    }
    int64_t now = (int64_t)time(NULL);
    if ((rc = sg_txn_begin(s, false, &t)) == 0) {
        printf("id\tkind\trole\tscope\tfor\texpires\tstate\n");
        rc = sg_txn_cred_each(t, print_cred, &now);
        sg_txn_abort(t);
    }
    sg_store_close(s);
    return rc == 0 ? 0 : fail("key list failed: %s", sg_strerror(rc));
}

static int cmd_key(int argc, char **argv)
{
    if (argc < 3) {
        return usage("key needs create, revoke or list");
    }
    opts o;
    /* Options follow the subcommand: parse argv[3..] as argv[2..]. */
    int rc = parse_opts(argc - 1, argv + 1, &o);
    if (rc == 0) {
        if (strcmp(argv[2], "create") == 0) {
            rc = o.nfiles ? usage("key create takes no arguments")
                          : key_create(&o);
        } else if (strcmp(argv[2], "revoke") == 0) {
            rc = key_revoke(&o);
        } else if (strcmp(argv[2], "list") == 0) {
            rc = o.nfiles ? usage("key list takes no arguments")
                          : key_list(&o);
        } else {
            rc = usage("unknown key command %s", argv[2]);
        }
    }
    free(o.files);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "key") == 0) {
        return cmd_key(argc, argv);
    }
    opts o;
    int rc = parse_opts(argc, argv, &o);
    const char *cmd = argv[1];
    if (rc == 0) {
        if (strcmp(cmd, "import") == 0) {
            rc = cmd_import(&o);
        } else if (strcmp(cmd, "export") == 0) {
            rc = cmd_export(&o);
        } else if (strcmp(cmd, "get") == 0) {
            rc = cmd_get(&o);
        } else if (strcmp(cmd, "close-job") == 0) {
            rc = write_one(&o, false);
        } else if (strcmp(cmd, "delete") == 0) {
            rc = write_one(&o, true);
        } else if (strcmp(cmd, "check") == 0) {
            rc = cmd_check(&o);
        } else if (strcmp(cmd, "match") == 0) {
            rc = cmd_match(&o, true);
        } else if (strcmp(cmd, "candidates") == 0) {
            rc = cmd_match(&o, false);
        } else if (strcmp(cmd, "serve") == 0) {
            rc = cmd_serve(&o);
        } else if (strcmp(cmd, "gen") == 0) {
            rc = cmd_gen(&o);
        } else {
            rc = usage("unknown command %s", cmd);
        }
    }
    free(o.files);
    return rc;
}
