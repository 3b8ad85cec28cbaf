# Trust targets (spec pipelines.md §3.2): signing adapters with the demo key pair and checking the
# gate's audit chain. Keys live in keys/ (generated on first use, RSA-3072, unencrypted PKCS#8).

TRUST_PRIV ?= keys/temp_priv.pem
TRUST_PUB ?= keys/temp_pub.pem
AUDIT_LOG ?= results/audit/gate_audit.jsonl

.PHONY: sign-legal sign-all audit-verify

sign-legal: build ## sign out/legal with keys/temp_priv.pem (key pair generated if absent)
	@[ -f $(TRUST_PRIV) ] || $(PLORA) keygen --private-key $(TRUST_PRIV) --public-key $(TRUST_PUB)
	$(PLORA) sign --adapter-dir out/legal --private-key $(TRUST_PRIV)

sign-all: build ## sign out/<domain> for every configured domain (fails listing missing adapters)
	@[ -f $(TRUST_PRIV) ] || $(PLORA) keygen --private-key $(TRUST_PRIV) --public-key $(TRUST_PUB)
	@domains="$$($(PLORA) config get domains --csv | tr ',' ' ')"; \
	if [ -z "$$domains" ]; then echo "[sign-all] no domains configured (plora config get domains)"; exit 1; fi; \
	missing=0; \
	for d in $$domains; do \
	  if [ ! -f "out/$$d/adapter_model.safetensors" ]; then \
	    echo "[sign-all] Missing adapter for domain $$d (run 'make train-all' first)"; missing=1; \
	  fi; \
	done; \
	[ $$missing -eq 0 ] || exit 1; \
	for d in $$domains; do $(PLORA) sign --adapter-dir "out/$$d" --private-key $(TRUST_PRIV) || exit 1; done

audit-verify: build ## verify the gate audit hash chain (AUDIT_LOG=results/audit/gate_audit.jsonl)
	$(PLORA) audit verify $(AUDIT_LOG)
