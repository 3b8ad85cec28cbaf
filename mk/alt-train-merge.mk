# Alternating train–merge study (spec pipelines.md §3.2, §12; issue 17 item 2). Cycles, samples per
# cycle and rank come from the active config's `alt_train_merge`, domains from `domains`; every other
# option is the library default (`plora alt-train-merge --help`). Outputs:
# results/alt_train_merge/{convergence.json,convergence.md,cycle_<c>/<domain>/}. An existing output
# folder is an error unless REPLACE=1 (`make alt-train-merge REPLACE=1` reruns over it); ATM_FLAGS
# adds flags (e.g. ATM_FLAGS=--save-merged-models).

ALT_TRAIN_MERGE_DIR ?= results/alt_train_merge
ATM_FLAGS ?=
REPLACE ?= 0

.PHONY: alt-train-merge

alt-train-merge: build ## alternating train–merge: cycles on the previous merge, fresh data, held-out line search (REPLACE=1 to rerun)
	$(PLORA) alt-train-merge --domains "$$($(PLORA) config get domains --csv)" --output $(ALT_TRAIN_MERGE_DIR) \
		$(if $(filter 1,$(REPLACE)),--replace) $(ATM_FLAGS)
