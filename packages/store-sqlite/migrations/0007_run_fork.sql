-- 0007_run_fork: the fork link of a run made by `POST /v1/runs/{runId}:fork`, as JSON
-- `{sourceRunId, fromSeq, mode}` (mode `replay` or `branch`); null for every other run. The
-- engine reads it when it loads the run (a replay fork serves its effects from the source's
-- invocation log) and outbound delivery reads it to suppress a replay fork's events.

ALTER TABLE runs ADD COLUMN fork_json TEXT;
