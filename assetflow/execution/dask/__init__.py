"""The Dask executor: a run's steps sent to a Dask distributed cluster.

`executor.py` is the coordinator's side (the client, the futures, cancellation),
`worker.py` the workers' side (the project loaded once per run, each step run in
a process forked from the Dask worker), `cluster.py` how the client is
connected or its local cluster started, `resources.py` pools as Dask resources
(`pool_resources`). Nothing here is imported unless a run asks for
`--executor dask`, so SQLite users never import Dask.
"""
