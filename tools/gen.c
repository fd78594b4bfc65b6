/* tools/gen.c -- synthetic workers and jobs for demos and benchmarks.
 * Every value comes from one xoshiro256** stream seeded from the options,
 * and positions are kept as integer micro-degrees, so the same options
 * give the same bytes everywhere.  Lines are formatted by hand into one
 * large buffer that is flushed with fwrite: no per-line allocation and no
 * printf, which keeps it well above a million lines a second.  The mixes
 * (labor classes, 帮扶车间, 公益性岗位 ...) are rough but plausible for a
 * Jiangxi county; they are not statistics.  Runs on the caller's thread. */
#include "gen.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define OUT_BUF (1u << 20)  /* bytes buffered before an fwrite */
#define LINE_MAX_BYTES 4096 /* far above the longest line we write */

/* Bits of sg_job.labor_classes, spelled short for the tables below. */
#define O (1u << SG_LABOR_ORDINARY)
#define S (1u << SG_LABOR_SKILLED)
#define H (1u << SG_LABOR_HALF)
#define W (1u << SG_LABOR_WEAK)

/* ---- Tables: who the workers are ---- */

/* Common surnames, Jiangxi's most frequent first (repeats weight them). */
static const char *const surnames[] = {
    "刘", "陈", "李", "王", "张", "黄", "胡", "吴", "徐", "罗", "熊", "邹",
    "万", "涂", "喻", "彭", "曾", "余", "杨", "周", "刘", "陈", "李", "王",
    "张", "黄", "胡", "吴", "徐", "罗", "朱", "郭", "何", "高", "林", "郑",
    "谢", "宋", "唐", "许", "邓", "肖", "钟", "袁", "付", "戴", "淦", "江",
    "魏", "蔡", "程", "叶", "汪", "梅", "龚", "熊", "帅", "艾", "闵", "饶"};
static const char *const given_m[] = {
    "伟", "强", "军", "平", "明", "华", "建", "国", "文", "斌", "勇", "涛",
    "志", "红", "海", "林", "辉", "金", "福", "根", "水", "生", "春", "德",
    "财", "荣", "长", "发", "细", "木", "火", "新", "保", "元", "俊", "磊",
    "浩", "宇", "鹏", "杰", "鑫", "亮", "波", "峰", "江", "兵", "东", "晨"};
static const char *const given_f[] = {
    "芳", "娟", "敏", "静", "丽", "艳", "霞", "秀", "英", "兰", "梅", "莲",
    "凤", "珍", "琴", "香", "花", "桂", "玉", "翠", "金", "春", "红", "云",
    "燕", "萍", "婷", "慧", "颖", "雪", "琳", "晶", "佳", "欣", "月", "菊"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Labor class mix: 45% ordinary, 20% skilled, 20% half, 15% weak. */
static const uint16_t labor_w[SG_LABOR__COUNT] = {45, 20, 20, 15};
/* Household category: 70% 脱贫人口, 15% 监测对象, 15% 低收入人口. */
static const uint16_t category_w[SG_CAT__COUNT] = {70, 15, 15};
/* Household size 1..4. */
static const uint16_t hh_size_w[4] = {20, 30, 30, 20};

/* How far each class will travel: half and weak labor stay near home. */
static const uint16_t travel_w[SG_LABOR__COUNT][SG_TRAVEL__COUNT] = {
    {5, 15, 30, 15, 15, 20}, /* ordinary */
    {2, 5, 25, 20, 18, 30},  /* skilled */
    {40, 40, 15, 5, 0, 0},   /* half */
    {65, 30, 5, 0, 0, 0},    /* weak */
};

/* Status by class, in enum sg_status order, and the chance (percent) that
 * a worker in each status is seeking work: returned migrants and idle
 * workers nearly always are, the employed mostly not.  About 60% overall. */
static const uint16_t status_w[SG_LABOR__COUNT][SG_STATUS__COUNT] = {
    {12, 12, 3, 5, 5, 15, 20, 22, 3, 1, 2}, /* ordinary */
    {15, 15, 1, 3, 8, 6, 25, 18, 3, 1, 5},  /* skilled */
    {5, 2, 12, 12, 3, 25, 5, 25, 7, 2, 2},  /* half */
    {2, 0, 18, 8, 2, 25, 2, 30, 4, 7, 2},   /* weak */
};
static const uint8_t seeking_pct[SG_STATUS__COUNT] = {20, 15, 20, 30, 25, 75,
                                                      95, 93, 45, 20, 85};

/* Number of skills (0..4) by class, and the skills each class holds. */
static const uint16_t nskill_w[SG_LABOR__COUNT][5] = {
    {30, 35, 25, 10, 0}, /* ordinary */
    {0, 30, 35, 25, 10}, /* skilled */
    {40, 35, 20, 5, 0},  /* half */
    {55, 35, 10, 0, 0},  /* weak */
};
static const char *const skill_pool[SG_LABOR__COUNT] = {
    "electronics_assembly sew packaging parcel_sorting loading warehouse "
    "food_processing cleaning security_guard waiter cashier domestic_service "
    "crop_farming livestock driving textile shoe_making fruit_picking "
    "masonry cooking",
    "weld electrician driving forklift masonry carpentry plumbing painting "
    "rebar concrete scaffolding machining auto_repair excavator tractor "
    "electronics_assembly quality_inspection cooking elder_care hairdressing "
    "tailoring live_streaming ecommerce_ops childcare nursing_aide",
    "cleaning handicraft crop_farming livestock sanitation forest_ranger "
    "road_maintenance domestic_service tea_processing fruit_picking "
    "beekeeping aquaculture sew packaging embroidery landscaping",
    "cleaning handicraft forest_ranger sanitation crop_farming livestock "
    "road_maintenance beekeeping",
};

/* Expected wage (yuan/month) by class: a low end and a width. */
static const int32_t wage_lo[SG_LABOR__COUNT] = {2500, 4000, 1600, 1300};
static const int32_t wage_span[SG_LABOR__COUNT] = {2500, 2500, 1700, 900};

/* Birth years by class, for ID numbers: half and weak labor is older. */
static const int16_t birth_lo[SG_LABOR__COUNT] = {1966, 1968, 1960, 1960};
static const int16_t birth_hi[SG_LABOR__COUNT] = {2005, 2002, 1975, 1970};

/* Mobile prefixes. */
static const char *const phone_prefix[] = {
    "130", "131", "132", "133", "134", "135", "136", "137", "138",
    "139", "150", "151", "152", "155", "157", "158", "159", "180",
    "181", "182", "183", "186", "187", "188", "189", "199"};

/* ---- Tables: what the jobs are ---- */

/* Job sources: 35% industrial park, 20% workshop, 10% work relief, 15%
 * public welfare, 10% labor export, 10% flexible. */
static const uint16_t source_w[SG_SOURCE__COUNT] = {35, 20, 10, 15, 10, 10};

/* job_tpl is one kind of vacancy: its title, required skills (0-2),
 * a pool of preferred ones (up to 3 are drawn), the labor classes it
 * takes, and its wage_min range and wage_max spread in yuan/month. */
typedef struct job_tpl {
    const char *title; /* job title */
    const char *req;   /* required skill codes, space-separated */
    const char *pref;  /* preferred skill codes to draw from */
    uint8_t classes;   /* labor class bits */
    int32_t wmin_lo;   /* lowest wage_min */
    int32_t wmin_hi;   /* highest wage_min */
    int32_t spread;    /* largest wage_max - wage_min */
} job_tpl;

static const job_tpl tpl_park[] = {
    {"电子厂普工", "", "electronics_assembly quality_inspection packaging",
     O | H, 3200, 4200, 1500},
    {"焊工", "weld", "machining", S, 5000, 6500, 2000},
    {"叉车司机", "forklift", "warehouse loading", S | O, 4500, 5500, 1500},
    {"缝纫工", "sew", "tailoring textile", O | S, 3800, 5000, 2000},
    {"包装工", "", "packaging food_processing", O | H, 3000, 3800, 1000},
    {"质检员", "quality_inspection", "electronics_assembly machining", S | O,
     4000, 5000, 1500},
    {"仓库管理员", "", "warehouse forklift", O | S, 3800, 4800, 1200},
    {"机床操作工", "machining", "quality_inspection", S, 5000, 6200, 2000},
    {"设备电工", "electrician", "machining", S, 5200, 6500, 2000},
    {"食品厂操作工", "", "food_processing packaging", O | H, 3200, 4000, 1000},
    {"装卸工", "", "loading", O, 4000, 5000, 1500},
    {"纺织挡车工", "", "textile sew", O | S, 4000, 5200, 1500},
    {"园区保安", "", "security_guard", O | H, 2800, 3500, 800},
    {"厂区保洁员", "", "cleaning", O | H | W, 2200, 2800, 500},
};
static const job_tpl tpl_workshop[] = {
    {"帮扶车间来料加工", "", "packaging handicraft", O | H | W, 1800, 2600,
     800},
    {"帮扶车间手工编织", "", "handicraft embroidery", H | W | O, 1500, 2400,
     800},
    {"帮扶车间缝纫工", "sew", "tailoring", O | H, 2500, 3500, 1000},
    {"帮扶车间电子元件组装", "", "electronics_assembly", O | H, 2200, 3000,
     800},
    {"帮扶车间鞋面加工", "", "shoe_making sew", O | H, 2200, 3200, 800},
    {"帮扶车间茶叶加工", "", "tea_processing packaging", O | H | W, 1800, 2800,
     800},
    {"帮扶车间刺绣工", "embroidery", "handicraft", H | O, 2000, 3000, 800},
    {"帮扶车间服装剪线工", "", "tailoring sew", H | W | O, 1600, 2400, 600},
};
static const job_tpl tpl_relief[] = {
    {"以工代赈道路硬化项目普工", "", "concrete masonry", O | H, 3000, 3800,
     800},
    {"以工代赈农田水利项目普工", "", "masonry crop_farming", O | H, 2800, 3600,
     800},
    {"以工代赈灌溉渠道修缮工", "", "masonry concrete", O | H, 2800, 3600, 800},
    {"以工代赈项目挖掘机操作员", "excavator", "driving", S, 6000, 7500, 2000},
    {"以工代赈项目砌筑工", "masonry", "concrete rebar", S | O, 4000, 5200,
     1200},
    {"以工代赈村庄环境整治工", "", "landscaping sanitation", O | H, 2600, 3200,
     600},
};
static const job_tpl tpl_welfare[] = {
    {"生态护林员", "", "forest_ranger", H | W | O, 1200, 1800, 600},
    {"村保洁员", "", "cleaning sanitation", H | W, 1000, 1600, 500},
    {"道路养护员", "", "road_maintenance", H | W | O, 1200, 1800, 600},
    {"河道巡查员", "", "", H | W, 1000, 1500, 500},
    {"公益性岗位养老服务员", "", "elder_care nursing_aide", H | O, 1600, 2000,
     400},
    {"治安巡逻员", "", "security_guard", O | H, 1400, 1900, 400},
    {"乡村绿化管护员", "", "landscaping", H | W | O, 1200, 1700, 500},
};
static const job_tpl tpl_export[] = {
    {"电子厂普工（劳务输出）", "", "electronics_assembly quality_inspection",
     O | S, 4800, 6000, 1500},
    {"服装厂缝纫工", "sew", "tailoring textile", O | S, 5500, 7000, 2000},
    {"鞋厂制鞋工", "", "shoe_making sew", O, 5000, 6500, 1500},
    {"物流园快递分拣员", "", "parcel_sorting loading warehouse", O, 5000, 6200,
     1500},
    {"建筑钢筋工", "rebar", "scaffolding concrete", S, 7000, 9000, 2500},
    {"家政服务员", "", "domestic_service cooking childcare", O, 5000, 7000,
     2000},
    {"纺织厂挡车工", "textile", "sew", O | S, 5200, 6500, 1500},
    {"注塑机操作工", "", "machining quality_inspection", O | S, 5000, 6500,
     1500},
};
static const job_tpl tpl_flexible[] = {
    {"电商直播助理", "", "live_streaming ecommerce_ops", O | S, 2500, 4000,
     2000},
    {"家政保洁钟点工", "", "cleaning domestic_service", O | H, 2000, 3200,
     1000},
    {"果蔬采摘临时工", "", "fruit_picking crop_farming", O | H | W, 1800, 2800,
     800},
    {"快递配送员", "driving", "parcel_sorting", O, 4000, 5500, 1500},
    {"养老护理员", "elder_care", "nursing_aide cooking", O | S, 3000, 4200,
     1000},
    {"餐厅服务员", "", "waiter cashier", O, 2600, 3400, 800},
    {"农机手", "tractor", "crop_farming driving", S, 4000, 6000, 2000},
    {"育婴员", "childcare", "domestic_service cooking", O | S, 3500, 5500,
     2000},
    {"网店客服", "", "ecommerce_ops", O | H, 2400, 3400, 800},
    {"养殖场饲养员", "", "livestock aquaculture", O | H, 2600, 3600, 800},
    {"医院护工", "nursing_aide", "elder_care", O | S, 3200, 4500, 1200},
    {"汽车维修工", "auto_repair", "electrician driving", S, 4000, 6000, 2000},
};

typedef struct tpl_set {
    const job_tpl *t; /* templates of one source */
    size_t n;         /* how many */
    uint16_t emp0;    /* first employer number of the source */
    uint16_t nemp;    /* employers of the source per county */
} tpl_set;

/* Employer numbers are grouped by source, as a county's enterprise list
 * would be: 0001.. park firms, 0201.. workshops, and so on. */
static const tpl_set tpls[SG_SOURCE__COUNT] = {
    {tpl_park, NELEM(tpl_park), 1, 120},
    {tpl_workshop, NELEM(tpl_workshop), 201, 90},
    {tpl_relief, NELEM(tpl_relief), 401, 25},
    {tpl_welfare, NELEM(tpl_welfare), 501, 30},
    {tpl_export, NELEM(tpl_export), 601, 40},
    {tpl_flexible, NELEM(tpl_flexible), 701, 150},
};

#define TPL_MAX 16 /* templates of the largest source */

/* ---- Generator state ---- */

typedef struct village {
    char code[SG_REGION_LEN + 1]; /* 12-digit code */
    int32_t lat;                  /* micro-degrees */
    int32_t lon;                  /* micro-degrees */
} village;

typedef struct county {
    char code[7];         /* 6 digits */
    village *v;           /* its villages, ascending */
    size_t nv;            /* how many */
    size_t seat_lo;       /* villages of the county seat township: */
    size_t seat_hi;       /* [seat_lo, seat_hi) */
    size_t park_lo;       /* villages of the industrial-park township */
    size_t park_hi;       /* (illustrative: the 4th township, or the seat) */
    uint64_t next_worker; /* worker ids issued */
    uint64_t next_house;  /* household ids issued */
    uint64_t next_job;    /* job ids issued */
    uint16_t *idseq;      /* ID sequence numbers used, [day][sex] */
} county;

typedef struct skill_list {
    sg_skill s[32]; /* skill ids */
    uint8_t n;      /* how many */
} skill_list;

typedef struct gen {
    uint64_t st[4];                   /* xoshiro256** state */
    char *buf;                        /* output buffer, OUT_BUF bytes */
    size_t len;                       /* bytes in buf */
    FILE *out;                        /* where buf goes */
    int err;                          /* first write error */
    county *c;                        /* home counties */
    size_t nc;                        /* how many */
    county *x;                        /* labor-export destinations */
    size_t nx;                        /* how many */
    skill_list pool[SG_LABOR__COUNT]; /* workers' skills */
    skill_list req[SG_SOURCE__COUNT][TPL_MAX];  /* per template */
    skill_list pref[SG_SOURCE__COUNT][TPL_MAX]; /* per template */
    const char *name[6][SG_STATUS__COUNT];      /* enum wire names */
    int32_t day_2026_09_01;                     /* first posted date */
    int32_t day_birth0;                         /* 1960-01-01 */
    int32_t nbirth_days;                        /* 1960-01-01 .. 2005-12-31 */
} gen;

/* ---- Randomness ---- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t next(gen *g)
{
    uint64_t *s = g->st;
    uint64_t r = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* below returns a number in [0, n), n >= 1 (Lemire's multiply; the tiny
 * bias does not matter for test data). */
static inline uint32_t below(gen *g, uint32_t n)
{
    return (uint32_t)(((next(g) >> 32) * (uint64_t)n) >> 32);
}

static inline bool chance(gen *g, uint32_t percent)
{
    return below(g, 100) < percent;
}

/* pick returns an index drawn with the given weights. */
static int pick(gen *g, const uint16_t *w, int n)
{
    uint32_t total = 0;
    for (int i = 0; i < n; i++) {
        total += w[i];
    }
    uint32_t r = below(g, total);
    for (int i = 0; i < n; i++) {
        if (r < w[i]) {
            return i;
        }
        r -= w[i];
    }
    return n - 1;
}

/* ---- Output ---- */

static void flush(gen *g)
{
    if (g->len > 0 && g->err == 0 &&
        fwrite(g->buf, 1, g->len, g->out) != g->len) {
        g->err = SG_EIO;
    }
    g->len = 0;
}

/* line_done ends a line and flushes when the buffer is nearly full. */
static void line_done(gen *g)
{
    g->buf[g->len++] = '\n';
    if (g->len > OUT_BUF - LINE_MAX_BYTES) {
        flush(g);
    }
}

static inline void put(gen *g, const char *s, size_t n)
{
    memcpy(g->buf + g->len, s, n);
    g->len += n;
}

#define PUTS(g, lit) put((g), (lit), sizeof(lit) - 1)

static inline void put_str(gen *g, const char *s)
{
    put(g, s, strlen(s));
}

/* put_q writes a JSON string; every string we write comes from our own
 * tables or digits, so none needs escaping. */
static inline void put_q(gen *g, const char *s)
{
    g->buf[g->len++] = '"';
    put_str(g, s);
    g->buf[g->len++] = '"';
}

/* put_digits writes v as exactly n digits (more when v needs them). */
static void put_digits(gen *g, uint64_t v, int n)
{
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 || i < n);
    while (i > 0) {
        g->buf[g->len++] = tmp[--i];
    }
}

static inline void put_u(gen *g, uint64_t v)
{
    put_digits(g, v, 1);
}

/* put_micro writes micro-degrees as a decimal with 6 places. */
static void put_micro(gen *g, int32_t v)
{
    if (v < 0) {
        g->buf[g->len++] = '-';
        v = -v;
    }
    put_u(g, (uint64_t)(v / 1000000));
    g->buf[g->len++] = '.';
    put_digits(g, (uint64_t)(v % 1000000), 6);
}

/* days_from_civil and civil_from_days are Howard Hinnant's algorithms for
 * the proleptic Gregorian calendar. */
static int32_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int32_t z, int *y, int *m, int *d)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

/* put_ymd writes YYYY-MM-DD (sep '-') or YYYYMMDD (sep 0). */
static void put_ymd(gen *g, int32_t days, char sep)
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    put_digits(g, (uint64_t)y, 4);
    if (sep) {
        g->buf[g->len++] = sep;
    }
    put_digits(g, (uint64_t)m, 2);
    if (sep) {
        g->buf[g->len++] = sep;
    }
    put_digits(g, (uint64_t)d, 2);
}

static void put_date(gen *g, int32_t days)
{
    g->buf[g->len++] = '"';
    put_ymd(g, days, '-');
    g->buf[g->len++] = '"';
}

/* put_time writes a Beijing-time RFC 3339 string for days + local secs. */
static void put_time(gen *g, int32_t days, uint32_t secs)
{
    g->buf[g->len++] = '"';
    put_ymd(g, days, '-');
    g->buf[g->len++] = 'T';
    put_digits(g, secs / 3600, 2);
    g->buf[g->len++] = ':';
    put_digits(g, secs / 60 % 60, 2);
    g->buf[g->len++] = ':';
    put_digits(g, secs % 60, 2);
    PUTS(g, "+08:00\"");
}

/* put_skills writes a JSON array of skill codes. */
static void put_skills(gen *g, const sg_skill *s, int n)
{
    g->buf[g->len++] = '[';
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            g->buf[g->len++] = ',';
        }
        put_q(g, sg_skill_code(s[i]));
    }
    g->buf[g->len++] = ']';
}

/* ---- Set-up ---- */

/* resolve turns space-separated skill codes into ids; an unknown code is
 * a bug in the tables above, caught by the first run. */
static void resolve(const char *codes, skill_list *out)
{
    out->n = 0;
    const char *p = codes;
    while (*p != '\0') {
        const char *e = strchr(p, ' ');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        sg_skill s;
        if (sg_skill_find(p, n, &s) != 0) {
            fprintf(stderr, "gen: unknown skill %.*s in a table\n", (int)n, p);
            abort();
        }
        assert(out->n < NELEM(out->s));
        out->s[out->n++] = s;
        p += n + (e != NULL ? 1 : 0);
    }
}

static void load_county(county *c, const char *code, bool home)
{
    memset(c, 0, sizeof *c);
    memcpy(c->code, code, 6);
    size_t n = sg_county_villages(code, NULL, 0);
    char(*codes)[SG_REGION_LEN + 1] = malloc((n ? n : 1) * sizeof *codes);
    c->v = malloc((n ? n : 1) * sizeof *c->v);
    if (codes == NULL || c->v == NULL) {
        abort();
    }
    c->nv = sg_county_villages(code, codes, n);
    for (size_t i = 0; i < c->nv; i++) {
        sg_region_info r;
        int rc = sg_region_lookup(codes[i], &r);
        assert(rc == 0);
        (void)rc;
        memcpy(c->v[i].code, codes[i], SG_REGION_LEN + 1);
        c->v[i].lat = (int32_t)lround(r.lat * 1e6);
        c->v[i].lon = (int32_t)lround(r.lon * 1e6);
    }
    free(codes);

    /* Villages are sorted, so each township is a run.  The seat is the
     * first township; the 4th (when there is one) stands for the
     * industrial park. */
    size_t run = 0;
    size_t start = 0;
    for (size_t i = 0; i <= c->nv; i++) {
        if (i == c->nv || (i > 0 && memcmp(c->v[i].code, c->v[i - 1].code,
                                           SG_LEVEL_TOWNSHIP) != 0)) {
            if (run == 0) {
                c->seat_lo = start;
                c->seat_hi = i;
                c->park_lo = start;
                c->park_hi = i;
            } else if (run == 3) {
                c->park_lo = start;
                c->park_hi = i;
            }
            run++;
            start = i;
        }
    }
    if (home) {
        c->idseq = calloc(2 * 20000, sizeof *c->idseq);
        if (c->idseq == NULL) {
            abort();
        }
    }
}

static void fini(gen *g)
{
    for (size_t i = 0; i < g->nc; i++) {
        free(g->c[i].v);
        free(g->c[i].idseq);
    }
    for (size_t i = 0; i < g->nx; i++) {
        free(g->x[i].v);
    }
    free(g->c);
    free(g->x);
    free(g->buf);
}

/* ---- Workers ---- */

/* draw_skills draws n distinct skills from pool and writes them sorted
 * by id into out; returns how many. */
static int draw_skills(gen *g, const skill_list *pool, int n, sg_skill *out)
{
    int k = 0;
    if (n > pool->n) {
        n = pool->n;
    }
    while (k < n) {
        sg_skill s = pool->s[below(g, pool->n)];
        bool dup = false;
        for (int j = 0; j < k; j++) {
            dup = dup || out[j] == s;
        }
        if (dup) {
            continue;
        }
        /* insertion keeps the list sorted by id */
        int j = k++;
        while (j > 0 && out[j - 1] > s) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = s;
    }
    return k;
}

/* put_idnum writes a valid GB 11643 number: county prefix, a birth date
 * for the class, a sequence number unique per county, date and sex (odd
 * for men), and the check digit.  Returns false when the county ran out
 * of numbers (never, for sane sizes). */
static bool put_idnum(gen *g, county *c, int labor, bool male)
{
    int32_t lo = days_from_civil(birth_lo[labor], 1, 1) - g->day_birth0;
    int32_t hi = days_from_civil(birth_hi[labor], 12, 31) - g->day_birth0;
    int32_t day = lo + (int32_t)below(g, (uint32_t)(hi - lo + 1));
    int32_t tries = 0;
    uint16_t *used = &c->idseq[2 * day + male];
    while (*used >= 499) {
        if (++tries == g->nbirth_days) {
            return false;
        }
        day = (day + 1) % g->nbirth_days;
        used = &c->idseq[2 * day + male];
    }
    unsigned seq = 2u * (*used)++ + (male ? 1u : 2u);

    char id[18];
    size_t at = g->len;
    put(g, c->code, 6);
    put_ymd(g, g->day_birth0 + day, 0);
    put_digits(g, seq, 3);
    memcpy(id, g->buf + at, 17);
    static const uint8_t wt[17] = {7, 9, 10, 5,  8, 4, 2, 1, 6,
                                   3, 7, 9,  10, 5, 8, 4, 2};
    unsigned sum = 0;
    for (int i = 0; i < 17; i++) {
        sum += (unsigned)(id[i] - '0') * wt[i];
    }
    g->buf[g->len++] = "10X98765432"[sum % 11];
    return true;
}

static void put_name(gen *g, const char *surname, bool male)
{
    g->buf[g->len++] = '"';
    put_str(g, surname);
    const char *const *given = male ? given_m : given_f;
    uint32_t ng = male ? NELEM(given_m) : NELEM(given_f);
    put_str(g, given[below(g, ng)]);
    if (chance(g, 70)) {
        put_str(g, given[below(g, ng)]);
    }
    g->buf[g->len++] = '"';
}

/* gen_household writes the members (at most max) of one household and
 * returns how many it wrote. */
static uint64_t gen_household(gen *g, uint64_t max)
{
    county *c = &g->c[below(g, (uint32_t)g->nc)];
    const village *v = &c->v[below(g, (uint32_t)c->nv)];
    uint64_t size = (uint64_t)pick(g, hh_size_w, 4) + 1;
    if (size > max) {
        size = max;
    }
    int category = pick(g, category_w, SG_CAT__COUNT);
    bool risk_gone = category == SG_CAT_MONITORED && chance(g, 50);
    bool geo = chance(g, 50);
    /* The house sits within about a kilometre of the village centre. */
    int32_t lat = v->lat + (int32_t)below(g, 20001) - 10000;
    int32_t lon = v->lon + (int32_t)below(g, 20001) - 10000;
    const char *surname = surnames[below(g, NELEM(surnames))];
    uint64_t house = ++c->next_house;

    for (uint64_t m = 0; m < size; m++) {
        int labor = pick(g, labor_w, SG_LABOR__COUNT);
        bool male = chance(g, 52);
        const char *sn = surname;
        if (m > 0 && chance(g, 35)) {
            sn = surnames[below(g, NELEM(surnames))];
        }

        PUTS(g, "{\"kind\":\"worker\",\"id\":\"W");
        put(g, c->code, 6);
        put_digits(g, ++c->next_worker, 7);
        PUTS(g, "\",\"name\":");
        put_name(g, sn, male);
        PUTS(g, ",\"region\":\"");
        put(g, v->code, SG_REGION_LEN);
        g->buf[g->len++] = '"';
        if (geo) {
            PUTS(g, ",\"lat\":");
            put_micro(g, lat);
            PUTS(g, ",\"lon\":");
            put_micro(g, lon);
        }
        PUTS(g, ",\"labor_class\":");
        put_q(g, g->name[SG_ENUM_LABOR][labor]);

        sg_skill sk[4];
        int nsk =
            draw_skills(g, &g->pool[labor], pick(g, nskill_w[labor], 5), sk);
        if (nsk > 0 || chance(g, 50)) {
            PUTS(g, ",\"skills\":");
            put_skills(g, sk, nsk);
        }
        PUTS(g, ",\"category\":");
        put_q(g, g->name[SG_ENUM_CATEGORY][category]);
        if (category == SG_CAT_MONITORED) {
            if (risk_gone) {
                PUTS(g, ",\"risk_eliminated\":true");
            } else {
                PUTS(g, ",\"risk_eliminated\":false");
            }
        }
        PUTS(g, ",\"household\":\"H");
        put(g, c->code, 6);
        put_digits(g, house, 7);
        PUTS(g, "\",\"travel\":");
        put_q(g, g->name[SG_ENUM_TRAVEL]
                        [pick(g, travel_w[labor], SG_TRAVEL__COUNT)]);
        PUTS(g, ",\"expected_wage\":");
        put_u(g,
              (uint64_t)(wage_lo[labor] +
                         100 * (int32_t)below(
                                   g, (uint32_t)wage_span[labor] / 100 + 1)));
        /* Some are free only from a date (after the harvest, after the
         * Spring Festival), a few only until one. */
        if (chance(g, 20)) {
            int32_t from = g->day_2026_09_01 + 61 + (int32_t)below(g, 150);
            PUTS(g, ",\"available_from\":");
            put_date(g, from);
            if (chance(g, 40)) {
                PUTS(g, ",\"available_to\":");
                put_date(g, from + 30 + (int32_t)below(g, 270));
            }
        }
        int status = pick(g, status_w[labor], SG_STATUS__COUNT);
        PUTS(g, ",\"status\":");
        put_q(g, g->name[SG_ENUM_STATUS][status]);
        if (chance(g, seeking_pct[status])) {
            PUTS(g, ",\"seeking\":true");
        } else {
            PUTS(g, ",\"seeking\":false");
        }
        if (chance(g, 50)) {
            PUTS(g, ",\"phone\":\"");
            put_str(g, phone_prefix[below(g, NELEM(phone_prefix))]);
            put_digits(g, below(g, 100000000), 8);
            g->buf[g->len++] = '"';
        }
        if (chance(g, 33)) {
            size_t mark = g->len;
            PUTS(g, ",\"id_number\":\"");
            if (put_idnum(g, c, labor, male)) {
                g->buf[g->len++] = '"';
            } else {
                g->len = mark;
            }
        }
        g->buf[g->len++] = '}';
        line_done(g);
    }
    return size;
}

/* ---- Jobs ---- */

/* pick_village chooses where a job of source src is. */
static const village *pick_village(gen *g, const county *c, int src)
{
    const county *in = c;
    size_t lo = 0;
    size_t hi = c->nv;
    switch (src) {
    case SG_SOURCE_INDUSTRIAL_PARK:
        if (chance(g, 50)) {
            lo = c->seat_lo;
            hi = c->seat_hi;
        } else {
            lo = c->park_lo;
            hi = c->park_hi;
        }
        break;
    case SG_SOURCE_LABOR_EXPORT:
        if (g->nx > 0) {
            in = &g->x[below(g, (uint32_t)g->nx)];
            hi = in->nv;
        }
        break;
    case SG_SOURCE_FLEXIBLE:
        if (chance(g, 50)) {
            lo = c->seat_lo;
            hi = c->seat_hi;
        }
        break;
    default:
        break;
    }
    return &in->v[lo + below(g, (uint32_t)(hi - lo))];
}

static int32_t openings(gen *g, int src)
{
    static const int16_t lo[SG_SOURCE__COUNT] = {1, 2, 5, 1, 10, 1};
    static const int16_t hi[SG_SOURCE__COUNT] = {50, 30, 40, 5, 50, 10};
    if (chance(g, 5)) {
        return 0;
    }
    /* The smaller of two draws: most vacancies are small. */
    uint32_t n = (uint32_t)(hi[src] - lo[src] + 1);
    uint32_t a = below(g, n);
    uint32_t b = below(g, n);
    return lo[src] + (int32_t)(a < b ? a : b);
}

static void gen_job(gen *g)
{
    county *c = &g->c[below(g, (uint32_t)g->nc)];
    int src = pick(g, source_w, SG_SOURCE__COUNT);
    const tpl_set *set = &tpls[src];
    uint32_t ti = below(g, (uint32_t)set->n);
    const job_tpl *t = &set->t[ti];
    const skill_list *req = &g->req[src][ti];
    const skill_list *pool = &g->pref[src][ti];

    PUTS(g, "{\"kind\":\"job\",\"id\":\"J");
    put(g, c->code, 6);
    put_digits(g, ++c->next_job, 7);
    PUTS(g, "\",\"employer\":\"E");
    put(g, c->code, 6);
    g->buf[g->len++] = '-';
    put_digits(g, set->emp0 + below(g, set->nemp), 4);
    PUTS(g, "\",\"source\":");
    put_q(g, g->name[SG_ENUM_SOURCE][src]);
    PUTS(g, ",\"title\":");
    put_q(g, t->title);

    /* Required skills come with the title; preferred ones are a draw
     * from its pool, never repeating a required one. */
    if (req->n > 0 || chance(g, 30)) {
        PUTS(g, ",\"skills_required\":");
        put_skills(g, req->s, req->n);
    }
    sg_skill pref[3];
    int npref = 0;
    int want = (int)below(g, 4);
    for (int i = 0; i < want && pool->n > 0; i++) {
        sg_skill s = pool->s[below(g, pool->n)];
        bool dup = false;
        for (int j = 0; j < req->n; j++) {
            dup = dup || req->s[j] == s;
        }
        for (int j = 0; j < npref; j++) {
            dup = dup || pref[j] == s;
        }
        if (!dup) {
            pref[npref++] = s;
        }
    }
    if (npref > 0) {
        PUTS(g, ",\"skills_preferred\":");
        put_skills(g, pref, npref);
    }

    PUTS(g, ",\"labor_classes\":[");
    bool first = true;
    for (int k = 0; k < SG_LABOR__COUNT; k++) {
        if (t->classes & (1u << k)) {
            if (!first) {
                g->buf[g->len++] = ',';
            }
            first = false;
            put_q(g, g->name[SG_ENUM_LABOR][k]);
        }
    }

    /* Sites: one mostly, sometimes 2-3 distinct villages. */
    static const uint16_t nsites_w[3] = {80, 15, 5};
    int nsites = pick(g, nsites_w, 3) + 1;
    const village *site[3];
    PUTS(g, "],\"sites\":[");
    for (int i = 0; i < nsites; i++) {
        const village *v = pick_village(g, c, src);
        bool dup = false;
        for (int j = 0; j < i; j++) {
            dup = dup || site[j] == v;
        }
        if (dup) {
            nsites = i; /* a small township ran out: keep what we have */
            break;
        }
        site[i] = v;
        if (i > 0) {
            g->buf[g->len++] = ',';
        }
        PUTS(g, "{\"region\":\"");
        put(g, v->code, SG_REGION_LEN);
        g->buf[g->len++] = '"';
        if (chance(g, 80)) {
            PUTS(g, ",\"lat\":");
            put_micro(g, v->lat + (int32_t)below(g, 10001) - 5000);
            PUTS(g, ",\"lon\":");
            put_micro(g, v->lon + (int32_t)below(g, 10001) - 5000);
        }
        g->buf[g->len++] = '}';
    }
    PUTS(g, "],\"openings\":");
    put_u(g, (uint64_t)openings(g, src));

    int32_t wmin =
        t->wmin_lo +
        100 * (int32_t)below(g, (uint32_t)(t->wmin_hi - t->wmin_lo) / 100 + 1);
    int32_t wmax =
        wmin + 100 * (int32_t)below(g, (uint32_t)t->spread / 100 + 1);
    PUTS(g, ",\"wage_min\":");
    put_u(g, (uint64_t)wmin);
    PUTS(g, ",\"wage_max\":");
    put_u(g, (uint64_t)wmax);

    /* A third have dates: starts between mid-September and January, ends
     * one month to a year later, so mostly after 2026-12-01. */
    if (chance(g, 30)) {
        int32_t starts = g->day_2026_09_01 + 14 + (int32_t)below(g, 140);
        PUTS(g, ",\"starts\":");
        put_date(g, starts);
        PUTS(g, ",\"ends\":");
        put_date(g, starts + 30 + (int32_t)below(g, 336));
    }
    static const uint8_t months_pct[SG_SOURCE__COUNT] = {40, 30, 60,
                                                         60, 50, 10};
    static const uint8_t months[SG_SOURCE__COUNT][2] = {
        {12, 36}, {6, 12}, {3, 6}, {12, 12}, {6, 12}, {1, 3}};
    if (chance(g, months_pct[src])) {
        PUTS(g, ",\"contract_months\":");
        put_u(g, months[src][below(g, 2)]);
    }
    /* Posted in office hours, 2026-09-01 .. 2026-11-30, Beijing time. */
    PUTS(g, ",\"posted\":");
    put_time(g, g->day_2026_09_01 + (int32_t)below(g, 91),
             8 * 3600 + below(g, 11 * 3600));
    if (chance(g, 5)) {
        PUTS(g, ",\"state\":\"closed\"");
    }
    g->buf[g->len++] = '}';
    line_done(g);
}

/* ---- Entry point ---- */

int sg_gen_write(FILE *out, const sg_gen_opts *o)
{
    if (out == NULL || o == NULL || o->county == NULL) {
        return SG_EINVAL;
    }
    size_t nall = sg_county_count();
    size_t home = nall;
    for (size_t i = 0; i < nall; i++) {
        if (strcmp(sg_county_at(i)->code, o->county) == 0) {
            home = i;
        }
    }
    if (home == nall || o->counties < 1 || (size_t)o->counties > nall) {
        return SG_EINVAL;
    }

    gen *g = calloc(1, sizeof *g);
    if (g == NULL) {
        abort();
    }
    g->out = out;
    g->buf = malloc(OUT_BUF);
    g->nc = (size_t)o->counties;
    g->c = calloc(g->nc, sizeof *g->c);
    g->nx = sg__region_export_count();
    g->x = calloc(g->nx ? g->nx : 1, sizeof *g->x);
    if (g->buf == NULL || g->c == NULL || g->x == NULL) {
        abort();
    }
    uint64_t seed = o->seed;
    for (int i = 0; i < 4; i++) {
        g->st[i] = splitmix(&seed);
    }
    for (size_t i = 0; i < g->nc; i++) {
        load_county(&g->c[i], sg_county_at((home + i) % nall)->code, true);
    }
    for (size_t i = 0; i < g->nx; i++) {
        load_county(&g->x[i], sg__region_export_at(i)->code, false);
    }
    for (int k = 0; k < SG_LABOR__COUNT; k++) {
        resolve(skill_pool[k], &g->pool[k]);
    }
    for (int s = 0; s < SG_SOURCE__COUNT; s++) {
        assert(tpls[s].n <= TPL_MAX);
        for (size_t i = 0; i < tpls[s].n; i++) {
            resolve(tpls[s].t[i].req, &g->req[s][i]);
            resolve(tpls[s].t[i].pref, &g->pref[s][i]);
        }
    }
    static const sg_enum_kind kinds[] = {SG_ENUM_LABOR, SG_ENUM_CATEGORY,
                                         SG_ENUM_TRAVEL, SG_ENUM_STATUS,
                                         SG_ENUM_SOURCE};
    for (size_t k = 0; k < NELEM(kinds); k++) {
        for (int v = 0; v < SG_STATUS__COUNT; v++) {
            g->name[kinds[k]][v] = sg_enum_name(kinds[k], v);
        }
    }
    g->day_2026_09_01 = days_from_civil(2026, 9, 1);
    g->day_birth0 = days_from_civil(1960, 1, 1);
    g->nbirth_days = days_from_civil(2006, 1, 1) - g->day_birth0;
    assert(g->nbirth_days <= 20000);

    /* Workers first, household by household, then jobs. */
    uint64_t done = 0;
    while (done < o->workers && g->err == 0) {
        done += gen_household(g, o->workers - done);
    }
    for (uint64_t i = 0; i < o->jobs && g->err == 0; i++) {
        gen_job(g);
    }
    flush(g);
    if (g->err == 0 && fflush(out) != 0) {
        g->err = SG_EIO;
    }
    int rc = g->err;
    fini(g);
    free(g);
    return rc;
}
