# gRPC offer/fetch targets (spec pipelines.md §3.2, core.md §20). The server signs payloads with the
# demo key from `make sign-legal` / `make sign-all`; fetch requires a valid signature by the matching
# public key (an unsigned reply is refused, [D-40]). Typical demo:  make offer &  then  make fetch.
# `offer` runs in the foreground (stop it with Ctrl-C / kill %1); the original backgrounded it
# inside the recipe, which left an orphan server.

OFFER_ROOT ?= out
OFFER_HOST ?= 127.0.0.1
OFFER_PORT ?= 50051
FETCH_HOST ?= localhost
FETCH_DEST ?= fetched
GRPC_PRIV ?= keys/temp_priv.pem
GRPC_PUB ?= keys/temp_pub.pem

.PHONY: offer fetch offer-all fetch-all certs

offer: build ## serve out/ over gRPC, signing with keys/temp_priv.pem (run as `make offer &`)
	@[ -f $(GRPC_PRIV) ] || { echo "[offer] $(GRPC_PRIV) missing: run 'make sign-legal' first"; exit 1; }
	@echo "Offer server running"
	$(PLORA) offer --root $(OFFER_ROOT) --host $(OFFER_HOST) --port $(OFFER_PORT) --private-key $(GRPC_PRIV)

fetch: build ## fetch the legal plasmid into fetched/legal, verifying it with keys/temp_pub.pem
	$(PLORA) fetch --domain legal --dest $(FETCH_DEST) --host $(FETCH_HOST) --port $(OFFER_PORT) --public-key $(GRPC_PUB)

offer-all: sign-all ## sign every domain, then serve out/ in the foreground
	$(PLORA) offer --root $(OFFER_ROOT) --host $(OFFER_HOST) --port $(OFFER_PORT) --private-key $(GRPC_PRIV)

fetch-all: build ## fetch every configured domain into fetched/<domain>, verifying signatures
	@domains="$$($(PLORA) config get domains --csv | tr ',' ' ')"; \
	if [ -z "$$domains" ]; then echo "[fetch-all] no domains configured (plora config get domains)"; exit 1; fi; \
	for d in $$domains; do \
	  $(PLORA) fetch --domain "$$d" --dest $(FETCH_DEST) --host $(FETCH_HOST) --port $(OFFER_PORT) --public-key $(GRPC_PUB) || exit 1; \
	done

certs: build ## development CA + server/client certificates in keys/certs/ (git-ignored) for TLS/mTLS demos
	$(PLORA) certs --out keys/certs
