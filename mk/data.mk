# Data targets (spec pipelines.md §15, issue 5): pre-fetch and validate every domain's splits so later
# runs work offline. Embedded domains (the dry config) need no network; hub datasets land in the
# Hugging Face cache ($HF_HUB_CACHE, default $HF_HOME/hub). SAMPLES=N caps each split; HUB=1 uses the
# original's Hugging Face datasets (aqua_rat, lex_glue case_hold, medmcqa) for the three domains.

DATA_SPLITS ?= train,validation

.PHONY: prepare-data

prepare-data: build ## pre-fetch and validate the configured domains' data (DATA_SPLITS=train,validation SAMPLES= HUB=)
	$(PLORA) data prepare --domains "$(call csv,domains)" --splits $(DATA_SPLITS) $(if $(SAMPLES),--samples $(SAMPLES)) $(if $(HUB),--hub)
