"""The RPA Worker: claims tasks over HTTP and runs them with handlers chosen by task type.

Which module is which:
- `main`: the worker process, handed typed settings by its composer (`autonomic.cli.worker`).
- `loop`: the claim loop and the slots (`Worker`); `reserve`: claimed tasks waiting for a slot;
  `leases`: one timer keeping every held lease; `outbox`: results on their way back, batched;
  `link`: the server's reachability; `liveness`: heartbeat file and server heartbeats;
  `failover`: several servers of one queue; `client`: the queue client the loop needs (a protocol).
- `execution`: one task under its timeout; `outcome`: its result data, `TaskFailed`, `Outcome`.
- `protocol`: what a handler is (`Handler`, `Registered`, `register`); `registry`: which handler
  runs which type; `handlers/`: the built-in handlers themselves.
- `context`: what a handler may use (`TaskContext`, shared `Resources`); `files`: where it may read
  and write; `browser_pool`, `actions`, `screen`, `vision`: the browser and desktop parts.
"""
