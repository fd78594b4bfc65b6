-- bench/pg_schema.sql -- songgang's ranking as a PostgreSQL 15 engineer
-- would build it, for bench/vs_pg: the tables `vs_pg dump` writes as CSV,
-- the indexes for the two queries, and the two queries themselves as SQL
-- functions (sg_jobs_for, sg_workers_for) that the planner inlines into
-- the caller's prepared statement.  Every hard filter and every part of
-- the score is the one of score_pair in matcher/match.c with the default
-- weights (sg_weights_default), written as constants.
--
-- The design reads like the matcher's: what ranking needs of a job is
-- copied into each of its sites (as the matcher's postings carry a view of
-- the job), and whether a worker's household has anybody employed is kept
-- on the worker's row.  In production, triggers on jobs and workers would
-- keep these copies; here they are loaded as dumped.  Both were measured
-- at the province scale: joining jobs and households per candidate instead
-- made worker -> jobs 30 ms instead of 0.3 ms for a worker who stays in
-- the village (the planner, unable to size the region range, hashed every
-- open job), and job -> workers about 3 times slower.
--
-- Run with psql as a superuser:  psql -v csv=DIR -f pg_schema.sql, DIR
-- being the absolute path of the CSV folder, readable by the server.
-- It creates the tables, loads them with COPY, builds the indexes after
-- the load (faster than maintaining them row by row), then VACUUM
-- ANALYZE, which gathers planner statistics and sets the visibility map
-- so that index-only scans need not visit the heap.  It prints the
-- seconds each step took as `load <step> <seconds>`.
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;

CREATE EXTENSION IF NOT EXISTS intarray;   -- &, #, @>, <@ on int[], GIN
CREATE EXTENSION IF NOT EXISTS pg_prewarm;  -- to start with a warm cache

-- ---- Tables.  Region codes and ids compare byte-wise (COLLATE "C"), as
-- strcmp does in the matcher; dates are day numbers (NULL = absent). ----

CREATE TABLE workers (
    id            text COLLATE "C" PRIMARY KEY,
    household     text COLLATE "C" NOT NULL,
    region        text COLLATE "C" NOT NULL, -- 12-digit village code
    reach         text COLLATE "C" NOT NULL, -- left(region, plen(travel))
    lat_e6        int,                       -- micro-degrees, NULL = no geo
    lon_e6        int,
    labor         smallint NOT NULL,         -- enum sg_labor_class
    travel        smallint NOT NULL,         -- enum sg_travel
    risk          bool NOT NULL,             -- monitored, risk not gone
    skills        int[] NOT NULL,            -- skill ids, sorted
    expected_wage int NOT NULL,
    avail_from    int,
    avail_to      int,
    seeking       bool NOT NULL,
    hh_employed   bool NOT NULL              -- = households.employed
);

-- employed: some member holds an employed status (the zero-employment
-- household rule).  The queries read the copy in workers.hh_employed.
CREATE TABLE households (
    id       text COLLATE "C" PRIMARY KEY,
    employed bool NOT NULL
);

CREATE TABLE jobs (
    id          text COLLATE "C" PRIMARY KEY,
    source      smallint NOT NULL, -- enum sg_source
    classes     smallint NOT NULL, -- bit (1 << labor class) each
    starts      int,
    ends        int,
    wage_min    int NOT NULL,
    wage_max    int NOT NULL,
    posted_date int NOT NULL,
    req         int[] NOT NULL,    -- required skill ids, sorted
    pref        int[] NOT NULL,    -- preferred skill ids, sorted
    open        bool NOT NULL      -- state open and openings > 0
);

-- One row per site of a job, with a copy of the job's columns that
-- ranking reads (from source to open).
CREATE TABLE job_sites (
    job_id      text COLLATE "C" NOT NULL,
    idx         smallint NOT NULL,  -- position in the job's site list
    region      text COLLATE "C" NOT NULL,
    lat_e6      int,
    lon_e6      int,
    source      smallint NOT NULL,
    classes     smallint NOT NULL,
    starts      int,
    ends        int,
    wage_max    int NOT NULL,
    posted_date int NOT NULL,
    req         int[] NOT NULL,
    pref        int[] NOT NULL,
    open        bool NOT NULL,
    PRIMARY KEY (job_id, idx)
);

-- ---- Load. ----
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
\set wcsv :csv '/workers.csv'
\set hcsv :csv '/households.csv'
\set jcsv :csv '/jobs.csv'
\set scsv :csv '/job_sites.csv'
COPY workers FROM :'wcsv' WITH (FORMAT csv);
COPY households FROM :'hcsv' WITH (FORMAT csv);
COPY jobs FROM :'jcsv' WITH (FORMAT csv);
COPY job_sites FROM :'scsv' WITH (FORMAT csv);
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2)
    AS copy_s, extract(epoch FROM clock_timestamp()) AS t1 \gset
\echo load copy :copy_s

-- ---- Indexes. ----
-- worker -> jobs: the sites a worker reaches are those whose code starts
-- with its reach, one range of this index (reach <= region < reach||':',
-- ':' following '9'); with the job's columns included, the query is one
-- index-only scan.
CREATE INDEX job_sites_open_region ON job_sites (region)
    INCLUDE (job_id, idx, lat_e6, lon_e6, source, classes, starts, ends,
             wage_max, posted_date, req, pref)
    WHERE open;
-- job -> workers: a worker reaches a site when its reach is one of the
-- site's six prefixes (12, 9, 6, 4, 2, 0 digits): six probes per site
-- and accepted labor class.
CREATE INDEX workers_seeking_reach ON workers (reach, labor) WHERE seeking;
-- Held skills, for jobs that require some (@> is GIN-indexable; used only
-- when the job requires a skill, see sg_workers_for).
CREATE INDEX workers_seeking_skills ON workers USING gin (skills gin__int_ops)
    WHERE seeking;
-- No GIN index on required skills: `req <@ worker's skills` must return
-- every job that requires nothing (most of them), so it is never
-- selective; and the planner, unable to estimate it for a value known
-- only at run time, picked it over the region index (measured).
SELECT round((extract(epoch FROM clock_timestamp()) - :t1)::numeric, 2)
    AS index_s, extract(epoch FROM clock_timestamp()) AS t2 \gset
\echo load index :index_s

VACUUM (ANALYZE) workers, households, jobs, job_sites;
SELECT round((extract(epoch FROM clock_timestamp()) - :t2)::numeric, 2)
    AS analyze_s \gset
\echo load vacuum_analyze :analyze_s

-- ---- Scoring helpers: single SQL expressions, IMMUTABLE and not
-- STRICT, so the planner inlines them into the query. ----

-- sg_tier is sg_region_tier: the tier of two 12-digit codes from the
-- length of their common prefix.
CREATE FUNCTION sg_tier(a text, b text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a = b THEN 0
                WHEN left(a, 9) = left(b, 9) THEN 1
                WHEN left(a, 6) = left(b, 6) THEN 2
                WHEN left(a, 4) = left(b, 4) THEN 3
                WHEN left(a, 2) = left(b, 2) THEN 4
                ELSE 5 END
$$;

-- sg_km is sg__km (matcher/view.c), the haversine distance between two
-- points in micro-degrees: the same float8 operations in the same order,
-- on the same libm, so the result is bit for bit the matcher's.
CREATE FUNCTION sg_km(lat1 int, lon1 int, lat2 int, lon2 int) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 2.0::float8 * 6371.0::float8 * asin(sqrt(least(
        sin((lat2::float8 * (pi() / 180.0::float8 / 1e6::float8)
             - lat1::float8 * (pi() / 180.0::float8 / 1e6::float8))
            / 2::float8)
        * sin((lat2::float8 * (pi() / 180.0::float8 / 1e6::float8)
               - lat1::float8 * (pi() / 180.0::float8 / 1e6::float8))
              / 2::float8)
        + cos(lat1::float8 * (pi() / 180.0::float8 / 1e6::float8))
          * cos(lat2::float8 * (pi() / 180.0::float8 / 1e6::float8))
          * sin((lon2 - lon1)::float8 * (pi() / 180.0::float8 / 1e6::float8)
                / 2::float8)
          * sin((lon2 - lon1)::float8 * (pi() / 180.0::float8 / 1e6::float8)
                / 2::float8),
        1.0::float8)))
$$;

-- sg_proximity: tier points plus distance points (100 at 0 km, none from
-- 30 km); km NULL when either side has no position.
CREATE FUNCTION sg_proximity(tier int, km float8) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY[200, 160, 120, 60, 30, 0])[tier + 1]
         + CASE WHEN km IS NULL THEN 0
                ELSE floor(100::float8
                           * greatest(1.0::float8 - km / 30::float8,
                                      0::float8))::int END
$$;

-- sg_reaches: the reach values that include a site, one per travel tier.
CREATE FUNCTION sg_reaches(region text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[region, left(region, 9), left(region, 6), left(region, 4),
                 left(region, 2), ''::text]
$$;

-- sg_labors: the labor classes a job's class bits accept.
CREATE FUNCTION sg_labors(classes smallint) RETURNS smallint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_remove(ARRAY[CASE WHEN classes & 1 <> 0 THEN 0 END,
                              CASE WHEN classes & 2 <> 0 THEN 1 END,
                              CASE WHEN classes & 4 <> 0 THEN 2 END,
                              CASE WHEN classes & 8 <> 0 THEN 3 END]::smallint[],
                        NULL)
$$;

-- sg_channel_pts: channel fit by labor class (分类管理), default_fit of
-- matcher/match.c in percent; a constant array rather than a table, so
-- that it costs no join.  Rows: ordinary, skilled, half, weak; columns:
-- industrial_park, workshop, work_relief, public_welfare, labor_export,
-- flexible (enum order).
CREATE FUNCTION sg_channel_pts(labor smallint, source smallint) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 150 * ('{{100,  40, 100,  10, 100, 60},
                    {100,  30,  80,   0, 100, 60},
                    { 30, 100,  60, 100,  10, 60},
                    { 10, 100,  40, 100,   0, 50}}'::int[])
                 [labor + 1][source + 1] / 100
$$;

-- sg_skill_pts, sg_wage_pts, sg_fresh_pts, sg_priority_pts: the other
-- parts, integer arithmetic as in score_pair.
CREATE FUNCTION sg_skill_pts(pref int[], skills int[]) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 150 * (1 + #(pref & skills)) / (1 + #pref)
$$;
CREATE FUNCTION sg_wage_pts(wage_max int, expected int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN expected <= 0 THEN 150
                ELSE (150 * least(greatest(10 * wage_max::bigint
                                           - 6 * expected::bigint, 0::bigint),
                                  6 * expected::bigint)
                      / (6 * expected::bigint))::int END
$$;
CREATE FUNCTION sg_fresh_pts(posted_date int, as_of int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN greatest(as_of - posted_date, 0) >= 30 THEN 0
                ELSE 50 * (30 - greatest(as_of - posted_date, 0)) / 30 END
$$;
CREATE FUNCTION sg_priority_pts(risk bool, hh_employed bool) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN risk THEN 100 ELSE 0 END
         + CASE WHEN hh_employed THEN 0 ELSE 100 END
$$;

-- ---- The two queries.  Each returns the top k, score desc then id, with
-- the six parts, the tier, region and distance of the chosen site.  Being
-- LANGUAGE sql, STABLE, not STRICT and a single SELECT, each is inlined
-- into `SELECT * FROM sg_jobs_for($1, $2, 20)`, so a prepared statement
-- keeps one plan for the whole query.
--
-- Both score every eligible (worker, site) pair, in a subquery fenced by
-- OFFSET 0 so that its columns (the distance above all) are computed once
-- per row rather than at each place they are used.  A pair's chosen site
-- is its first row in the order (score desc, id, tier, site, idx): its
-- score is the worker-and-job part plus the site's points, so the most
-- points win, then the lower tier, code and index, as in the matcher.
-- And since a job has at most 8 sites (SG_SITES_MAX), the first k * 8
-- rows of that order hold the first row of each of the best k: a bounded
-- top-N sort of the pairs replaces a full sort of them, then DISTINCT ON
-- keeps each one's first row.

-- sg_jobs_for: worker -> top k open jobs, from one range of the sites
-- index.
CREATE FUNCTION sg_jobs_for(worker text, as_of int, k int)
RETURNS TABLE (id text, score int, skill int, proximity int, wage int,
               channel int, priority int, freshness int, tier int,
               site text, km float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT b.id, b.score, b.skill, b.proximity, b.wage, b.channel,
           b.priority, b.freshness, b.tier, b.site, b.km
    FROM (
        SELECT DISTINCT ON (t.id) t.*
        FROM (
            SELECT p.*, p.skill + p.proximity + p.wage + p.channel
                        + p.priority + p.freshness AS score
            FROM (
                SELECT e.*, sg_proximity(e.tier, e.km) AS proximity
                FROM (
                    -- Every (job, site) pair that passes the hard filters.
                    SELECT s.job_id AS id, s.idx, s.region AS site,
                           sg_tier(w.region, s.region) AS tier,
                           CASE WHEN w.lat_e6 IS NOT NULL
                                 AND s.lat_e6 IS NOT NULL
                                THEN sg_km(w.lat_e6, w.lon_e6,
                                           s.lat_e6, s.lon_e6)
                           END AS km,
                           sg_skill_pts(s.pref, w.skills) AS skill,
                           sg_wage_pts(s.wage_max, w.expected_wage) AS wage,
                           sg_channel_pts(w.labor, s.source) AS channel,
                           sg_priority_pts(w.risk, w.hh_employed)
                               AS priority,
                           sg_fresh_pts(s.posted_date, as_of) AS freshness
                    FROM workers w
                    JOIN job_sites s ON s.open AND s.region >= w.reach
                                    AND s.region < w.reach || ':'
                    WHERE w.id = worker AND w.seeking
                      AND (s.ends IS NULL OR s.ends >= as_of)
                      AND s.classes & (1 << w.labor) <> 0
                      AND coalesce(w.avail_from <= s.ends, true)
                      AND coalesce(s.starts <= w.avail_to, true)
                      AND s.req <@ w.skills
                    OFFSET 0
                ) e
                OFFSET 0
            ) p
            ORDER BY score DESC, p.id, p.tier, p.site, p.idx
            LIMIT k * 8
        ) t
        ORDER BY t.id, t.score DESC, t.tier, t.site, t.idx
    ) b
    ORDER BY b.score DESC, b.id
    LIMIT k
$$;

-- sg_workers_for: job -> top k seeking workers.  The workers come from
-- the reach index, probed with each site's six prefixes; when the job
-- requires skills, the planner may start from the skills index instead.
-- The two cases are two arms of a UNION ALL gated on the job (a one-time
-- filter), because a single plan would have to serve both, and the GIN
-- index asked for workers holding "no skill" returns every one of them.
CREATE FUNCTION sg_workers_for(job text, as_of int, k int)
RETURNS TABLE (id text, score int, skill int, proximity int, wage int,
               channel int, priority int, freshness int, tier int,
               site text, km float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT b.id, b.score, b.skill, b.proximity, b.wage, b.channel,
           b.priority, b.freshness, b.tier, b.site, b.km
    FROM (
        SELECT DISTINCT ON (t.id) t.*
        FROM (
            SELECT p.*, p.skill + p.proximity + p.wage + p.channel
                        + p.priority + p.freshness AS score
            FROM (
                SELECT e.*, sg_proximity(e.tier, e.km) AS proximity
                FROM (
                    -- Every (worker, site) pair that passes the hard
                    -- filters.
                    SELECT w.id, s.idx, s.region AS site,
                           sg_tier(w.region, s.region) AS tier,
                           CASE WHEN w.lat_e6 IS NOT NULL
                                 AND s.lat_e6 IS NOT NULL
                                THEN sg_km(w.lat_e6, w.lon_e6,
                                           s.lat_e6, s.lon_e6)
                           END AS km,
                           sg_skill_pts(j.pref, w.skills) AS skill,
                           sg_wage_pts(j.wage_max, w.expected_wage) AS wage,
                           sg_channel_pts(w.labor, j.source) AS channel,
                           sg_priority_pts(w.risk, w.hh_employed)
                               AS priority,
                           sg_fresh_pts(j.posted_date, as_of) AS freshness
                    FROM jobs j
                    JOIN job_sites s ON s.job_id = j.id
                    JOIN LATERAL (
                        SELECT * FROM workers w
                        WHERE #j.req = 0 AND w.seeking
                          AND w.reach = ANY (sg_reaches(s.region))
                          AND w.labor = ANY (sg_labors(j.classes))
                        UNION ALL
                        SELECT * FROM workers w
                        WHERE #j.req > 0 AND w.seeking
                          AND w.reach = ANY (sg_reaches(s.region))
                          AND w.labor = ANY (sg_labors(j.classes))
                          AND w.skills @> j.req
                    ) w ON true
                    WHERE j.id = job AND j.open
                      AND (j.ends IS NULL OR j.ends >= as_of)
                      AND coalesce(w.avail_from <= j.ends, true)
                      AND coalesce(j.starts <= w.avail_to, true)
                    OFFSET 0
                ) e
                OFFSET 0
            ) p
            ORDER BY score DESC, p.id, p.tier, p.site, p.idx
            LIMIT k * 8
        ) t
        ORDER BY t.id, t.score DESC, t.tier, t.site, t.idx
    ) b
    ORDER BY b.score DESC, b.id
    LIMIT k
$$;

-- Start the queries from a warm cache, as the matcher's store is after
-- the import: every table and index read into shared buffers.
SELECT count(pg_prewarm(c.oid::regclass))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') \gset
