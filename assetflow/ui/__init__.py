"""The web UI: `assetflow ui` serves the lineage, assets, runs, schedules and incidents.

Pages are rendered on the server (Jinja2) from the same data the CLI prints,
read through the services; each page has a JSON twin under `/api/`. Everything
it needs (CSS, JavaScript) ships in this package: nothing is loaded from the
internet. Nothing here is imported unless the `ui` command runs.
"""
