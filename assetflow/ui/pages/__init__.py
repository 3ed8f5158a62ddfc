"""The UI's pages, one module per family, each with `routes()`."""
