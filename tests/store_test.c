/* tests/store_test.c -- the LMDB store through its public header: upsert,
 * get, close, delete, per-record atomicity inside a batch, the ID-number
 * index, the key file, snapshots that readers keep while a writer commits,
 * durability across a crashed process, and sg_store_check finding entries
 * that were removed or forged behind the store's back (the one place a
 * test opens LMDB itself: that is the fault being injected). */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "songgang/match.h"
#include "songgang/store.h"
#include "testutil.h"

typedef struct fixture {
    char dir[256];
    sg_store *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    tu_tempdir(f->dir, sizeof(f->dir));
    assert_int_equal(sg_store_open(&f->s, f->dir, 0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sg_store_close(f->s);
    tu_rmrf(f->dir);
    free(f);
    return 0;
}

static void count_problem(void *arg, const char *p)
{
    (void)p;
    (*(int *)arg)++;
}

static int check(fixture *f)
{
    int n = 0;
    int rc = sg_store_check(f->s, count_problem, &n);
    assert_int_equal(rc, n);
    return rc;
}

static void mk_worker(sg_worker *w, const char *id, const char *hh)
{
    sg_worker_init(w);
    strcpy(w->id, id);
    strcpy(w->name, "李四");
    strcpy(w->region, "360425100201");
    w->labor_class = SG_LABOR_ORDINARY;
    w->nskills = 1;
    w->skills[0] = 4; /* cleaning */
    w->category = SG_CAT_LOW_INCOME;
    strcpy(w->household, hh);
    w->travel = SG_TRAVEL_COUNTY;
    w->expected_wage = 3000;
    w->status = SG_STATUS_IDLE;
    w->seeking = true;
}

static void mk_job(sg_job *j, const char *id)
{
    sg_job_init(j);
    strcpy(j->id, id);
    strcpy(j->employer, "E9");
    j->source = SG_SOURCE_WORKSHOP;
    strcpy(j->title, "帮扶车间普工");
    j->labor_classes = 1 << SG_LABOR_ORDINARY;
    j->nsites = 1;
    strcpy(j->sites[0].region, "360425101201");
    j->openings = 5;
    j->wage_min = 2500;
    j->wage_max = 3200;
    j->posted = 1790000000;
}

static void put_worker(fixture *f, const sg_worker *w)
{
    sg_txn *t;
    sg_error e;
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    assert_int_equal(sg_txn_put_worker(t, w, &e), 0);
    assert_int_equal(sg_txn_commit(t), 0);
}

static void put_job(fixture *f, const sg_job *j)
{
    sg_txn *t;
    sg_error e;
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    assert_int_equal(sg_txn_put_job(t, j, &e), 0);
    assert_int_equal(sg_txn_commit(t), 0);
}

static size_t matches(fixture *f, const char *worker)
{
    sg_txn *t;
    sg_match_list l = {0};
    int32_t day;
    sg_date_parse("2026-09-01", 10, &day);
    sg_match_opts o = {.as_of = day, .limit = 50};
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    assert_int_equal(sg_match_worker(t, worker, &o, &l), 0);
    sg_txn_abort(t);
    size_t n = l.n;
    sg_match_list_free(&l);
    return n;
}

/* sg_store_prewarm reads every entry: on an empty store nothing but the
 * meta entries, and each record put adds at least its own bytes (record,
 * id key, index entries). */
static void test_prewarm_reads_every_entry(void **state)
{
    fixture *f = *state;
    uint64_t empty, one, two;
    assert_int_equal(sg_store_prewarm(f->s, &empty), 0);
    sg_worker w;
    mk_worker(&w, "w1", "h1");
    put_worker(f, &w);
    assert_int_equal(sg_store_prewarm(f->s, &one), 0);
    sg_buf b;
    sg_buf_init(&b);
    sg_worker_encode(&w, &b);
    assert_true(one >= empty + b.len + strlen("w1"));
    sg_job j;
    mk_job(&j, "j1");
    put_job(f, &j);
    assert_int_equal(sg_store_prewarm(f->s, &two), 0);
    sg_buf_free(&b);
    sg_buf_init(&b);
    sg_job_encode(&j, &b);
    assert_true(two >= one + b.len + strlen("j1"));
    sg_buf_free(&b);
    assert_int_equal(check(f), 0);
}

static void test_put_get_update_delete(void **state)
{
    fixture *f = *state;
    sg_worker w, got;
    sg_job j, gj;
    mk_worker(&w, "w1", "h1");
    mk_job(&j, "j1");
    put_worker(f, &w);
    put_job(f, &j);
    assert_int_equal(check(f), 0);

    sg_txn *t;
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    assert_int_equal(sg_txn_get_worker(t, "w1", &got), 0);
    assert_string_equal(got.name, "李四");
    assert_int_equal(got.expected_wage, 3000);
    assert_int_equal(sg_txn_get_job(t, "j1", &gj), 0);
    assert_string_equal(gj.title, "帮扶车间普工");
    assert_int_equal(sg_txn_get_worker(t, "nobody", &got), SG_ENOTFOUND);
    size_t nw, nj;
    assert_int_equal(sg_txn_counts(t, &nw, &nj), 0);
    assert_int_equal(nw, 1);
    assert_int_equal(nj, 1);
    sg_txn_abort(t);
    assert_int_equal(matches(f, "w1"), 1);

    /* Moving the worker out of the county re-indexes it: no match. */
    strcpy(w.region, "360102101201");
    put_worker(f, &w);
    assert_int_equal(check(f), 0);
    assert_int_equal(matches(f, "w1"), 0);
    strcpy(w.region, "360425100201");
    put_worker(f, &w);
    assert_int_equal(matches(f, "w1"), 1);

    /* Closing removes the job's postings; reopening restores them. */
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    assert_int_equal(sg_txn_close_job(t, "j1"), 0);
    assert_int_equal(sg_txn_close_job(t, "j1"), 0); /* idempotent */
    assert_int_equal(sg_txn_close_job(t, "nojob"), SG_ENOTFOUND);
    assert_int_equal(sg_txn_commit(t), 0);
    assert_int_equal(check(f), 0);
    assert_int_equal(matches(f, "w1"), 0);
    put_job(f, &j);
    assert_int_equal(matches(f, "w1"), 1);

    /* Delete. */
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    assert_int_equal(sg_txn_del_job(t, "j1"), 0);
    assert_int_equal(sg_txn_del_job(t, "j1"), SG_ENOTFOUND);
    assert_int_equal(sg_txn_del_worker(t, "w1"), 0);
    assert_int_equal(sg_txn_commit(t), 0);
    assert_int_equal(check(f), 0);
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    assert_int_equal(sg_txn_counts(t, &nw, &nj), 0);
    assert_int_equal(nw + nj, 0);
    sg_txn_abort(t);
}

static void test_batch_rejects_one_keeps_others(void **state)
{
    fixture *f = *state;
    sg_txn *t;
    sg_error e;
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    sg_worker w;
    mk_worker(&w, "a1", "h1");
    assert_int_equal(sg_txn_put_worker(t, &w, &e), 0);
    sg_worker bad = w;
    strcpy(bad.id, "bad");
    bad.expected_wage = -5; /* invalid: rejected whole */
    assert_int_equal(sg_txn_put_worker(t, &bad, &e), SG_EINVAL);
    assert_string_equal(e.field, "expected_wage");
    mk_worker(&w, "a2", "h1");
    assert_int_equal(sg_txn_put_worker(t, &w, &e), 0);
    assert_int_equal(sg_txn_commit(t), 0);
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    sg_worker got;
    assert_int_equal(sg_txn_get_worker(t, "a1", &got), 0);
    assert_int_equal(sg_txn_get_worker(t, "a2", &got), 0);
    assert_int_equal(sg_txn_get_worker(t, "bad", &got), SG_ENOTFOUND);
    sg_txn_abort(t);
    assert_int_equal(check(f), 0);
}

static void test_idnum_unique_and_hashed(void **state)
{
    fixture *f = *state;
    const uint8_t *key = sg_store_idkey(f->s);
    assert_non_null(key);
    /* 11010519491231002X is the standard's own example number. */
    const char *num = "11010519491231002X";
    sg_worker a, b;
    sg_error e;
    mk_worker(&a, "p1", "h1");
    assert_int_equal(sg_idnum_protect(&a, num, strlen(num), key, &e), 0);
    mk_worker(&b, "p2", "h2");
    assert_int_equal(sg_idnum_protect(&b, num, strlen(num), key, &e), 0);
    put_worker(f, &a);
    put_worker(f, &a); /* the same worker again is fine */
    sg_txn *t;
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    assert_int_equal(sg_txn_put_worker(t, &b, &e), SG_EEXIST);
    assert_string_equal(e.field, "id_number");
    assert_null(strstr(e.reason, "1101"));
    assert_int_equal(sg_txn_commit(t), 0);
    /* A refusal leaves the transaction usable and writes nothing. */
    assert_int_equal(sg_txn_begin(f->s, true, &t), 0);
    assert_int_equal(sg_txn_put_worker(t, &b, &e), SG_EEXIST);
    sg_worker c;
    mk_worker(&c, "p3", "h3");
    assert_int_equal(sg_txn_put_worker(t, &c, &e), 0);
    assert_int_equal(sg_txn_commit(t), 0);
    assert_int_equal(check(f), 0);
    /* Workers that keep their numbers while other fields change, with
     * several numbers held (the check reads the number's one owner, not
     * whatever entry follows it). */
    const char *num3 = "110105194912310038";
    assert_int_equal(sg_idnum_protect(&c, num3, strlen(num3), key, &e), 0);
    put_worker(f, &c);
    a.expected_wage += 100;
    c.expected_wage += 100;
    put_worker(f, &a);
    put_worker(f, &c);
    assert_int_equal(check(f), 0);
    /* Once p1 lets go of the number, p2 may take it. */
    a.has_idnum = false;
    put_worker(f, &a);
    put_worker(f, &b);
    assert_int_equal(check(f), 0);

    /* The number is nowhere in the data file in clear. */
    char path[512];
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    assert_null(memmem(buf, n, num, strlen(num)));
    assert_null(memmem(buf, n, "1949123100", 10));
}

static void test_key_file(void **state)
{
    fixture *f = *state;
    char path[512];
    snprintf(path, sizeof(path), "%s/idnum.key", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, SG_IDNUM_KEY_LEN);
    uint8_t k1[SG_IDNUM_KEY_LEN];
    memcpy(k1, sg_store_idkey(f->s), sizeof(k1));
    sg_store_close(f->s);
    assert_int_equal(sg_store_open(&f->s, f->dir, 0), 0);
    assert_memory_equal(k1, sg_store_idkey(f->s), sizeof(k1));
    /* Another store gets another key. */
    char other[256];
    tu_tempdir(other, sizeof(other));
    sg_store *s2;
    assert_int_equal(sg_store_open(&s2, other, 0), 0);
    assert_memory_not_equal(k1, sg_store_idkey(s2), sizeof(k1));
    sg_store_close(s2);
    tu_rmrf(other);
}

static void test_readers_keep_snapshot(void **state)
{
    fixture *f = *state;
    sg_worker w;
    mk_worker(&w, "s1", "h1");
    put_worker(f, &w);
    /* A second handle, read-only, as another process would open it. */
    sg_store *ro;
    assert_int_equal(sg_store_open(&ro, f->dir, SG_STORE_RDONLY), 0);
    sg_txn *r;
    assert_int_equal(sg_txn_begin(ro, false, &r), 0);
    w.expected_wage = 9999;
    put_worker(f, &w); /* the writer is not blocked by the open reader */
    sg_worker got;
    assert_int_equal(sg_txn_get_worker(r, "s1", &got), 0);
    assert_int_equal(got.expected_wage, 3000); /* its snapshot */
    sg_txn_abort(r);
    assert_int_equal(sg_txn_begin(ro, false, &r), 0);
    assert_int_equal(sg_txn_get_worker(r, "s1", &got), 0);
    assert_int_equal(got.expected_wage, 9999);
    sg_txn_abort(r);
    sg_txn *wr = NULL; /* a read-only handle cannot write */
    assert_int_not_equal(sg_txn_begin(ro, true, &wr), 0);
    assert_null(wr);
    sg_store_close(ro);
}

static void test_commit_survives_crash(void **state)
{
    fixture *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child writes, commits and dies without closing anything. */
        sg_store *s;
        sg_txn *t;
        sg_error e;
        sg_worker w;
        if (sg_store_open(&s, f->dir, 0) != 0 || sg_txn_begin(s, true, &t) != 0) {
            _exit(3);
        }
        mk_worker(&w, "crash1", "h1");
        if (sg_txn_put_worker(t, &w, &e) != 0 || sg_txn_commit(t) != 0) {
            _exit(4);
        }
        /* A second, uncommitted write must vanish. */
        if (sg_txn_begin(s, true, &t) != 0) {
            _exit(5);
        }
        mk_worker(&w, "crash2", "h1");
        sg_txn_put_worker(t, &w, &e);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    sg_store_close(f->s);
    assert_int_equal(sg_store_open(&f->s, f->dir, 0), 0);
    sg_txn *t;
    sg_worker got;
    assert_int_equal(sg_txn_begin(f->s, false, &t), 0);
    assert_int_equal(sg_txn_get_worker(t, "crash1", &got), 0);
    assert_int_equal(sg_txn_get_worker(t, "crash2", &got), SG_ENOTFOUND);
    sg_txn_abort(t);
    assert_int_equal(check(f), 0);
}

/* raw_edit opens the environment with LMDB directly and deletes (or adds)
 * one entry of database db: the fault sg_store_check must notice. */
static void raw_edit(fixture *f, const char *db, bool add)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    mdb_env_set_mapsize(env, (size_t)64 << 30);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    if (add) {
        /* The same key with a value naming a worker that does not exist. */
        uint8_t val[64];
        memcpy(val, v.mv_data, v.mv_size < 64 ? v.mv_size : 64);
        val[0] = 5;
        memcpy(val + 1, "ghost", 5);
        MDB_val nv = {v.mv_size < 64 ? v.mv_size : 64, val};
        MDB_val key = k;
        assert_int_equal(mdb_cursor_put(c, &key, &nv, 0), 0);
    } else {
        assert_int_equal(mdb_cursor_del(c, 0), 0);
    }
    mdb_cursor_close(c);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_check_finds_tampering(void **state)
{
    fixture *f = *state;
    sg_worker w;
    sg_job j;
    mk_worker(&w, "t1", "h1");
    mk_job(&j, "tj");
    put_worker(f, &w);
    put_job(f, &j);
    assert_int_equal(check(f), 0);
    raw_edit(f, "wpost", false); /* a missing posting */
    assert_true(check(f) >= 1);
    put_worker(f, &w); /* unchanged record: nothing rewritten */
    w.expected_wage++;
    put_worker(f, &w); /* changed: entries rewritten, the store heals */
    assert_int_equal(check(f), 0);
    raw_edit(f, "jpost", false);
    assert_true(check(f) >= 1);
    j.openings++;
    put_job(f, &j);
    assert_int_equal(check(f), 0);
    raw_edit(f, "hh", true); /* an entry for a record that is not there */
    assert_true(check(f) >= 1);
}

/* A store from before the region index and before layout 2 (no meta
 * "layout"; worker postings keyed the old way) is refused to readers and
 * rebuilt at its first writable open. */
static void test_layout_upgrade(void **state)
{
    fixture *f = *state;
    sg_worker w;
    mk_worker(&w, "u1", "h1");
    put_worker(f, &w);
    sg_store_close(f->s);
    f->s = NULL;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, wpost, wregion;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 24);
    mdb_env_set_mapsize(env, (size_t)64 << 30);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "wpost", 0, &wpost), 0);
    MDB_val k = {6, "layout"};
    assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);
    assert_int_equal(mdb_drop(txn, wpost, 0), 0);
    assert_int_equal(mdb_dbi_open(txn, "wregion", 0, &wregion), 0);
    assert_int_equal(mdb_drop(txn, wregion, 1), 0); /* the database itself */
    uint8_t old[16] = {1, 2, '3', '6', '0', '4', '2', '5'}, val[2] = {1, 'x'};
    MDB_val ok = {16, old}, ov = {2, val};
    assert_int_equal(mdb_put(txn, wpost, &ok, &ov, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    sg_store *ro;
    assert_int_equal(sg_store_open(&ro, f->dir, SG_STORE_RDONLY), SG_EVERSION);
    assert_int_equal(sg_store_open(&f->s, f->dir, 0), 0);
    assert_int_equal(check(f), 0); /* rebuilt, the stray entry gone */
    assert_int_equal(sg_store_open(&ro, f->dir, SG_STORE_RDONLY), 0);
    sg_store_close(ro);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_update_delete, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batch_rejects_one_keeps_others,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_idnum_unique_and_hashed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_keep_snapshot, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_commit_survives_crash, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_check_finds_tampering, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_layout_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prewarm_reads_every_entry, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
