"""The PostgreSQL store, for several queue servers sharing one database.

Split by job: `store` (the facade), `commands`, `reads` (lookups, pages, retention, the worker
registry), `engine` (transitions), `schema` (numbered migrations under an advisory lock), `listener`
(LISTEN/NOTIFY between servers), `url` (parsing and redaction). Only `store`, `engine`, `schema` and
`listener` import the driver (psycopg, psycopg_pool): `url` is safe to import anywhere, and this
package imports nothing, so `autonomic.queue.store.postgres.url` never pulls the driver in.
"""
