"""The services: what the CLI, the Python API, the UI and the scheduler call.

Each service takes a loaded project, a `RunRequest` where a run is concerned,
and an injected store and clock; it returns data (records and view models),
never text. The layers below (planner, execution, io, store) know nothing of
who calls them; the layers above (api, cli, views and the wings) render or
schedule what the services return.

- `stores`: opening a project's metadata store, and sweeping crashed runs.
- `planning`: reading the store into a snapshot, code fingerprints, `make_plan`.
- `running`: `materialize` and `check`, through one run lifecycle.
- `history`: runs, one run's steps, logs, an asset's history, status.
"""
