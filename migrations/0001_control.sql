-- 0001: control data of the state store: flows and their status, modes
-- (flow level and message-type overrides), global settings, the audit log
-- and the repair ledger. Applied by cutover at open and by `cutover db
-- migrate`, inside one transaction together with its schema_version row.
-- Never edit a migration that has shipped: add the next number instead.

-- Every flow the store knows: registered from the config by the bridge at
-- start, or by the CLI with -c, or when its mode is first set.
CREATE TABLE flows (
    name              TEXT PRIMARY KEY NOT NULL,
    status            TEXT NOT NULL DEFAULT 'PENDING'
                      CHECK (status IN ('PENDING', 'IN_PROGRESS', 'COMPLETED', 'ROLLED_BACK')),
    status_changed_at TEXT NOT NULL, -- UTC, ISO 8601 with milliseconds
    created_at        TEXT NOT NULL
);

-- Mode of a flow (msg_type '') and per-message-type overrides. A flow with
-- no row here takes the global default (settings.default_mode), then JMS_ONLY.
CREATE TABLE modes (
    flow       TEXT NOT NULL REFERENCES flows (name),
    msg_type   TEXT NOT NULL DEFAULT '',
    mode       TEXT NOT NULL CHECK (mode IN ('JMS_ONLY', 'DUAL_WRITE_JMS_PRIMARY',
                                             'DUAL_WRITE_KAFKA_PRIMARY', 'KAFKA_ONLY')),
    changed_at TEXT NOT NULL,
    PRIMARY KEY (flow, msg_type)
) WITHOUT ROWID;

-- Global settings; key 'default_mode' is the global default mode.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Who changed what, when and why. Written in the same transaction as the
-- change itself. from_value / to_value: NULL means "no own setting" (the
-- level inherits from the one above).
CREATE TABLE audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    flow       TEXT,
    msg_type   TEXT,
    what       TEXT NOT NULL CHECK (what IN ('mode', 'status', 'rollback', 'default')),
    from_value TEXT,
    to_value   TEXT,
    reason     TEXT NOT NULL DEFAULT ''
);

-- The repair ledger: secondary writes that failed after the primary was
-- confirmed, with everything needed to replay them (`cutover repair`).
CREATE TABLE ledger (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    flow        TEXT NOT NULL,
    side        TEXT NOT NULL CHECK (side IN ('kafka', 'legacy')),
    message_id  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    payload     BLOB,         -- the body as sent (Kafka: the record value)
    headers     BLOB,         -- the rest, as the router encoded it: Kafka topic, key and
                              -- headers, or the legacy envelope (cutover/msgcodec.h)
    attempts    INTEGER NOT NULL DEFAULT 0,
    repaired_at TEXT
);
CREATE INDEX ledger_open ON ledger (flow, side, id) WHERE repaired_at IS NULL;
