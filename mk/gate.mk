# Gate targets (spec pipelines.md §3.1/§3.2/§14): print the effective gate policy, check one adapter,
# benchmark the gate. Knobs as the original's Makefile: POLICY (policy JSON), TARGETS (allowed-targets
# file), RANKS (csv, e.g. 4,8,16), SIG (on|off); optional flags are passed only when set. ADAPTER is the
# folder `gate-check` checks (its decision is appended to results/audit/gate_audit.jsonl).

POLICY ?=
TARGETS ?=
RANKS ?=
SIG ?= off
ADAPTER ?= out/legal

.PHONY: dump-policy gate-check bench-gate

dump-policy: build ## print the effective gate policy as JSON (POLICY= TARGETS= RANKS= SIG=off)
	@$(PLORA) dump-policy $(if $(POLICY),--policy-file $(POLICY)) $(if $(TARGETS),--allowed-targets-file $(TARGETS)) $(if $(RANKS),--allowed-ranks $(RANKS)) --signatures $(SIG)

gate-check: build ## gate one adapter folder and print the decision JSON (ADAPTER=out/legal POLICY= RANKS= SIG=off)
	$(PLORA) gate check --adapter-dir $(ADAPTER) $(if $(POLICY),--policy-file $(POLICY)) $(if $(TARGETS),--allowed-targets-file $(TARGETS)) $(if $(RANKS),--allowed-ranks $(RANKS)) --signatures $(SIG)

bench-gate: ## gate time per adapter without probes (weight statistics, hashing, signatures)
	cd packages/gate && ../../node_modules/.bin/vitest bench --run
