"""The Task Queue Server: durable tasks with leases, retries, dead letters and the original HTTP API."""
