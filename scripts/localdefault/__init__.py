"""The local default: a moto server and a PostgreSQL on free ports (`make up`, `make down`, `make clean`),
and the test certificate authority its PostgreSQL serves TLS with.

It is the bottom of the tooling: it imports only ``scripts`` (the shared paths), never ``scripts.release`` or
``scripts.tooling``, which both use it."""
