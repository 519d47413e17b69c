-- The yugaware metadata schema of the lab: tables, columns and state values shaped after YBA's
-- (shared/yba/FACTS.md section 3). Only what the collection and the platform simulator use.
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
    id            bigserial PRIMARY KEY,
    uuid          uuid NOT NULL UNIQUE,
    code          varchar(15) NOT NULL,
    name          varchar(256) NOT NULL,
    creation_date timestamp NOT NULL DEFAULT now()
);

-- YBA keeps API tokens on its users; the simulator authenticates X-AUTH-YW-API-TOKEN against this table.
CREATE TABLE IF NOT EXISTS users (
    uuid          uuid PRIMARY KEY,
    customer_uuid uuid NOT NULL,
    email         varchar(256) NOT NULL UNIQUE,
    role          varchar(30) NOT NULL DEFAULT 'SuperAdmin',
    api_token     varchar(255),
    creation_date timestamp NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS universe (
    universe_uuid         uuid PRIMARY KEY,
    customer_id           bigint NOT NULL REFERENCES customer (id),
    name                  varchar(256) NOT NULL,
    version               integer NOT NULL DEFAULT 1,
    creation_date         timestamp NOT NULL DEFAULT now(),
    universe_details_json text NOT NULL,
    swamper_config_written boolean NOT NULL DEFAULT true
);

CREATE TABLE IF NOT EXISTS customer_config (
    config_uuid   uuid PRIMARY KEY,
    customer_uuid uuid NOT NULL,
    type          varchar(25) NOT NULL,
    name          varchar(100) NOT NULL,
    config_name   varchar(100) NOT NULL,
    data          text NOT NULL,          -- encrypted by the platform; never plaintext
    state         varchar(50) NOT NULL DEFAULT 'Active'
);

CREATE TABLE IF NOT EXISTS task_info (
    uuid                uuid PRIMARY KEY,
    parent_uuid         uuid,
    position            integer DEFAULT -1,
    task_type           varchar(64) NOT NULL,
    task_state          varchar(64) NOT NULL,
    sub_task_group_type varchar(64),
    create_time         timestamp NOT NULL DEFAULT now(),
    update_time         timestamp NOT NULL DEFAULT now(),
    percent_done        integer DEFAULT 0,
    details             text NOT NULL DEFAULT '{}',
    owner               varchar(255)
);
CREATE INDEX IF NOT EXISTS task_info_parent_idx ON task_info (parent_uuid);

CREATE TABLE IF NOT EXISTS customer_task (
    id               bigserial PRIMARY KEY,
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

CREATE TABLE IF NOT EXISTS schedule (
    schedule_uuid         uuid PRIMARY KEY,
    customer_uuid         uuid NOT NULL,
    owner_uuid            uuid,
    schedule_name         varchar(255) NOT NULL,
    task_type             varchar(50) NOT NULL,
    task_params           text NOT NULL,
    frequency             bigint,
    frequency_time_unit   varchar(20),
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
    UNIQUE (schedule_name, customer_uuid, owner_uuid)
);

CREATE TABLE IF NOT EXISTS backup (
    backup_uuid         uuid PRIMARY KEY,
    customer_uuid       uuid NOT NULL,
    universe_uuid       uuid,
    storage_config_uuid uuid,
    universe_name       varchar(255),
    backup_info         text NOT NULL,
    state               varchar(50) NOT NULL
        CHECK (state IN ('In Progress', 'Completed', 'Failed', 'Deleted', 'Skipped', 'FailedToDelete',
                         'Stopping', 'Stopped', 'QueuedForDeletion', 'QueuedForForcedDeletion',
                         'DeleteInProgress')),
    task_uuid           uuid,
    schedule_uuid       uuid,
    schedule_name       varchar(255),
    expiry              timestamp,
    expiry_time_unit    varchar(50),
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
CREATE UNIQUE INDEX IF NOT EXISTS uq_backup_task_uuid ON backup (task_uuid);
CREATE INDEX IF NOT EXISTS ix_backup_customer_state ON backup (customer_uuid, state);
CREATE INDEX IF NOT EXISTS ix_backup_universe_create_time ON backup (universe_uuid, create_time);
CREATE INDEX IF NOT EXISTS ix_backup_schedule ON backup (schedule_uuid);
