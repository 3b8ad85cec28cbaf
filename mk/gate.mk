# Gate targets (spec pipelines.md §3.1/§3.2/§14): print the effective gate policy, check one adapter,
# benchmark the gate. Knobs as the original's Makefile: POLICY (policy JSON), TARGETS (allowed-targets
# file), RANKS (csv, e.g. 4,8,16), SIG (on|off); optional flags are passed only when set. ADAPTER is the
# folder `gate-check` checks (its decision is appended to results/audit/gate_audit.jsonl).

POLICY ?=
TARGETS ?=
RANKS ?=
SIG ?= off
ADAPTER ?= out/legal

# Gate study: CLEAN/POISONED adapters in total (half calibrate, half evaluate), trained once into
# results/gate_population and reused by both targets.
CLEAN ?= 40
POISONED ?= 40

.PHONY: dump-policy gate-check bench-gate probes-calib gate-eval

dump-policy: build ## print the effective gate policy as JSON (POLICY= TARGETS= RANKS= SIG=off)
	@$(PLORA) dump-policy $(if $(POLICY),--policy-file $(POLICY)) $(if $(TARGETS),--allowed-targets-file $(TARGETS)) $(if $(RANKS),--allowed-ranks $(RANKS)) --signatures $(SIG)

gate-check: build ## gate one adapter folder and print the decision JSON (ADAPTER=out/legal POLICY= RANKS= SIG=off)
	$(PLORA) gate check --adapter-dir $(ADAPTER) $(if $(POLICY),--policy-file $(POLICY)) $(if $(TARGETS),--allowed-targets-file $(TARGETS)) $(if $(RANKS),--allowed-ranks $(RANKS)) --signatures $(SIG)

bench-gate: ## gate time per adapter without probes (weight statistics, hashing, signatures)
	cd packages/gate && ../../node_modules/.bin/vitest bench --run

probes-calib: build ## calibrate the gate on clean + poisoned adapters: results/gate-ref.json, results/probes_calib.json (CLEAN=40 POISONED=40)
	$(PLORA) probes calibrate --clean $(CLEAN) --poisoned $(POISONED)

gate-eval: probes-calib ## evaluate the calibrated gate on the held-out half: results/gate_eval.json and .md
	$(PLORA) gate eval --clean $(CLEAN) --poisoned $(POISONED)
