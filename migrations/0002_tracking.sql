-- 0002: per-flow, per-minute tracking counters and latency histograms
-- (written in batches by the bridge's tracking writer, read by the
-- reconciler, reports and guarded promotion), the reason of the last status
-- change, and an index for `cutover audit FLOW`.

-- One row per flow per minute; the writer adds to it (upsert), so the table
-- grows with flows x minutes, never with messages. The latency_* columns are
-- histograms: consecutive little-endian uint32 counts of fixed half-octave
-- buckets of microseconds (see bridge/store.h, CUT_LAT_BUCKETS), trailing
-- empty buckets omitted.
CREATE TABLE tracking (
    flow             TEXT NOT NULL,
    minute           INTEGER NOT NULL, -- Unix time of the minute's start, in seconds
    seen             INTEGER NOT NULL DEFAULT 0,
    dual             INTEGER NOT NULL DEFAULT 0, -- seen while in a dual-write mode
    confirmed_legacy INTEGER NOT NULL DEFAULT 0,
    confirmed_kafka  INTEGER NOT NULL DEFAULT 0,
    confirmed_both   INTEGER NOT NULL DEFAULT 0,
    failed_legacy    INTEGER NOT NULL DEFAULT 0,
    failed_kafka     INTEGER NOT NULL DEFAULT 0,
    ledgered         INTEGER NOT NULL DEFAULT 0,
    dead_lettered    INTEGER NOT NULL DEFAULT 0,
    expired          INTEGER NOT NULL DEFAULT 0,
    filtered         INTEGER NOT NULL DEFAULT 0,
    latency_legacy   BLOB,
    latency_kafka    BLOB,
    PRIMARY KEY (flow, minute)
) WITHOUT ROWID;

ALTER TABLE flows ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';

CREATE INDEX audit_flow ON audit (flow, id);
