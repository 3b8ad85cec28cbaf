# Information-theoretic targets (issue 9; spec swarm.md §12.3, §12.8). Thin wrappers over `plora`.
# NET_IT_HISTORY is a swarm history file (make swarm-v2-smoke writes results/history.json).
# MINE picks its TensorFlow.js backend from PLORA_BACKEND / PLORA_FORCE_CPU like every model command.

NET_IT_HISTORY ?= results/history.json
NET_IT_OUT ?= results/net_it_metrics.json
NET_IT_BOOT ?= 200
NET_IT_PERM ?= 64
MINE_RHO ?= 0.8
MINE_N ?= 2000
MINE_EPOCHS ?= 200

.PHONY: net-it mine-calib bench-it

net-it: build ## MI/TE network metrics of a swarm history → results/net_it_metrics.json (NET_IT_HISTORY=results/history.json)
	$(PLORA) net-it --history $(NET_IT_HISTORY) --out $(NET_IT_OUT) --boot $(NET_IT_BOOT) --perm $(NET_IT_PERM)

mine-calib: build ## MINE on 2-D Gaussians of known MI → results/mine_calib.json (MINE_RHO=0.8 MINE_N=2000 MINE_EPOCHS=200)
	$(PLORA) mine-calib --rho $(MINE_RHO) --n $(MINE_N) --epochs $(MINE_EPOCHS) --out results/mine_calib.json

bench-it: ## KSG timing at n = 1e3/1e4/1e5 (+ calibration table) and net-it on 20 agents × 50 rounds
	cd packages/it-estimators && ../../node_modules/.bin/vitest bench --run
