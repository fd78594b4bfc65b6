/* matcher/view.c -- the compact views of jobs and workers that posting
 * values carry.  A query reads candidates straight out of the postings and
 * scores them from these bytes, without decoding a record; the layout is a
 * fixed little-endian sequence written and read only here.  They are our
 * own bytes, written in the same transaction as the record, but unpacking
 * still checks every length so that a damaged file is reported, not read
 * past.  Pure functions: any thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

sg__geo sg__geo_of(bool has, double lat, double lon)
{
    sg__geo g = {0};
    if (has) {
        g.has = true;
        g.lat_e6 = (int32_t)llround(lat * 1e6);
        g.lon_e6 = (int32_t)llround(lon * 1e6);
    }
    return g;
}

void sg__jview_of(const sg_job *j, sg__jview *v)
{
    memset(v, 0, sizeof(*v));
    memcpy(v->id, j->id, sizeof(v->id));
    v->source = j->source;
    v->classes = j->labor_classes;
    v->starts = j->starts;
    v->ends = j->ends;
    v->wage_min = j->wage_min;
    v->wage_max = j->wage_max;
    v->posted_date = sg_time_date(j->posted);
    v->nreq = j->nrequired;
    memcpy(v->req, j->required, sizeof(v->req));
    v->npref = j->npreferred;
    memcpy(v->pref, j->preferred, sizeof(v->pref));
    v->nsites = j->nsites;
    for (size_t i = 0; i < j->nsites; i++) {
        memcpy(v->site[i], j->sites[i].region, sizeof(v->site[i]));
        v->site_geo[i] = sg__geo_of(j->sites[i].has_geo, j->sites[i].lat,
                                    j->sites[i].lon);
    }
}

void sg__wview_of(const sg_worker *w, sg__wview *v)
{
    memset(v, 0, sizeof(*v));
    memcpy(v->id, w->id, sizeof(v->id));
    memcpy(v->household, w->household, sizeof(v->household));
    memcpy(v->region, w->region, sizeof(v->region));
    v->geo = sg__geo_of(w->has_geo, w->lat, w->lon);
    v->labor_class = w->labor_class;
    v->travel = w->travel;
    v->category = w->category;
    v->risk_eliminated = w->risk_eliminated;
    v->nskills = w->nskills;
    memcpy(v->skills, w->skills, sizeof(v->skills));
    v->expected_wage = w->expected_wage;
    v->available_from = w->available_from;
    v->available_to = w->available_to;
}

/* ---- Bytes.  A view is [id length][id], then a fixed-size block read
 * at fixed offsets (so that scoring a candidate costs a few loads, not a
 * parse), then what varies: a job's sites, a worker's household. ---- */

static void st16(uint8_t *p, uint16_t x)
{
    p[0] = (uint8_t)x;
    p[1] = (uint8_t)(x >> 8);
}
static void st32(uint8_t *p, int32_t x)
{
    uint32_t u = (uint32_t)x;
    st16(p, (uint16_t)u);
    st16(p + 2, (uint16_t)(u >> 16));
}
static uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static int32_t ld32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* put_str / get_str: [length][bytes]; get_str returns the bytes used, or
 * 0 when they do not fit. */
static size_t put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p[0] = (uint8_t)n;
    memcpy(p + 1, s, n);
    return n + 1;
}
static size_t get_str(const uint8_t *p, size_t avail, char *out, size_t cap)
{
    if (avail < 1 || p[0] >= cap || (size_t)p[0] + 1 > avail) {
        return 0;
    }
    memcpy(out, p + 1, p[0]);
    out[p[0]] = '\0';
    return (size_t)p[0] + 1;
}

/* A position: [has][lat][lon], 9 bytes, zeros when unknown. */
#define GEO_LEN 9
static void put_geo(uint8_t *p, sg__geo g)
{
    p[0] = g.has;
    st32(p + 1, g.has ? g.lat_e6 : 0);
    st32(p + 5, g.has ? g.lon_e6 : 0);
}
static sg__geo get_geo(const uint8_t *p)
{
    sg__geo g = {p[0] != 0, ld32(p + 1), ld32(p + 5)};
    return g;
}

/* A skill list in a fixed number of slots: [count][cap x 2 bytes]. */
static void put_skills(uint8_t *p, const sg_skill *s, uint8_t n, size_t cap)
{
    memset(p, 0, 1 + 2 * cap);
    p[0] = n;
    for (size_t i = 0; i < n; i++) {
        st16(p + 1 + 2 * i, s[i]);
    }
}
static bool get_skills(const uint8_t *p, sg_skill *s, uint8_t *n, size_t cap)
{
    if (p[0] > cap) {
        return false;
    }
    *n = p[0];
    for (size_t i = 0; i < p[0]; i++) {
        s[i] = ld16(p + 1 + 2 * i);
    }
    return true;
}

/* Job view (layout 7 on), as short as it can be, since a worker's query
 * reads thousands of them and their bytes are most of its time: the top
 * wage as a big-endian key that sorts the highest first; the id; a fixed
 * block of source, classes, site count, required and preferred skill
 * counts, posted date, starts, ends, lowest wage; the skills (2 bytes
 * each); then each site: its village and a byte saying whether a position
 * (8 bytes) follows.  The duplicates of one posting key sort by their
 * bytes, so a key's jobs come best paid first and a query stops reading
 * them where the wage can no longer lift a pair into its top K
 * (sg__jview_wage).  What bounds a pair (source, wage, posted date,
 * sites) is read without unpacking the rest. */
#define JPRE 4
#define JFIX (5 + 4 * 4)
#define JSITE_MIN (SG_REGION_LEN + 1)

static void st_be32(uint8_t *p, uint32_t x)
{
    p[0] = (uint8_t)(x >> 24);
    p[1] = (uint8_t)(x >> 16);
    p[2] = (uint8_t)(x >> 8);
    p[3] = (uint8_t)x;
}

bool sg__view_id(bool job, const uint8_t *p, size_t n,
                 char id[SG_ID_MAX + 1])
{
    size_t o = job ? JPRE : 0;
    return n > o && get_str(p + o, n - o, id, SG_ID_MAX + 1) != 0;
}

size_t sg__jview_pack(const sg__jview *v, uint8_t *buf)
{
    /* A wage is validated 0..SG_WAGE_MAX, so the key never wraps. */
    st_be32(buf, UINT32_MAX - (uint32_t)(v->wage_max < 0 ? 0 : v->wage_max));
    size_t o = JPRE + put_str(buf + JPRE, v->id);
    uint8_t *b = buf + o;
    b[0] = v->source;
    b[1] = v->classes;
    b[2] = v->nsites;
    b[3] = v->nreq;
    b[4] = v->npref;
    st32(b + 5, v->posted_date);
    st32(b + 9, v->starts);
    st32(b + 13, v->ends);
    st32(b + 17, v->wage_min);
    o += JFIX;
    for (size_t i = 0; i < v->nreq; i++, o += 2) {
        st16(buf + o, v->req[i]);
    }
    for (size_t i = 0; i < v->npref; i++, o += 2) {
        st16(buf + o, v->pref[i]);
    }
    for (size_t i = 0; i < v->nsites; i++) {
        memcpy(buf + o, v->site[i], SG_REGION_LEN);
        o += SG_REGION_LEN;
        buf[o++] = v->site_geo[i].has;
        if (v->site_geo[i].has) {
            st32(buf + o, v->site_geo[i].lat_e6);
            st32(buf + o + 4, v->site_geo[i].lon_e6);
            o += 8;
        }
    }
    return o;
}

/* jview_sites checks the fixed part of job view p (n bytes) and returns
 * the offset of its first site, or 0 when the view is malformed. */
static size_t jview_sites(const uint8_t *p, size_t n)
{
    if (n < JPRE + 1 || p[JPRE] > SG_ID_MAX ||
        JPRE + (size_t)p[JPRE] + 1 + JFIX > n) {
        return 0;
    }
    const uint8_t *b = p + JPRE + p[JPRE] + 1;
    if (b[0] >= SG_SOURCE__COUNT || b[2] > SG_SITES_MAX ||
        b[3] > SG_REQ_SKILLS_MAX || b[4] > SG_REQ_SKILLS_MAX) {
        return 0;
    }
    size_t o = JPRE + (size_t)p[JPRE] + 1 + JFIX + 2 * ((size_t)b[3] + b[4]);
    return o + (size_t)b[2] * JSITE_MIN <= n ? o : 0;
}

int sg__jview_head_fixed(const uint8_t *p, size_t n, sg__jhead *h)
{
    size_t o = jview_sites(p, n);
    if (o == 0) {
        return SG_ECORRUPT;
    }
    const uint8_t *b = p + JPRE + p[JPRE] + 1;
    h->source = b[0];
    h->nsites = b[2];
    h->wage_max = sg__jview_wage(p);
    h->posted_date = ld32(b + 5);
    h->npref = b[4];
    h->pref = b + JFIX + 2 * (size_t)b[3];
    h->sites = (uint32_t)o;
    return 0;
}

int sg__jview_head_sites(const uint8_t *p, size_t n, const char *region,
                         sg__jhead *h)
{
    size_t o = h->sites;
    int ring = SG_TRAVEL_ANY;
    for (size_t i = 0; i < h->nsites; i++) {
        if (o + JSITE_MIN > n) {
            return SG_ECORRUPT;
        }
        /* sg__tier reads at most SG_REGION_LEN bytes of its second code,
         * so the site's unterminated bytes can be given as they are. */
        int t = sg__tier(region, (const char *)p + o);
        bool geo = p[o + SG_REGION_LEN] != 0;
        if (geo && o + JSITE_MIN + 8 > n) {
            return SG_ECORRUPT;
        }
        h->tier[i] = (uint8_t)t;
        h->site_geo[i] = geo;
        h->site_pos[i] = geo ? p + o + JSITE_MIN : NULL;
        ring = t < ring ? t : ring;
        o += JSITE_MIN + (geo ? 8 : 0);
    }
    return o == n ? ring : SG_ECORRUPT;
}

size_t sg__jhead_held(const sg__jhead *h, const sg_skill *skills, size_t n)
{
    sg_skill pref[SG_REQ_SKILLS_MAX];
    for (size_t i = 0; i < h->npref; i++) {
        pref[i] = ld16(h->pref + 2 * i);
    }
    return sg__skills_overlap(pref, h->npref, skills, n);
}

uint32_t sg__jhead_cell(const sg__jhead *h, int i)
{
    return sg__cell(ld32(h->site_pos[i]), ld32(h->site_pos[i] + 4));
}

int sg__jview_unpack(const uint8_t *p, size_t n, sg__jview *v)
{
    size_t o = jview_sites(p, n);
    if (o == 0) {
        return SG_ECORRUPT;
    }
    memcpy(v->id, p + JPRE + 1, p[JPRE]);
    v->id[p[JPRE]] = '\0';
    const uint8_t *b = p + JPRE + p[JPRE] + 1;
    v->source = b[0];
    v->classes = b[1];
    v->nsites = b[2];
    v->nreq = b[3];
    v->npref = b[4];
    v->wage_max = sg__jview_wage(p);
    v->posted_date = ld32(b + 5);
    v->starts = ld32(b + 9);
    v->ends = ld32(b + 13);
    v->wage_min = ld32(b + 17);
    const uint8_t *sk = b + JFIX;
    for (size_t i = 0; i < v->nreq; i++, sk += 2) {
        v->req[i] = ld16(sk);
    }
    for (size_t i = 0; i < v->npref; i++, sk += 2) {
        v->pref[i] = ld16(sk);
    }
    for (size_t i = 0; i < v->nsites; i++) {
        if (o + JSITE_MIN > n) {
            return SG_ECORRUPT;
        }
        memcpy(v->site[i], p + o, SG_REGION_LEN);
        v->site[i][SG_REGION_LEN] = '\0';
        o += SG_REGION_LEN;
        bool geo = p[o++] != 0;
        if (geo && o + 8 > n) {
            return SG_ECORRUPT;
        }
        v->site_geo[i] = (sg__geo){geo, geo ? ld32(p + o) : 0,
                                   geo ? ld32(p + o + 4) : 0};
        o += geo ? 8 : 0;
    }
    return o == n ? 0 : SG_ECORRUPT;
}

/* Worker block: home village, position, class, travel, category, risk
 * eliminated, household with nobody employed, skills, expected wage,
 * availability. */
#define WSK (1 + 2 * SG_SKILLS_MAX)
#define WBLOCK (SG_REGION_LEN + GEO_LEN + 5 + WSK + 3 * 4)

size_t sg__wview_pack(const sg__wview *v, uint8_t *buf)
{
    size_t o = put_str(buf, v->id);
    uint8_t *b = buf + o;
    memcpy(b, v->region, SG_REGION_LEN);
    b += SG_REGION_LEN;
    put_geo(b, v->geo);
    b += GEO_LEN;
    b[0] = v->labor_class;
    b[1] = v->travel;
    b[2] = v->category;
    b[3] = v->risk_eliminated;
    b[4] = v->zero;
    put_skills(b + 5, v->skills, v->nskills, SG_SKILLS_MAX);
    b += 5 + WSK;
    st32(b, v->expected_wage);
    st32(b + 4, v->available_from);
    st32(b + 8, v->available_to);
    o += WBLOCK;
    return o + put_str(buf + o, v->household);
}

int sg__wview_unpack(const uint8_t *p, size_t n, sg__wview *v)
{
    size_t o = get_str(p, n, v->id, sizeof(v->id));
    if (o == 0 || n - o < WBLOCK + 1) {
        return SG_ECORRUPT;
    }
    const uint8_t *b = p + o;
    memcpy(v->region, b, SG_REGION_LEN);
    v->region[SG_REGION_LEN] = '\0';
    b += SG_REGION_LEN;
    v->geo = get_geo(b);
    b += GEO_LEN;
    v->labor_class = b[0];
    v->travel = b[1];
    v->category = b[2];
    v->risk_eliminated = b[3] != 0;
    v->zero = b[4] != 0;
    if (!get_skills(b + 5, v->skills, &v->nskills, SG_SKILLS_MAX)) {
        return SG_ECORRUPT;
    }
    b += 5 + WSK;
    v->expected_wage = ld32(b);
    v->available_from = ld32(b + 4);
    v->available_to = ld32(b + 8);
    o += WBLOCK;
    size_t h = get_str(p + o, n - o, v->household, sizeof(v->household));
    if (h == 0 || o + h != n || v->labor_class >= SG_LABOR__COUNT ||
        v->travel >= SG_TRAVEL__COUNT) {
        return SG_ECORRUPT;
    }
    return 0;
}

int sg__wview_head(const uint8_t *p, size_t n, sg__whead *h)
{
    /* The checks of sg__wview_unpack, without copying. */
    if (n < 1 || p[0] > SG_ID_MAX || (size_t)p[0] + 1 > n ||
        n - (p[0] + 1) < WBLOCK + 1) {
        return SG_ECORRUPT;
    }
    const uint8_t *b = p + p[0] + 1;
    size_t o = (size_t)p[0] + 1 + WBLOCK; /* the household's length */
    const uint8_t *c = b + SG_REGION_LEN + GEO_LEN;
    if (c[0] >= SG_LABOR__COUNT || c[1] >= SG_TRAVEL__COUNT ||
        c[5] > SG_SKILLS_MAX || p[o] > SG_ID_MAX || o + 1 + p[o] != n) {
        return SG_ECORRUPT;
    }
    h->region = b;
    h->geo = b[SG_REGION_LEN] != 0;
    h->labor_class = c[0];
    h->travel = c[1];
    h->category = c[2];
    h->risk_eliminated = c[3] != 0;
    h->zero = c[4] != 0;
    h->expected_wage = ld32(c + 5 + WSK);
    h->skills = c + 5;
    return 0;
}

size_t sg__whead_skills(const sg__whead *h, sg_skill *out)
{
    uint8_t n = 0;
    get_skills(h->skills, out, &n, SG_SKILLS_MAX); /* count checked */
    return n;
}

bool sg__skills_subset(const sg_skill *a, size_t na, const sg_skill *b,
                       size_t nb)
{
    return sg__skills_overlap(a, na, b, nb) == na;
}

size_t sg__skills_overlap(const sg_skill *a, size_t na, const sg_skill *b,
                          size_t nb)
{
    size_t i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j]) {
            n++;
            i++;
            j++;
        } else if (a[i] < b[j]) {
            i++;
        } else {
            j++;
        }
    }
    return n;
}

int sg__ids_add(void *arg, const char *id)
{
    sg__ids *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (l->v == NULL) {
            abort(); /* out of memory */
        }
    }
    snprintf(l->v[l->n++], SG_ID_MAX + 1, "%s", id);
    return 0;
}

double sg__km(sg__geo a, sg__geo b)
{
    const double rad = 3.14159265358979323846 / 180.0 / 1e6;
    double la1 = a.lat_e6 * rad, la2 = b.lat_e6 * rad;
    double dla = la2 - la1, dlo = (double)(b.lon_e6 - a.lon_e6) * rad;
    double h = sin(dla / 2) * sin(dla / 2) +
               cos(la1) * cos(la2) * sin(dlo / 2) * sin(dlo / 2);
    return 2.0 * 6371.0 * asin(sqrt(h < 1.0 ? h : 1.0));
}
