"""The local default: a moto server and a PostgreSQL on free ports (`make up`, `make down`, `make env`,
`make clean`), and the test certificate authority its PostgreSQL serves TLS with."""
