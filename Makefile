# plora — Make targets reproducing the original's workflow (spec pipelines.md §3).
# `make test` and `make dry-run-lite` are the two commands of the README; everything else is a
# thin wrapper over the `plora` CLI. Per-area targets live in mk/*.mk.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PNPM_VERSION := $(shell node -p "require('./package.json').packageManager.split('@')[1]")
PNPM := .tools/node_modules/.bin/pnpm
PNPM_STAMP := .tools/.pnpm-$(PNPM_VERSION)
PLORA := node packages/cli/bin/plora.js
SETUP_STAMP := node_modules/.plora-setup-stamp
WORKSPACE_MANIFESTS := package.json pnpm-workspace.yaml pnpm-lock.yaml $(wildcard packages/*/package.json)

# Config values, read through the CLI (printed as JSON lists like [4, 8, 16]).
cfg = $(shell $(PLORA) config get $(1) 2>/dev/null)
csv = $(shell $(PLORA) config get $(1) --csv 2>/dev/null)

.PHONY: help setup build test test-fast check lint typecheck bench clean config-use-dry config-use-full

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-26s %s\n", $$1, $$2}'

$(PNPM_STAMP):
	@echo "[setup] installing pnpm $(PNPM_VERSION) into .tools/ (project-local, no root or global install)"
	@rm -rf .tools && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error --prefix .tools pnpm@$(PNPM_VERSION)
	@touch $(PNPM_STAMP)

# The optional native GPU backend's install script fails offline with a stack trace; the filter
# turns that into one explanatory line (pnpm's exit status is kept).
$(SETUP_STAMP): $(PNPM_STAMP) $(WORKSPACE_MANIFESTS)
	@set -o pipefail; $(PNPM) install --frozen-lockfile 2>&1 | node scripts/pnpm-install-filter.mjs
	@touch $(SETUP_STAMP)

setup: $(SETUP_STAMP) build ## install pnpm and the locked dependencies, then build

build: $(SETUP_STAMP) ## compile every package (incremental)
	$(PNPM) run build

test: setup ## run the whole test suite (sets up first when needed)
	$(PNPM) run test

test-fast: setup ## the suite without *.slow.test.ts files
	$(PNPM) run test:fast

check: setup ## typecheck, lint, layer/cycle check and tests
	$(PNPM) run check

bench: setup ## run every package's benchmark (prints figures; slow)
	$(PNPM) -r --workspace-concurrency=1 --if-present run bench

typecheck: $(SETUP_STAMP)
	$(PNPM) run typecheck

lint: $(SETUP_STAMP)
	$(PNPM) run lint

config-use-dry: build ## make config/plora.dry.yml the active config
	$(PLORA) config use dry

config-use-full: build ## make config/plora.full.yml the active config
	$(PLORA) config use full

clean: ## remove build outputs (keeps results/ and out/; afterwards `make setup` or `make build`)
	rm -rf packages/*/dist packages/*/dist-test

-include mk/*.mk
