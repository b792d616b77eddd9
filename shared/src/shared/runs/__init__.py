"""The run lifecycle every service shares, one noun per module.

- `states`: the run states
- `model`: the run row's columns, attempts, priorities, time limits
- `kind`: RunKind, what the lifecycle needs to know about one service's runs
- `api`: the API side (enqueue with 409, stop, read, history)
- `lock`, `stop`: the per-run lock and the stop flag in Redis
- `worker`: the worker side (`run_attempt`: lock, claim or refuse, heartbeat, fencing, crash guard)
- `reaper`, `retention`, `jobs`: the system jobs (settle lost runs, delete old ones, report both)
"""
