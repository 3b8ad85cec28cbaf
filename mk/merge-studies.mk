# Merge studies (issue 17 items 4–5). compare-adapters: per domain, ΔNLL vs the base model of out/<domain>,
# out/monolithic_r4 and each merge method's merge of the per-domain adapters, on the config's eval_split
# dev set: results/adapter_comparison.{json,md} (train them first: make train-all monolithic-r4).
# merge-gate-study: calibrate the gate on half of a small clean +
# poisoned population (results/merge_gate/), then gate merges of one adapter per domain — all clean,
# or exactly one poisoned — for every merge method: results/merge_gate_study.{json,md}. Counts as the
# command's dry defaults unless MG_CLEAN / MG_POISONED are set (the population is trained once, then reused).

MG_CLEAN ?=
MG_POISONED ?=

.PHONY: merge-gate-study compare-adapters

compare-adapters: build ## per-domain vs monolithic vs merged adapters, one value-add table per domain: results/adapter_comparison.{json,md}
	$(PLORA) value-add compare

merge-gate-study: build ## re-gate merges that include one poisoned adapter, per merge method: results/merge_gate_study.{json,md}
	$(PLORA) gate merge-study $(if $(MG_CLEAN),--clean $(MG_CLEAN)) $(if $(MG_POISONED),--poisoned $(MG_POISONED))
