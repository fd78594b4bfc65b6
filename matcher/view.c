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

/* ---- A tiny cursor over bytes. ---- */

typedef struct wr {
    uint8_t *p; /* next byte to write */
} wr;

static void put8(wr *w, uint8_t x) { *w->p++ = x; }
static void put16(wr *w, uint16_t x)
{
    put8(w, (uint8_t)x);
    put8(w, (uint8_t)(x >> 8));
}
static void put32(wr *w, int32_t x)
{
    uint32_t u = (uint32_t)x;
    put16(w, (uint16_t)u);
    put16(w, (uint16_t)(u >> 16));
}
static void putstr(wr *w, const char *s)
{
    size_t n = strlen(s);
    put8(w, (uint8_t)n);
    memcpy(w->p, s, n);
    w->p += n;
}
static void putgeo(wr *w, sg__geo g)
{
    put8(w, g.has);
    if (g.has) {
        put32(w, g.lat_e6);
        put32(w, g.lon_e6);
    }
}
static void putskills(wr *w, const sg_skill *s, uint8_t n)
{
    put8(w, n);
    for (size_t i = 0; i < n; i++) {
        put16(w, s[i]);
    }
}

typedef struct rd {
    const uint8_t *p; /* next byte to read */
    const uint8_t *e; /* end */
    bool bad;         /* ran past the end or saw a bad length */
} rd;

static uint8_t get8(rd *r)
{
    if (r->p >= r->e) {
        r->bad = true;
        return 0;
    }
    return *r->p++;
}
static uint16_t get16(rd *r)
{
    uint16_t lo = get8(r);
    return (uint16_t)(lo | (uint16_t)get8(r) << 8);
}
static int32_t get32(rd *r)
{
    uint32_t lo = get16(r);
    return (int32_t)(lo | (uint32_t)get16(r) << 16);
}
static void getstr(rd *r, char *out, size_t cap)
{
    size_t n = get8(r);
    if (n >= cap || (size_t)(r->e - r->p) < n) {
        r->bad = true;
        out[0] = '\0';
        return;
    }
    memcpy(out, r->p, n);
    out[n] = '\0';
    r->p += n;
}
static sg__geo getgeo(rd *r)
{
    sg__geo g = {0};
    g.has = get8(r) != 0;
    if (g.has) {
        g.lat_e6 = get32(r);
        g.lon_e6 = get32(r);
    }
    return g;
}
static uint8_t getskills(rd *r, sg_skill *s, size_t cap)
{
    uint8_t n = get8(r);
    if (n > cap) {
        r->bad = true;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        s[i] = get16(r);
    }
    return n;
}

size_t sg__jview_pack(const sg__jview *v, uint8_t *buf)
{
    wr w = {buf};
    putstr(&w, v->id);
    put8(&w, v->source);
    put8(&w, v->classes);
    put32(&w, v->starts);
    put32(&w, v->ends);
    put32(&w, v->wage_min);
    put32(&w, v->wage_max);
    put32(&w, v->posted_date);
    putskills(&w, v->req, v->nreq);
    putskills(&w, v->pref, v->npref);
    put8(&w, v->nsites);
    for (size_t i = 0; i < v->nsites; i++) {
        memcpy(w.p, v->site[i], SG_REGION_LEN);
        w.p += SG_REGION_LEN;
        putgeo(&w, v->site_geo[i]);
    }
    return (size_t)(w.p - buf);
}

int sg__jview_unpack(const uint8_t *p, size_t n, sg__jview *v)
{
    rd r = {p, p + n, false};
    getstr(&r, v->id, sizeof(v->id));
    v->source = get8(&r);
    v->classes = get8(&r);
    v->starts = get32(&r);
    v->ends = get32(&r);
    v->wage_min = get32(&r);
    v->wage_max = get32(&r);
    v->posted_date = get32(&r);
    v->nreq = getskills(&r, v->req, SG_REQ_SKILLS_MAX);
    v->npref = getskills(&r, v->pref, SG_REQ_SKILLS_MAX);
    v->nsites = get8(&r);
    if (v->nsites > SG_SITES_MAX) {
        return SG_ECORRUPT;
    }
    for (size_t i = 0; i < v->nsites && !r.bad; i++) {
        if ((size_t)(r.e - r.p) < SG_REGION_LEN) {
            return SG_ECORRUPT;
        }
        memcpy(v->site[i], r.p, SG_REGION_LEN);
        v->site[i][SG_REGION_LEN] = '\0';
        r.p += SG_REGION_LEN;
        v->site_geo[i] = getgeo(&r);
    }
    if (r.bad || r.p != r.e || v->source >= SG_SOURCE__COUNT) {
        return SG_ECORRUPT;
    }
    return 0;
}

size_t sg__wview_pack(const sg__wview *v, uint8_t *buf)
{
    wr w = {buf};
    putstr(&w, v->id);
    putstr(&w, v->household);
    memcpy(w.p, v->region, SG_REGION_LEN);
    w.p += SG_REGION_LEN;
    putgeo(&w, v->geo);
    put8(&w, v->labor_class);
    put8(&w, v->travel);
    put8(&w, v->category);
    put8(&w, v->risk_eliminated);
    putskills(&w, v->skills, v->nskills);
    put32(&w, v->expected_wage);
    put32(&w, v->available_from);
    put32(&w, v->available_to);
    return (size_t)(w.p - buf);
}

int sg__wview_unpack(const uint8_t *p, size_t n, sg__wview *v)
{
    rd r = {p, p + n, false};
    getstr(&r, v->id, sizeof(v->id));
    getstr(&r, v->household, sizeof(v->household));
    if (r.bad || (size_t)(r.e - r.p) < SG_REGION_LEN) {
        return SG_ECORRUPT;
    }
    memcpy(v->region, r.p, SG_REGION_LEN);
    v->region[SG_REGION_LEN] = '\0';
    r.p += SG_REGION_LEN;
    v->geo = getgeo(&r);
    v->labor_class = get8(&r);
    v->travel = get8(&r);
    v->category = get8(&r);
    v->risk_eliminated = get8(&r) != 0;
    v->nskills = getskills(&r, v->skills, SG_SKILLS_MAX);
    v->expected_wage = get32(&r);
    v->available_from = get32(&r);
    v->available_to = get32(&r);
    if (r.bad || r.p != r.e || v->labor_class >= SG_LABOR__COUNT ||
        v->travel >= SG_TRAVEL__COUNT) {
        return SG_ECORRUPT;
    }
    return 0;
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
