"""Build, bench and lint: the migrator package (`make build`), the runner benchmark (`make
bench-migrations`), the migration linter (`make lint-migrations`) and the Terraform lint (`make lint`).

It may use the local default and the Lambda package; nothing imports it, and it never imports
``scripts.release``."""
