-- The yugaware metadata schema of the lab: tables, columns, types, constraints and index names shaped after YBA's
-- Flyway migrations (yugabyte/yugabyte-db managed/src/main/resources/db/migration/default_/{common,postgres}; the
-- SOURCE-AUDIT section 2.1). Only what the collection and the platform simulator use.
-- Column types: YBA's JSON_ALIAS migration ("json type wont work with combination of h2 and ebeans") makes
-- task_info.details, backup.backup_info and schedule.task_params `json` on PostgreSQL (no-op there: V15 already
-- created backup_info json). Index and constraint names are YBA's (pk_<table> from Ebean, ix_backup_task_uuid from
-- V18, task_info_parent_uuid_idx / customer_task_task_uuid_idx, unique_name_per_owner_per_customer from V164).
-- This is the task_info layout of YBA 2.18-2.20 (`details` json holds the task params and the errorString); the
-- newer layout (`details` renamed to `task_params`, a new nullable json `details` holding the YBAError) is laid by
-- task_params_layout.sql on top of this one (seed.rebuild_db(task_layout="task_params")).
CREATE TABLE IF NOT EXISTS schema_version (
    installed_rank integer PRIMARY KEY,
    version        varchar(50),
    description    varchar(200) NOT NULL,
    type           varchar(20) NOT NULL,
    script         varchar(1000) NOT NULL,
    checksum       integer,
    installed_by   varchar(100) NOT NULL,
    installed_on   timestamp NOT NULL DEFAULT now(),
    execution_time integer NOT NULL,
    success        boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS schema_version_s_idx ON schema_version (success);

CREATE TABLE IF NOT EXISTS customer (
    id            bigserial CONSTRAINT pk_customer PRIMARY KEY,
    uuid          uuid NOT NULL CONSTRAINT uq_customer_uuid UNIQUE,
    code          varchar(15) NOT NULL,
    name          varchar(256) NOT NULL,
    creation_date timestamp NOT NULL DEFAULT now()
);

-- YBA keeps API tokens on its users; the simulator authenticates X-AUTH-YW-API-TOKEN against this table.
CREATE TABLE IF NOT EXISTS users (
    uuid          uuid CONSTRAINT pk_users PRIMARY KEY,
    customer_uuid uuid NOT NULL,
    email         varchar(256) NOT NULL CONSTRAINT uq_users_email UNIQUE,
    role          varchar(30) NOT NULL DEFAULT 'SuperAdmin',
    api_token     varchar(255),
    creation_date timestamp NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS universe (
    universe_uuid         uuid CONSTRAINT pk_universe PRIMARY KEY,
    customer_id           bigint NOT NULL REFERENCES customer (id),
    name                  varchar(256) NOT NULL,
    version               integer NOT NULL DEFAULT 1,
    creation_date         timestamp NOT NULL DEFAULT now(),
    universe_details_json text NOT NULL,
    swamper_config_written boolean NOT NULL DEFAULT true,
    CONSTRAINT uq_universe_name_customer_id UNIQUE (name, customer_id)
);

-- customer_config.data: V14 created it `json not null`; YBA's later encryption migration turned it into
-- `bytea` (ALTER COLUMN data TYPE bytea USING pgp_sym_encrypt(data::text, ...)), ciphertext, never JSON. The lab
-- keeps its own ciphertext (ybalab.platform.crypto) as text: neither json (it is not JSON) nor bytea (the simulator
-- reads a string). The collection never reads this column.
CREATE TABLE IF NOT EXISTS customer_config (
    config_uuid   uuid CONSTRAINT pk_customer_config PRIMARY KEY,
    customer_uuid uuid NOT NULL,
    type          varchar(25) NOT NULL,
    name          varchar(100) NOT NULL,
    config_name   varchar(100) NOT NULL,
    data          text NOT NULL,          -- encrypted by the platform; never plaintext
    state         varchar(50) NOT NULL DEFAULT 'Active'
);

CREATE TABLE IF NOT EXISTS task_info (
    uuid                uuid CONSTRAINT pk_task_info PRIMARY KEY,
    parent_uuid         uuid,
    position            integer DEFAULT -1,
    task_type           varchar(64) NOT NULL,
    task_state          varchar(64) NOT NULL,
    sub_task_group_type varchar(64),
    create_time         timestamp NOT NULL DEFAULT now(),
    update_time         timestamp NOT NULL DEFAULT now(),
    percent_done        integer DEFAULT 0,
    details             json NOT NULL DEFAULT '{}',
    owner               varchar(255)
);
CREATE INDEX IF NOT EXISTS task_info_parent_uuid_idx ON task_info (parent_uuid);

CREATE TABLE IF NOT EXISTS customer_task (
    id               bigserial CONSTRAINT pk_customer_task PRIMARY KEY,
    customer_uuid    uuid NOT NULL,
    task_uuid        uuid NOT NULL,
    type             varchar(50) NOT NULL,
    target_type      varchar(50) NOT NULL,
    target_name      varchar(255) NOT NULL,
    target_uuid      uuid NOT NULL,
    create_time      timestamp NOT NULL DEFAULT now(),
    completion_time  timestamp,
    custom_type_name varchar(255),
    correlation_id   varchar(255),
    user_email       varchar(255)
);
CREATE INDEX IF NOT EXISTS customer_task_task_uuid_idx ON customer_task (task_uuid);

-- V164: owner_uuid (the universe, else the customer) and schedule_name NOT NULL, unique per owner per customer.
-- V165: frequency_time_unit defaults to 'Minutes', CHECKed against java.util.concurrent.TimeUnit-like names.
CREATE TABLE IF NOT EXISTS schedule (
    schedule_uuid         uuid CONSTRAINT pk_schedule PRIMARY KEY,
    customer_uuid         uuid NOT NULL,
    owner_uuid            uuid NOT NULL,
    schedule_name         varchar(255) NOT NULL,
    task_type             varchar(50) NOT NULL,
    task_params           json NOT NULL,
    frequency             bigint,
    frequency_time_unit   varchar(50) DEFAULT 'Minutes'
        CONSTRAINT ck_frequency_time_unit CHECK (frequency_time_unit IN ('NanoSeconds', 'MicroSeconds',
            'MilliSeconds', 'Seconds', 'Minutes', 'Hours', 'Days', 'Months', 'Years')),
    cron_expression       varchar(255),
    status                varchar(10) NOT NULL DEFAULT 'Active'
        CHECK (status IN ('Creating', 'Editing', 'Deleting', 'Active', 'Paused', 'Stopped', 'Error')),
    failure_count         integer NOT NULL DEFAULT 0,
    next_schedule_task_time timestamp,
    next_increment_schedule_task_time timestamp,
    backlog_status        boolean DEFAULT false,
    increment_backlog_status boolean DEFAULT false,
    running_state         boolean DEFAULT false,
    user_email            varchar(255),
    CONSTRAINT unique_name_per_owner_per_customer UNIQUE (customer_uuid, owner_uuid, schedule_name)
);

-- V15 (pk_backup, backup_info json), V18 (task_uuid + UNIQUE INDEX ix_backup_task_uuid), V148 (universe_uuid and
-- storage_config_uuid NOT NULL), V144 (category, version), V165 (expiry_time_unit CHECK), V264 (has_kms_history).
CREATE TABLE IF NOT EXISTS backup (
    backup_uuid         uuid CONSTRAINT pk_backup PRIMARY KEY,
    customer_uuid       uuid NOT NULL,
    universe_uuid       uuid NOT NULL,
    storage_config_uuid uuid NOT NULL,
    universe_name       varchar(255),
    backup_info         json NOT NULL,
    state               varchar(50) NOT NULL
        CHECK (state IN ('In Progress', 'Completed', 'Failed', 'Deleted', 'Skipped', 'FailedToDelete',
                         'Stopping', 'Stopped', 'QueuedForDeletion', 'QueuedForForcedDeletion',
                         'DeleteInProgress')),
    task_uuid           uuid,
    schedule_uuid       uuid,
    schedule_name       varchar(255),
    expiry              timestamp,
    expiry_time_unit    varchar(50)
        CONSTRAINT ck_expiry_time_unit CHECK (expiry_time_unit IN ('NanoSeconds', 'MicroSeconds', 'MilliSeconds',
            'Seconds', 'Minutes', 'Hours', 'Days', 'Months', 'Years')),
    create_time         timestamp NOT NULL,
    update_time         timestamp,
    completion_time     timestamp,
    category            varchar(50) NOT NULL DEFAULT 'YB_BACKUP_SCRIPT'
        CHECK (category IN ('YB_BACKUP_SCRIPT', 'YB_CONTROLLER')),
    version             varchar(50) NOT NULL DEFAULT 'V1' CHECK (version IN ('V1', 'V2')),
    base_backup_uuid    uuid NOT NULL,
    has_kms_history     boolean DEFAULT false,
    retry_count         integer DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_backup_task_uuid ON backup (task_uuid);

-- Restores (models/Restore.java, models/RestoreKeyspace.java; YBA's restore and restore_keyspace tables): written
-- by the simulator's restore task (platform/tasks.py Workers.submit_restore), read by POST restore/page and by
-- GET universes/{u}/tables (which keyspaces a restore created on a universe). States as the @EnumValue of
-- Restore.State / RestoreKeyspace.State: "In Progress" in the DB, the enum's name InProgress in the API.
CREATE TABLE IF NOT EXISTS restore (
    restore_uuid          uuid CONSTRAINT pk_restore PRIMARY KEY,
    customer_uuid         uuid NOT NULL,
    universe_uuid         uuid NOT NULL,
    task_uuid             uuid NOT NULL,
    source_universe_uuid  uuid,
    storage_config_uuid   uuid,
    source_universe_name  varchar(255),
    storage_location      text,
    restore_size_in_bytes bigint DEFAULT 0,
    state                 varchar(50) NOT NULL
        CHECK (state IN ('Created', 'In Progress', 'Completed', 'Failed', 'Aborted')),
    create_time           timestamp NOT NULL DEFAULT now(),
    update_time           timestamp NOT NULL DEFAULT now(),
    backup_created_on_date timestamp
);
CREATE TABLE IF NOT EXISTS restore_keyspace (
    uuid                  uuid CONSTRAINT pk_restore_keyspace PRIMARY KEY,
    restore_uuid          uuid NOT NULL,
    task_uuid             uuid NOT NULL,
    source_keyspace       varchar(255),
    storage_location      text,
    target_keyspace       varchar(255),
    table_name_list       json,
    state                 varchar(50) NOT NULL
        CHECK (state IN ('Created', 'In Progress', 'Completed', 'Failed', 'Aborted')),
    create_time           timestamp NOT NULL DEFAULT now(),
    complete_time         timestamp,
    backup_size_from_storage_location bigint DEFAULT 0
);
