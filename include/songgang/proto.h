/* include/songgang/proto.h -- songgang's records: workers and jobs.
 * Each record has one msgpack encoder and one strict decoder (the wire and
 * LMDB format, with a schema version), and a JSON form with the same field
 * names.  The JSON decoder converts the JSON object to msgpack and runs the
 * one strict decoder, so both forms obey exactly the same rules.
 * No I/O here: the skills taxonomy and region table are compiled in from
 * data/skills.tsv and data/regions.tsv.  Any thread may call these. */
#ifndef SG_PROTO_H
#define SG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "songgang/err.h"

#define SG_SCHEMA_VERSION 1

/* Documented limits (README "Records"). */
#define SG_ID_MAX 32           /* ids: 1-32 of [A-Za-z0-9_-] */
#define SG_NAME_MAX 64         /* worker name, bytes of UTF-8 */
#define SG_TITLE_MAX 128       /* job title, bytes of UTF-8 */
#define SG_PHONE_MAX 20        /* digits, '+', '-', ' ' */
#define SG_SKILLS_MAX 16       /* skills a worker may list */
#define SG_REQ_SKILLS_MAX 8    /* skills_required, skills_preferred */
#define SG_SITES_MAX 8         /* job sites, at least one */
#define SG_WAGE_MAX 100000     /* yuan per month */
#define SG_OPENINGS_MAX 100000 /* openings of one job */
#define SG_CONTRACT_MAX 120    /* contract_months */
#define SG_RECORD_MAX 8192     /* encoded bytes of one record */
#define SG_REGION_LEN 12       /* digits of a village code */
#define SG_IDNUM_HASH_LEN 32   /* keyed BLAKE2b of the ID number */
#define SG_IDNUM_KEY_LEN 32    /* key of that hash */
#define SG_DATE_NONE INT32_MIN /* an absent optional date */

/* Labor classes (劳动力类别), in this order everywhere. */
enum sg_labor_class {
    SG_LABOR_ORDINARY, /* 普通劳动力 */
    SG_LABOR_SKILLED,  /* 技能劳动力 */
    SG_LABOR_HALF,     /* 半劳动力 */
    SG_LABOR_WEAK,     /* 弱劳动力 */
    SG_LABOR__COUNT
};

enum sg_category {
    SG_CAT_POVERTY_EXITED, /* 脱贫人口 */
    SG_CAT_MONITORED,      /* 防止返贫监测对象 */
    SG_CAT_LOW_INCOME,     /* 农村低收入人口 */
    SG_CAT__COUNT
};

/* How far a worker will go for work (外出意愿); also the tier of a pair. */
enum sg_travel {
    SG_TRAVEL_VILLAGE,  /* same 12-digit village code */
    SG_TRAVEL_TOWNSHIP, /* same 9-digit prefix */
    SG_TRAVEL_COUNTY,   /* same 6-digit prefix */
    SG_TRAVEL_CITY,     /* same 4-digit prefix */
    SG_TRAVEL_PROVINCE, /* same 2-digit prefix */
    SG_TRAVEL_ANY,      /* anywhere (as a tier: another province) */
    SG_TRAVEL__COUNT
};

enum sg_status {
    SG_STATUS_EMPLOYED_LOCAL,
    SG_STATUS_EMPLOYED_OUTBOUND,
    SG_STATUS_PUBLIC_WELFARE_POST,
    SG_STATUS_WORKSHOP,
    SG_STATUS_SELF_EMPLOYED,
    SG_STATUS_FARMING,
    SG_STATUS_RETURNED,
    SG_STATUS_IDLE,
    SG_STATUS_CAREGIVING,
    SG_STATUS_ILL,
    SG_STATUS_IN_TRAINING,
    SG_STATUS__COUNT
};

enum sg_source {
    SG_SOURCE_INDUSTRIAL_PARK, /* 工业园区企业 */
    SG_SOURCE_WORKSHOP,        /* 帮扶车间 */
    SG_SOURCE_WORK_RELIEF,     /* 以工代赈 */
    SG_SOURCE_PUBLIC_WELFARE,  /* 公益性岗位 */
    SG_SOURCE_LABOR_EXPORT,    /* 劳务输出 */
    SG_SOURCE_FLEXIBLE,        /* 灵活就业 */
    SG_SOURCE__COUNT
};

enum sg_job_state { SG_JOB_OPEN, SG_JOB_CLOSED, SG_JOB_STATE__COUNT };

/* A skill is the stable numeric id of a code in the compiled-in taxonomy
 * (data/skills.tsv): ids are never reused or renumbered, so they may be
 * stored on disk.  0 is never a valid skill. */
typedef uint16_t sg_skill;

/* sg_worker is a worker record.  Fixed size: no allocation, copy freely.
 * Skill lists are kept sorted ascending by skill id, without repeats. */
typedef struct sg_worker {
    char id[SG_ID_MAX + 1];                       /* [A-Za-z0-9_-]{1,32} */
    char name[SG_NAME_MAX + 1];                   /* UTF-8, 1-64 bytes */
    char region[SG_REGION_LEN + 1];               /* 12-digit village code */
    bool has_geo;                                 /* lat/lon given */
    double lat;                                   /* degrees north */
    double lon;                                   /* degrees east */
    uint8_t labor_class;                          /* enum sg_labor_class */
    uint8_t nskills;                              /* entries in skills */
    sg_skill skills[SG_SKILLS_MAX];               /* held skills */
    uint8_t category;                             /* enum sg_category */
    bool risk_eliminated;                         /* monitored: risk gone */
    char household[SG_ID_MAX + 1];                /* household id */
    uint8_t travel;                               /* enum sg_travel */
    int32_t expected_wage;                        /* yuan/month, >= 0 */
    int32_t available_from;                       /* days, or SG_DATE_NONE */
    int32_t available_to;                         /* days, or SG_DATE_NONE */
    uint8_t status;                               /* enum sg_status */
    bool seeking;                                 /* wants work now */
    char phone[SG_PHONE_MAX + 1];                 /* "" when absent */
    bool has_idnum;                               /* ID number given */
    uint8_t idnum_hash[SG_IDNUM_HASH_LEN];        /* keyed hash */
    char idnum_masked[19];                        /* 360425********1234 */
} sg_worker;

typedef struct sg_site {
    char region[SG_REGION_LEN + 1]; /* 12-digit village code */
    bool has_geo;                   /* lat/lon given */
    double lat;                     /* degrees north */
    double lon;                     /* degrees east */
} sg_site;

/* sg_job is a vacancy.  Fixed size, like sg_worker. */
typedef struct sg_job {
    char id[SG_ID_MAX + 1];                  /* [A-Za-z0-9_-]{1,32} */
    char employer[SG_ID_MAX + 1];            /* employer id, same syntax */
    uint8_t source;                          /* enum sg_source */
    char title[SG_TITLE_MAX + 1];            /* UTF-8, 1-128 bytes */
    uint8_t nrequired;                       /* entries in required */
    sg_skill required[SG_REQ_SKILLS_MAX];    /* worker must hold all */
    uint8_t npreferred;                      /* entries in preferred */
    sg_skill preferred[SG_REQ_SKILLS_MAX];   /* score bonus */
    uint8_t labor_classes;                   /* bit (1 << class) each */
    uint8_t nsites;                          /* 1..SG_SITES_MAX */
    sg_site sites[SG_SITES_MAX];             /* where the work is */
    int32_t openings;                        /* >= 0 */
    int32_t wage_min;                        /* yuan/month */
    int32_t wage_max;                        /* >= wage_min */
    int32_t starts;                          /* days, or SG_DATE_NONE */
    int32_t ends;                            /* days, or SG_DATE_NONE */
    int32_t contract_months;                 /* 0..120, 0 = not given */
    int64_t posted;                          /* unix seconds */
    uint8_t state;                           /* enum sg_job_state */
} sg_job;

/* ---- Enums: names on the wire, Chinese labels for people. ---- */

/* sg_enum_name returns the wire name of value v of an enum family, or NULL
 * when v is out of range.  sg_enum_parse returns the value or -1. */
typedef enum sg_enum_kind {
    SG_ENUM_LABOR,
    SG_ENUM_CATEGORY,
    SG_ENUM_TRAVEL,
    SG_ENUM_STATUS,
    SG_ENUM_SOURCE,
    SG_ENUM_STATE
} sg_enum_kind;
const char *sg_enum_name(sg_enum_kind k, int v);
const char *sg_enum_label_zh(sg_enum_kind k, int v); /* e.g. "半劳动力" */
int sg_enum_parse(sg_enum_kind k, const char *s, size_t len);

/* sg_status_is_employed tells whether a status counts as employed for the
 * zero-employment household rule (employed_local, employed_outbound,
 * public_welfare_post, workshop, self_employed). */
bool sg_status_is_employed(int status);

/* ---- Skills taxonomy (data/skills.tsv, compiled in). ---- */

/* sg_skill_count returns the number of skill codes; sg_skill_at returns the
 * i-th (0 <= i < count) in taxonomy order. */
size_t sg_skill_count(void);
sg_skill sg_skill_at(size_t i);
/* sg_skill_code returns the code of skill s (e.g. "weld"), or NULL. */
const char *sg_skill_code(sg_skill s);
/* sg_skill_name_zh returns the Chinese name of skill s (e.g. "焊工"). */
const char *sg_skill_name_zh(sg_skill s);
/* sg_skill_find looks code up; returns 0 and sets *out, or SG_ENOTFOUND. */
int sg_skill_find(const char *code, size_t len, sg_skill *out);

/* ---- Region table (data/regions.tsv, compiled in). ---- */

/* Levels of an administrative code, by the number of digits it has. */
#define SG_LEVEL_PROVINCE 2
#define SG_LEVEL_CITY 4
#define SG_LEVEL_COUNTY 6
#define SG_LEVEL_TOWNSHIP 9
#define SG_LEVEL_VILLAGE 12

/* sg_region_info describes one known region (any level). */
typedef struct sg_region_info {
    char code[SG_REGION_LEN + 1]; /* 2, 4, 6, 9 or 12 digits */
    char name[64];                /* Chinese name */
    double lat;                   /* approximate centre */
    double lon;                   /* approximate centre */
} sg_region_info;

/* sg_region_check validates a 12-digit village code: 0 when it is well
 * formed and its village is known to the region table; otherwise SG_EINVAL
 * with the reason in e (field left to the caller). */
int sg_region_check(const char *code, size_t len, sg_error *e);
/* sg_region_lookup finds a code of any level (2/4/6/9/12 digits); returns 0
 * and fills *out, or SG_ENOTFOUND. */
int sg_region_lookup(const char *code, sg_region_info *out);
/* sg_region_tier returns the tier of two 12-digit codes: SG_TRAVEL_VILLAGE
 * when equal, ... SG_TRAVEL_PROVINCE when only the first 2 digits agree,
 * SG_TRAVEL_ANY otherwise. */
int sg_region_tier(const char *a, const char *b);
/* sg_travel_prefix_len returns the prefix length that tier t compares
 * (12, 9, 6, 4, 2; 0 for SG_TRAVEL_ANY). */
int sg_travel_prefix_len(int t);

/* sg_county_count / sg_county_at enumerate the known counties (6 digits),
 * the demo county 360425 first; used by `songgang gen`. */
size_t sg_county_count(void);
const sg_region_info *sg_county_at(size_t i);
/* sg_county_villages fills up to cap village codes of county (6 digits)
 * into out (each SG_REGION_LEN + 1 bytes) and returns how many it has. */
size_t sg_county_villages(const char *county, char (*out)[SG_REGION_LEN + 1],
                          size_t cap);

/* ---- Dates and times (Asia/Shanghai, UTC+8, no DST since 1991). ---- */

/* sg_date_parse parses YYYY-MM-DD into days since 1970-01-01; 0 or
 * SG_EINVAL.  sg_date_format writes YYYY-MM-DD and a NUL into buf[11]. */
int sg_date_parse(const char *s, size_t len, int32_t *days);
void sg_date_format(int32_t days, char buf[11]);
/* sg_time_parse parses an RFC 3339 time (Z or +hh:mm offset, optional
 * fraction) into unix seconds.  sg_time_format writes
 * "YYYY-MM-DDThh:mm:ss+08:00" and a NUL into buf[26]. */
int sg_time_parse(const char *s, size_t len, int64_t *secs);
void sg_time_format(int64_t secs, char buf[26]);
/* sg_time_date returns the Asia/Shanghai date (days) of unix time secs. */
int32_t sg_time_date(int64_t secs);
/* sg_today returns today's date in Asia/Shanghai (reads the clock). */
int32_t sg_today(void);

/* ---- National ID numbers (GB 11643). ---- */

/* sg_idnum_check validates an 18-character ID number: length, digits,
 * region prefix digits, a real birth date, and the check digit.  0 or
 * SG_EINVAL with the reason in e (which never contains the number). */
int sg_idnum_check(const char *s, size_t len, sg_error *e);
/* sg_idnum_protect checks s, then writes its keyed hash and masked form
 * into w (has_idnum = true).  key is SG_IDNUM_KEY_LEN bytes. */
int sg_idnum_protect(sg_worker *w, const char *s, size_t len,
                     const uint8_t *key, sg_error *e);

/* ---- Validation, msgpack and JSON. ---- */

/* sg_worker_init / sg_job_init set every field to its empty default. */
void sg_worker_init(sg_worker *w);
void sg_job_init(sg_job *j);

/* sg_worker_validate / sg_job_validate check every semantic rule of a
 * record built in memory (the decoders call them too): 0 or SG_EINVAL. */
int sg_worker_validate(const sg_worker *w, sg_error *e);
int sg_job_validate(const sg_job *j, sg_error *e);

/* sg_buf is a growable byte buffer owned by the caller (sg_buf_free). */
typedef struct sg_buf {
    uint8_t *data; /* malloc'd bytes */
    size_t len;    /* bytes used */
    size_t cap;    /* bytes allocated */
} sg_buf;
void sg_buf_init(sg_buf *b);
void sg_buf_free(sg_buf *b);
void sg_buf_append(sg_buf *b, const void *p, size_t n);

/* sg_worker_encode appends the msgpack form of w (a map with field names
 * and "v": SG_SCHEMA_VERSION) to out.  w must be valid. */
void sg_worker_encode(const sg_worker *w, sg_buf *out);
void sg_job_encode(const sg_job *j, sg_buf *out);

/* sg_worker_decode strictly decodes untrusted msgpack bytes into *out.
 * idkey (SG_IDNUM_KEY_LEN bytes, may be NULL) is needed only when the
 * input carries an ID number in clear ("id_number"); without it such
 * input is rejected.  Returns 0 and writes *out, or SG_EINVAL /
 * SG_ETOOBIG / SG_EVERSION with e naming the field and the reason; *out
 * is untouched on error.  Never allocates more than O(len). */
int sg_worker_decode(const uint8_t *p, size_t len, const uint8_t *idkey,
                     sg_worker *out, sg_error *e);
int sg_job_decode(const uint8_t *p, size_t len, sg_job *out, sg_error *e);

/* The kind of a JSON line ("kind": "worker" | "job"). */
typedef enum sg_kind { SG_KIND_WORKER = 1, SG_KIND_JOB = 2 } sg_kind;

/* sg_json_decode decodes one JSON object (a line of NDJSON or an HTTP body)
 * of len bytes.  If want is 0 the object must carry "kind"; otherwise
 * "kind" is optional and must equal want.  On success returns 0, sets
 * *kind and fills the matching record (w or j).  Duplicate keys, trailing
 * bytes and every rule of the msgpack decoder are enforced. */
int sg_json_decode(const char *s, size_t len, sg_kind want,
                   const uint8_t *idkey, sg_kind *kind, sg_worker *w,
                   sg_job *j, sg_error *e);

/* sg_worker_to_json / sg_job_to_json append one compact JSON object (with
 * "kind", no newline) to out.  The ID number appears only as
 * "id_number_hash" (hex) and "id_number_masked".  They encode the record
 * and convert the msgpack (sg_msgpack_to_json), so the field list is the
 * encoder's alone; "kind" takes the place of the schema version "v". */
void sg_worker_to_json(const sg_worker *w, sg_buf *out);
void sg_job_to_json(const sg_job *j, sg_buf *out);

/* sg_worker_to_jv / sg_job_to_jv return the same object as a jansson value,
 * owned by the caller (json_decref). */
struct json_t;
struct json_t *sg_worker_to_jv(const sg_worker *w);
struct json_t *sg_job_to_jv(const sg_job *j);

/* sg_utf8_valid tells whether s[0..len) is valid, shortest-form UTF-8
 * (a NUL byte is valid UTF-8; callers that forbid it check it too). */
bool sg_utf8_valid(const char *s, size_t len);

/* sg_id_valid tells whether s[0..len) is an id: 1-32 of [A-Za-z0-9_-]. */
bool sg_id_valid(const char *s, size_t len);

/* sg_json_to_msgpack appends the msgpack form of the JSON value v
 * (borrowed) to out -- objects as maps, integers as ints, reals as
 * float64 -- so that one value serves both formats.  0, or SG_EINVAL when
 * v nests too deeply (out may then hold a partial value). */
int sg_json_to_msgpack(const struct json_t *v, sg_buf *out);

/* sg_msgpack_to_json appends the compact JSON text of the one msgpack
 * value in p[0..len) (borrowed) to out: maps as objects, arrays, strings
 * with UTF-8 left as is ('"', '\\' and control characters escaped as
 * jansson does), integers, floats with 15 significant digits (as
 * JSON_REAL_PRECISION(15)), booleans and nil as null.  Returns 0, or
 * SG_EINVAL with e naming the place ("sites[0].lat") and the reason, and
 * out as it was, for: nesting deeper than 8, a count larger than the
 * bytes left, a map of more than 64 keys or with a repeated or non-string
 * key, invalid UTF-8, NaN or infinity, bin or ext values, an integer above
 * INT64_MAX, a key "id_number" (a clear ID number is never written as
 * JSON), or trailing bytes.  The text is at most ~6 bytes per input byte. */
int sg_msgpack_to_json(const uint8_t *p, size_t len, sg_buf *out,
                       sg_error *e);

/* sg_msgpack_to_jv is sg_msgpack_to_json with the same rules, returning
 * the value as a jansson tree in *out, owned by the caller (json_decref);
 * *out is untouched on error. */
int sg_msgpack_to_jv(const uint8_t *p, size_t len, struct json_t **out,
                     sg_error *e);

/* sg_hex encodes n bytes as 2n lowercase hex digits and a NUL. */
void sg_hex(const uint8_t *p, size_t n, char *out);

#endif /* SG_PROTO_H */
