# Rank × scheme ablation (spec pipelines.md §11; issue 17 item 1). Domains, ranks, schemes and
# training pairs come from the active config (`domains`, `ablation.ranks`, `ablation.schemes`,
# `ablation.samples`; the dry config crosses ranks 1, 4 with attention, mlp). Outputs:
# $(ABLATION_OUT)/ablation.jsonl, ablation.md and the adapters abl_<d>_r<r>_<scheme>/. Unlike the
# original (which deleted --out first), nothing is deleted unless asked: the default
# ABLATION_FLAGS=--resume keeps the finished cells of the same settings (a changed config is refused,
# exit 3); ABLATION_FLAGS=--replace starts over, removing only the ablation's own outputs.
# ABLATION_WORKERS=N runs the cells on N worker threads (same records as one; default
# $PLORA_WORKERS, else 1).

ABLATION_OUT ?= results
ABLATION_FLAGS ?= --resume
ABLATION_WORKERS ?=

.PHONY: ablation

ablation: build ## rank × scheme ablation over the config's domains → results/ablation.{jsonl,md}, results/abl_*/
	$(PLORA) ablation --out $(ABLATION_OUT) $(ABLATION_FLAGS)$(if $(ABLATION_WORKERS), --workers $(ABLATION_WORKERS))
