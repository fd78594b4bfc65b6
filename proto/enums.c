/* proto/enums.c -- wire names and Chinese labels of the record enums.
 * One table per family, indexed by value, so the name of a value and the
 * value of a name can never disagree.  Constant data: any thread. */
#include <string.h>

#include "songgang/proto.h"

typedef struct enum_table {
    const char *const *names;  /* wire names, by value */
    const char *const *labels; /* Chinese labels, by value */
    int count;                 /* number of values */
} enum_table;

static const char *const labor_names[] = {"ordinary", "skilled", "half",
                                          "weak"};
static const char *const labor_labels[] = {"普通劳动力", "技能劳动力",
                                           "半劳动力", "弱劳动力"};
static const char *const category_names[] = {"poverty_exited", "monitored",
                                             "low_income"};
static const char *const category_labels[] = {
    "脱贫人口", "防止返贫监测对象", "农村低收入人口"};
static const char *const travel_names[] = {"village", "township", "county",
                                           "city",    "province", "any"};
static const char *const travel_labels[] = {"本村", "本乡镇", "本县",
                                            "本市", "本省",   "不限"};
static const char *const status_names[] = {
    "employed_local", "employed_outbound", "public_welfare_post",
    "workshop",       "self_employed",     "farming",
    "returned",       "idle",              "caregiving",
    "ill",            "in_training"};
static const char *const status_labels[] = {
    "本地务工", "外出务工", "公益性岗位", "帮扶车间",
    "自主创业", "务农",     "务工回流",   "在家闲置",
    "照顾家庭", "因病在家", "参加培训"};
static const char *const source_names[] = {
    "industrial_park", "workshop",     "work_relief",
    "public_welfare",  "labor_export", "flexible"};
static const char *const source_labels[] = {"工业园区", "帮扶车间",
                                            "以工代赈", "公益性岗位",
                                            "劳务输出", "灵活就业"};
static const char *const state_names[] = {"open", "closed"};
static const char *const state_labels[] = {"招聘中", "已关闭"};

_Static_assert(sizeof labor_names / sizeof *labor_names == SG_LABOR__COUNT,
               "labor names");
_Static_assert(sizeof category_names / sizeof *category_names ==
                   SG_CAT__COUNT,
               "category names");
_Static_assert(sizeof travel_names / sizeof *travel_names == SG_TRAVEL__COUNT,
               "travel names");
_Static_assert(sizeof status_names / sizeof *status_names == SG_STATUS__COUNT,
               "status names");
_Static_assert(sizeof status_labels / sizeof *status_labels ==
                   SG_STATUS__COUNT,
               "status labels");
_Static_assert(sizeof source_names / sizeof *source_names == SG_SOURCE__COUNT,
               "source names");
_Static_assert(sizeof source_labels / sizeof *source_labels ==
                   SG_SOURCE__COUNT,
               "source labels");
_Static_assert(sizeof state_names / sizeof *state_names ==
                   SG_JOB_STATE__COUNT,
               "state names");

static const enum_table tables[] = {
    [SG_ENUM_LABOR] = {labor_names, labor_labels, SG_LABOR__COUNT},
    [SG_ENUM_CATEGORY] = {category_names, category_labels, SG_CAT__COUNT},
    [SG_ENUM_TRAVEL] = {travel_names, travel_labels, SG_TRAVEL__COUNT},
    [SG_ENUM_STATUS] = {status_names, status_labels, SG_STATUS__COUNT},
    [SG_ENUM_SOURCE] = {source_names, source_labels, SG_SOURCE__COUNT},
    [SG_ENUM_STATE] = {state_names, state_labels, SG_JOB_STATE__COUNT},
};

static const enum_table *table(sg_enum_kind k)
{
    if ((unsigned)k >= sizeof tables / sizeof *tables) {
        return NULL;
    }
    return &tables[k];
}

const char *sg_enum_name(sg_enum_kind k, int v)
{
    const enum_table *t = table(k);

    if (t == NULL || v < 0 || v >= t->count) {
        return NULL;
    }
    return t->names[v];
}

const char *sg_enum_label_zh(sg_enum_kind k, int v)
{
    const enum_table *t = table(k);

    if (t == NULL || v < 0 || v >= t->count) {
        return NULL;
    }
    return t->labels[v];
}

int sg_enum_parse(sg_enum_kind k, const char *s, size_t len)
{
    const enum_table *t = table(k);

    if (t == NULL || s == NULL) {
        return -1;
    }
    for (int v = 0; v < t->count; v++) {
        if (len > 0 && t->names[v][0] == s[0] &&
            strncmp(t->names[v], s, len) == 0 && t->names[v][len] == '\0') {
            return v;
        }
    }
    return -1;
}

bool sg_status_is_employed(int status)
{
    switch (status) {
    case SG_STATUS_EMPLOYED_LOCAL:
    case SG_STATUS_EMPLOYED_OUTBOUND:
    case SG_STATUS_PUBLIC_WELFARE_POST:
    case SG_STATUS_WORKSHOP:
    case SG_STATUS_SELF_EMPLOYED:
        return true;
    default:
        return false;
    }
}
