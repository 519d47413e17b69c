-- Seed for the metadb_repair benchmark and tests (psql variables: rows, stale), on tests/lab/ybalab/schema.sql.
-- :rows backups over 4 universes; the first :stale are 'In Progress' with a finished (Failure) task, the next one
-- is 'In Progress' with a live Running task; the rest Completed. Plus one stale Running task tree (parent +
-- Created subtask, 2 days old) with its customer_task, a 'DeleteInProgress' backup with no task row,
-- a Paused schedule, an expired Completed backup and a FailedToDelete backup (expiry in the future: the GC gave
-- up on it). json columns get json values, time units their V165 form. Set-based: generate_series.
INSERT INTO customer (id, uuid, code, name) VALUES (1, '00000000-0000-0000-0000-0000000000c1', 'nw', 'Northgate');
INSERT INTO universe (universe_uuid, customer_id, name, universe_details_json)
SELECT ('00000000-0000-0000-0000-0000000001' || lpad(g::text, 2, '0'))::uuid, 1, 'u' || g, '{}'
  FROM generate_series(1, 4) g;
INSERT INTO customer_config (config_uuid, customer_uuid, type, name, config_name, data)
VALUES ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-0000000000c1', 'STORAGE', 'S3', 's3', 'x');
INSERT INTO task_info (uuid, task_type, task_state, create_time, update_time, details)
SELECT md5('t' || g)::uuid, 'CreateBackup',
       CASE WHEN g <= :stale THEN 'Failure' WHEN g = :stale + 1 THEN 'Running' ELSE 'Success' END,
       now() - (g || ' seconds')::interval,
       CASE WHEN g = :stale + 1 THEN now() ELSE now() - (g || ' seconds')::interval END,
       (CASE WHEN g <= :stale THEN '{"errorString": "S3 unreachable"}' ELSE '{}' END)::json
  FROM generate_series(1, :rows) g;
INSERT INTO backup (backup_uuid, customer_uuid, universe_uuid, storage_config_uuid, universe_name, backup_info, state,
                    task_uuid, create_time, update_time, completion_time, base_backup_uuid, expiry)
SELECT md5('b' || g)::uuid, '00000000-0000-0000-0000-0000000000c1',
       ('00000000-0000-0000-0000-0000000001' || lpad((g % 4 + 1)::text, 2, '0'))::uuid,
       '00000000-0000-0000-0000-0000000000d1', 'u' || (g % 4 + 1),
       ('{"storageLocation": "s3://yba-backups/univ-' || (g % 4 + 1) || '/backup-' || g || '", "backupList": []}')::json,
       CASE WHEN g <= :stale + 1 THEN 'In Progress' ELSE 'Completed' END,
       md5('t' || g)::uuid, now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval,
       CASE WHEN g > :stale + 1 THEN now() - (g || ' seconds')::interval END, md5('b' || g)::uuid,
       CASE WHEN g > :stale + 1 THEN now() + interval '30 days' END
  FROM generate_series(1, :rows) g;
INSERT INTO task_info (uuid, parent_uuid, task_type, task_state, create_time, update_time) VALUES
  ('00000000-0000-0000-0000-00000000aaaa', NULL, 'CreateBackup', 'Running', now() - interval '2 days', now() - interval '2 days'),
  ('00000000-0000-0000-0000-00000000aaab', '00000000-0000-0000-0000-00000000aaaa', 'BackupTable', 'Created',
   now() - interval '2 days', now() - interval '2 days');
INSERT INTO customer_task (customer_uuid, task_uuid, type, target_type, target_name, target_uuid)
VALUES ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-00000000aaaa', 'Create', 'Backup', 'u1',
        '00000000-0000-0000-0000-000000000101');
INSERT INTO backup (backup_uuid, customer_uuid, universe_uuid, storage_config_uuid, universe_name, backup_info, state,
                    task_uuid, create_time, base_backup_uuid, expiry, expiry_time_unit)
VALUES ('00000000-0000-0000-0000-00000000bbbb', '00000000-0000-0000-0000-0000000000c1',
        '00000000-0000-0000-0000-000000000101', '00000000-0000-0000-0000-0000000000d1', 'u1', '{}', 'DeleteInProgress',
        '00000000-0000-0000-0000-00000000dddd', now() - interval '3 days', '00000000-0000-0000-0000-00000000bbbb', NULL,
        NULL),
       ('00000000-0000-0000-0000-00000000bbbc', '00000000-0000-0000-0000-0000000000c1',
        '00000000-0000-0000-0000-000000000102', '00000000-0000-0000-0000-0000000000d1', 'u2', '{}', 'Completed',
        NULL, now() - interval '40 days', '00000000-0000-0000-0000-00000000bbbc', now() - interval '10 days', 'Days'),
       ('00000000-0000-0000-0000-00000000bbbd', '00000000-0000-0000-0000-0000000000c1',
        '00000000-0000-0000-0000-000000000103', '00000000-0000-0000-0000-0000000000d1', 'u3', '{}', 'FailedToDelete',
        NULL, now() - interval '400 days', '00000000-0000-0000-0000-00000000bbbd', now() + interval '10 days', 'Days');
INSERT INTO schedule (schedule_uuid, customer_uuid, owner_uuid, schedule_name, task_type, task_params,
                      frequency, frequency_time_unit, status, failure_count)
VALUES (md5('s1')::uuid, '00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-000000000101', 'daily-u1',
        'CreateBackup', '{"universeUUID": "00000000-0000-0000-0000-000000000101"}', 86400000, 'Days', 'Paused', 3);
INSERT INTO schema_version VALUES (1, '1', 'init', 'SQL', 'V1__init.sql', 0, 'postgres', now(), 1, true);
ANALYZE;
