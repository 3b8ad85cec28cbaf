# Gate targets (spec pipelines.md §3.1/§3.2/§14): print the effective gate policy, check one adapter,
# benchmark the gate. Knobs as the original's Makefile: POLICY (policy JSON), TARGETS (allowed-targets
# file), RANKS (csv, e.g. 4,8,16), SIG (on|off); optional flags are passed only when set. ADAPTER is the
# folder `gate-check` checks (its decision is appended to results/audit/gate_audit.jsonl).

POLICY ?=
TARGETS ?=
RANKS ?=
SIG ?= off
ADAPTER ?= out/legal

# Gate study (issue 20): CLEAN/POISONED adapters in total (half calibrate, half evaluate; ranks 4/8,
# schemes all/attention, poison rates 0.05–0.3), trained once into results/gate_population on
# WORKERS threads and reused by both targets; GATE_FP is the false-positive target of the thresholds.
CLEAN ?= 100
POISONED ?= 100
GATE_FP ?= 0.01
WORKERS ?= $(shell node -p "require('os').availableParallelism()")

.PHONY: dump-policy gate-check bench-gate probes-calib gate-eval

dump-policy: build ## print the effective gate policy as JSON (POLICY= TARGETS= RANKS= SIG=off)
	@$(PLORA) dump-policy $(if $(POLICY),--policy-file $(POLICY)) $(if $(TARGETS),--allowed-targets-file $(TARGETS)) $(if $(RANKS),--allowed-ranks $(RANKS)) --signatures $(SIG)

gate-check: build ## gate one adapter folder and print the decision JSON (ADAPTER=out/legal POLICY= RANKS= SIG=off)
	$(PLORA) gate check --adapter-dir $(ADAPTER) $(if $(POLICY),--policy-file $(POLICY)) $(if $(TARGETS),--allowed-targets-file $(TARGETS)) $(if $(RANKS),--allowed-ranks $(RANKS)) --signatures $(SIG)

bench-gate: ## gate time per adapter without probes (weight statistics, hashing, signatures)
	cd packages/gate && ../../node_modules/.bin/vitest bench --run

probes-calib: build ## calibrate the gate on clean + poisoned adapters: results/gate-ref.json, results/probes_calib.json (CLEAN=100 POISONED=100 GATE_FP=0.01 WORKERS=cores)
	$(PLORA) probes calibrate --clean $(CLEAN) --poisoned $(POISONED) --target-fp $(GATE_FP) --workers $(WORKERS)

gate-eval: probes-calib ## evaluate the calibrated gate on the held-out half: results/gate_eval.{json,md}, TDC metrics (AUROC, AUPR, FPR@95 % recall)
	$(PLORA) gate eval --clean $(CLEAN) --poisoned $(POISONED) --target-fp $(GATE_FP) --workers $(WORKERS)
