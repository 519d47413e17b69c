-- The newer task_info layout of YBA, on top of schema.sql, exactly as YBA's own migration does it (common
-- migration "Rename the column to skip update of values"):
--   ALTER TABLE task_info RENAME COLUMN details to task_params;  ALTER TABLE task_info ADD COLUMN details JSON_ALIAS;
-- From then on `task_params` (json, NOT NULL) holds the task's params, and `details` (json, NULL) holds
-- models.helpers.TaskDetails, whose `error` is a YBAError {code, message, originMessage}
-- (CustomerTaskManager.setTaskError: YBAError(Code.PLATFORM_RESTARTED, "Platform restarted.")).
-- Rows written before the upgrade keep their old errorString inside task_params.
-- The lab's platform simulator writes the older layout only: use this in throw-away databases (the collection's
-- PostgreSQL tests), not under a running simulator.
ALTER TABLE task_info RENAME COLUMN details TO task_params;
ALTER TABLE task_info ADD COLUMN details json;
