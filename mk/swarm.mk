# Swarm / theory targets (spec pipelines.md §3.2; swarm.md §8, §12). Thin wrappers over `plora`.
# Config values flow in through `$(call cfg,…)` / `$(call csv,…)` from the root Makefile.

SWEEP_RESUME ?= on

.PHONY: swarm-v2-smoke swarm-v2-population swarm-v2-eval validate-bounds calibrate-c calibrate-c-er calibrate-c-ws calibrate-c-ba \
	thesis-sweep thesis-sweep-full consensus-smoke bench-lambda2 bench-million swarm-sim swarm-sim-faults

swarm-v2-population: build ## swarm v2 on the gate population's real adapters (run probes-calib first), 30 agents, 10 rounds → results/swarm_population/
	$(PLORA) swarm v2 --adapters population --agents 30 --rounds 10 --graph_p $(call cfg,graph.p) \
		--trojan_rate $(call cfg,swarm.trojan_rate) --seed 42 --report_dir results/swarm_population

swarm-sim: build ## the original's v1 swarm as 5 real plora node processes on a line over gRPC, compared with the simulator → results/swarm_graph_report_line_42.json
	$(PLORA) swarm sim --topology line --agents 5 --mode full --max-rounds 10 --results-dir results

swarm-sim-faults: build ## 12 node processes, mTLS, 30 % trojans, node 3 killed and restarted, nodes 0–1 partitioned → results/swarm_graph_report_erdos_renyi_7.json
	$(PLORA) swarm sim --topology er --graph-p 0.35 --agents 12 --seed 7 --trojan-rate 0.3 --mode full --max-rounds 8 \
		--tls --kill 3:1:1500 --partition 0:1:1:4 --results-dir results

swarm-v2-smoke: build ## swarm v2, 6 agents, 5 rounds, security on (adapters from out/, else synthetic) → results/swarm_v2_report_seed42.json
	$(PLORA) swarm v2 --agents 6 --rounds 5 --graph_p $(call cfg,graph.p) --security on \
		--trojan_rate $(call cfg,swarm.trojan_rate) --history-alias results/history.json --adapters_dir out --report_dir results

swarm-v2-eval: build ## summarise results/swarm_*report_*.json → results/summary_v2.json
	$(PLORA) swarm evaluate --reports results --out results/summary_v2.json

validate-bounds: build ## λ2, Cheeger bracket, conductance, observed diffusion on ER → results/bounds_validation.json
	$(PLORA) validate-bounds --ns 20,40,80,160 --p $(call cfg,graph.p) --seed 42 --out results/bounds_validation.json

calibrate-c: calibrate-c-er calibrate-c-ws calibrate-c-ba ## calibrate C for ER, WS and BA → results/c_calib_{er,ws,ba}.json

calibrate-c-er calibrate-c-ws calibrate-c-ba: calibrate-c-%: build
	$(PLORA) calibrate-c --topology $* --ns 20,40,80,160 --p $(call cfg,graph.p) --rounds 20 --seed 42 \
		--out results/c_calib_$*.json

thesis-sweep: build ## thesis grid ER/WS/BA × n 20..160 × config seeds × trojan 0/0.3 → results/thesis_sweep.jsonl
	$(PLORA) sweep --topos er,ws,ba --ns 20,40,80,160 --seeds $(call csv,value_add.seeds) --p $(call cfg,graph.p) \
		--rounds 6 --trojan_rates 0.0,0.3 --out results/thesis_sweep.jsonl --resume $(SWEEP_RESUME)

thesis-sweep-full: build ## the 72-run grid (seeds 41,42,43) → results/thesis_sweep.jsonl
	$(PLORA) sweep --topos er,ws,ba --ns 20,40,80,160 --seeds 41,42,43 --p $(call cfg,graph.p) \
		--rounds 6 --trojan_rates 0.0,0.3 --out results/thesis_sweep.jsonl --resume $(SWEEP_RESUME)
	@echo "Generated 72 experiments (3 topos × 4 sizes × 3 seeds × 2 trojan_rates)"
	@wc -l results/thesis_sweep.jsonl

consensus-smoke: build ## a 2-quorum consensus engine commits 'A' on slot 1
	$(PLORA) consensus-smoke

LAMBDA2_NS ?= 10000,100000
LAMBDA2_REPS ?= 5

bench-lambda2: build ## λ2 of ER (mean degree 10) vs scipy eigsh, same run, interleaved (needs /usr/bin/python3 with numpy+scipy; LAMBDA2_NS=10000,100000)
	node packages/swarm/bench/lambda2-vs-scipy.mjs --ns $(LAMBDA2_NS) --reps $(LAMBDA2_REPS)

bench-million: build ## the simulator at 10⁶ agents (ER mean degree 10 and implicit K_n, push-pull, security on): time per phase and peak RSS
	node packages/swarm/bench/million.mjs
