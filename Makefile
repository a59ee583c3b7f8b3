# The single entry point. CI runs the same targets a person runs (see .ci/run).
# `make help` lists every target.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOCAL := .local
CHECKOV := .tools/checkov/bin/checkov
ENV ?= local
# The migrator package lives in lambda/ (a directory name Python cannot import), the tooling in scripts/.
export PYTHONPATH := $(CURDIR)/lambda:$(CURDIR)

# Air-gapped machines: point TF_PLUGIN_MIRROR at a Terraform provider mirror (the documented
# `provider_installation { filesystem_mirror }` CLI setting is generated from it). It defaults to
# /opt/tf-plugins when that folder exists; empty means "use the registry", as on a normal workstation.
TF_PLUGIN_MIRROR ?= $(wildcard /opt/tf-plugins)
ifneq ($(strip $(TF_PLUGIN_MIRROR)),)
export TF_CLI_CONFIG_FILE := $(CURDIR)/$(LOCAL)/terraform.rc
endif

# Values from the make command line reach the tools through the environment, byte for byte:
# $(value X) stops make from expanding `$` inside them, and no shell ever re-parses them.
RELEASE_VARS = COLOR ENV ALLOW_DESTROY AUTO_APPROVE SKIP_VERIFY ACTION STEPS TARGET SQL DRY_RUN \
	ALLOW_CONTRACT ALLOW_PRODUCTION_SEED VAR_FILE SQL_FILE ARCH NAME SERVING ALLOW_INCOMPATIBLE
$(foreach v,$(RELEASE_VARS),$(eval export KIT_$(v) = $$(value $(v))))
# Adopting another tool's history: make import-migrations FROM= DIR= [SEARCH_PATH= REWRITE=1 EXCLUDE=], make migrate ACTION=baseline FROM= TABLE=.
ADOPT_VARS = FROM TABLE DIR SEARCH_PATH REWRITE EXCLUDE
$(foreach v,$(ADOPT_VARS),$(eval export KIT_$(v) = $$(value $(v))))
# The progressive release's own variables (make release/rollback/status/history, make migrate's gate).
RELEASE_FLOW_VARS = BAKE MIGRATE FORMAT FORCE_CONTRACT VERBOSE MIN_REQUESTS ALLOW_SHORT_BAKE BREAK_LOCK \
	CONTRACT_QUIET_MINUTES ROUNDS
$(foreach v,$(RELEASE_FLOW_VARS),$(eval export KIT_$(v) = $$(value $(v))))

.PHONY: help
help: ## List every target with one line each
	@if [ -t 1 ]; then on=$$'\033[36m'; off=$$'\033[0m'; else on=; off=; fi; \
	awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / \
		{printf "  %s%-18s%s %s\n", on, $$1, off, $$2}' $(MAKEFILE_LIST)

# ------------------------------------------------------------------------------------------ setup

# Installers are quiet: their output (pip's index warnings, a hundred lines on a mirror) goes to a log that is
# shown only when the install fails.
$(VENV)/.installed: requirements-dev.txt lambda/migrator/requirements.txt
	@echo "==> installing Python dependencies into $(VENV): about a minute on a fresh clone (log: $(LOCAL)/install.log)"
	@mkdir -p $(LOCAL)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt > $(LOCAL)/install.log 2>&1 \
		|| { cat $(LOCAL)/install.log; echo "pip install failed: the log is above ($(LOCAL)/install.log)"; exit 1; }
	@touch $@

$(CHECKOV):
	@echo "==> installing checkov into .tools/checkov (its own venv: it pins an old boto3; log: $(LOCAL)/install-checkov.log)"
	@mkdir -p $(LOCAL)
	@$(PYTHON) -m venv .tools/checkov
	@.tools/checkov/bin/pip install -q --disable-pip-version-check checkov==3.3.30 > $(LOCAL)/install-checkov.log 2>&1 \
		|| { cat $(LOCAL)/install-checkov.log; echo "pip install of checkov failed: the log is above"; exit 1; }

$(LOCAL)/terraform.rc:
	@mkdir -p $(LOCAL)
	@printf 'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["registry.terraform.io/*/*"]\n  }\n}\n' \
		"$(TF_PLUGIN_MIRROR)" > $@

.PHONY: venv
venv: $(VENV)/.installed $(if $(strip $(TF_PLUGIN_MIRROR)),$(LOCAL)/terraform.rc) ## Install the Python tools (and the provider mirror setting, if any)

# ------------------------------------------------------------------------------- local default

.PHONY: up down env clean
up: venv ## Start the local default: moto server + PostgreSQL on free ports, state bucket and zone
	@$(PY) -m scripts.localdefault.localenv up

down: ## Stop the local default: moto keeps nothing (what was deployed and the Terraform state go), PostgreSQL's data stays until `make clean`
	@if [ -x $(PY) ]; then $(PY) -m scripts.localdefault.localenv down; fi

env: ## Export lines for plain terraform/aws/psql on the local default (no password printed): eval "$(make -s env)"
	@$(PY) -m scripts.release.environment

clean: down ## Stop everything and remove every generated file (.local, dist, .venv, .tools, terraform caches)
	@if [ -x $(PY) ]; then $(PY) -m scripts.localdefault.localenv clean; fi
	@rm -rf $(LOCAL) dist build .pytest_cache .ruff_cache .hypothesis $(VENV) .tools
	@find . -name .terraform -type d -prune -not -path './.venv/*' -exec rm -rf {} +
	@find . -name __pycache__ -type d -prune -not -path './.venv/*' -not -path './.tools/*' -exec rm -rf {} +

# ----------------------------------------------------------------------------------- migrator

.PHONY: build migrate statements traffic reports lint-migrations bench-migrations import-migrations
build: venv ## Build the Lambda package dist/migrator.zip [ARCH=x86_64|arm64] (reproducible, prints its size)
	@$(PY) -m scripts.tooling.build_lambda

migrate: venv ## Run ACTION=migrate|check|list|rollback|seed|sql|report|baseline|capture|statements [STEPS=n TARGET=id SQL=.. SQL_FILE=path|- NAME=report DRY_RUN=1 ALLOW_CONTRACT=1 SERVING=blue,green ALLOW_INCOMPATIBLE=1 FROM=tool TABLE=name FORMAT=json VERBOSE=1]
	@$(PY) -m scripts.release.migrate

statements: venv ## The statement inventory: what each colour's role really ran [COLOR=blue|green] [FORMAT=json]
	@$(PY) -m scripts.release.statements

traffic: venv ## Run COLOR's own query mix as its database role (the local default has no containers) [ROUNDS=3]
	@$(PY) -m scripts.release.traffic

reports: venv ## Named reports, run by `make migrate ACTION=report NAME=..`: locks activity indexes constraints columns sequences replication sizes
	@$(PY) -m scripts.release.reports

lint-migrations: venv ## Lint the forward SQL of every migration after the manifest's LINT_CUTOFF with squawk (exit 1: findings, 2: could not lint)
	@$(PY) -m scripts.tooling.lint_migrations

import-migrations: venv ## Import another tool's migrations into migrations/ and the manifest: FROM=golang-migrate|dbmate|flyway|goose DIR=path [SEARCH_PATH=schemas REWRITE=1 EXCLUDE=globs DRY_RUN=1]
	@$(PY) -m scripts.tooling.import_migrations

bench-migrations: up ## Benchmark the runner against yoyo, dbmate and the psql floor, and the compatibility check
	@$(PY) -m scripts.tooling.bench_migrations

# ------------------------------------------------------------------------------------- release

.PHONY: plan apply verify demo preflight release rollback release-unlock status history
preflight: build ## Before the first apply on an account: credentials, region, zone, state bucket, quota, runtime, images, egress, password [ENV=..]
	@$(PY) -m scripts.release.preflight

plan: venv ## Save a plan [COLOR=blue|green: written into the env tfvars] [ENV=local] and print its review
	@$(PY) -m scripts.release.switch plan

apply: venv ## Apply the saved plan (refuses a COLOR the env tfvars disagrees with; ALLOW_DESTROY=1, AUTO_APPROVE=1, SKIP_VERIFY=1)
	@$(PY) -m scripts.release.switch apply

verify: venv ## Check COLOR's stack before it takes traffic: deployed, tasks running, image, health, HTTP
	@$(PY) -m scripts.release.switch verify

release: venv ## Progressive release to COLOR [STEPS=10,50,100 BAKE=s MIGRATE=1 MIN_REQUESTS=200 AUTO_APPROVE=1]; resumes one started anywhere
	@$(PY) -m scripts.release.rollout release

rollback: venv ## All traffic back to the previous colour now: one Route 53 change, no plan, no lock (ends a release started anywhere)
	@$(PY) -m scripts.release.breakglass

release-unlock: venv ## Break a stale release lock (the holder is gone); journalled
	@$(PY) -m scripts.release.releasestate unlock

status: venv ## One screen: live colour (repo, state, Route 53), weights, images, tasks, alarms, migrations [FORMAT=json]
	@$(PY) -m scripts.release.status

history: venv ## The release journal of ENV, oldest first [FORMAT=json for JSON lines]
	@$(PY) -m scripts.release.journal

# The install's progress line stays visible (a fresh clone spends about a minute there); only `up`'s JSON
# line is dropped.
demo: ## The whole release flow on the local default, from a fresh clone, through terraform/env/local.tfvars
	@started=$$(date +%s); $(MAKE) -s venv && $(MAKE) -s up >/dev/null \
		&& KIT_DEMO_STARTED=$$started $(PY) -m scripts.release.demo

# ---------------------------------------------------------------------------------- quality

.PHONY: lint fmt test test-unit test-integration test-terraform test-e2e
lint: venv $(CHECKOV) lint-migrations ## ruff, terraform fmt/validate, checkov, actionlint, squawk
	@echo "==> ruff"
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@echo "==> terraform fmt, validate, checkov"
	@CHECKOV=$(CHECKOV) PYTHON=$(PY) scripts/tooling/tf_lint.sh
	@echo "==> actionlint"
	@$(VENV)/bin/actionlint .github/workflows/*.yml

fmt: venv ## Format Python and Terraform in place
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .
	@terraform fmt -recursive terraform modules tests/terraform

# Three workers: the end-to-end groups mostly wait on moto (the provider polls each record and load balancer)
# while the others plan, migrate and query; tests/conftest.py keeps what shares state on one worker and
# hands out the longest groups first (hence --no-loadscope-reorder: xdist would order groups by test count).
TEST_WORKERS ?= 3
test: lint up ## Everything CI runs: lint, unit, integration, terraform and the end-to-end release [TEST_WORKERS=3]
	@$(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=15

test-unit: venv ## Unit tests only (no services)
	@$(PY) -m pytest tests/unit

test-integration: up ## Integration tests (real PostgreSQL, moto)
	@$(PY) -m pytest tests/integration

test-terraform: up ## Plan-level tftest suites for every module and the root
	@$(PY) -m pytest tests/terraform

test-e2e: up ## The end-to-end release flow against the local default
	@$(PY) -m pytest tests/e2e
