"""Build, bench and lint: the migrator package (`make build`), the runner benchmark (`make
bench-migrations`), the migration linter (`make lint-migrations`) and the Terraform lint (`make lint`).

It may use the local default and the Lambda package, and it never imports ``scripts.release``; the
release flow may use it (a baseline moves the manifest's lint cut-off with ``manifest_file``)."""
