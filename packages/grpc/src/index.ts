/**
 * @packageDocumentation
 * `@plora/grpc`: plasmid exchange over gRPC (spec core.md §20). The offer server serves the
 * adapter folders under a root through the original's unary `plora.Plasmid/OfferPlasmid`
 * (wire-compatible with the Python prototype) and the streaming `plora.v2.PlasmidStream` (list,
 * chunked and resumable fetch). Payloads are deterministic tar archives signed once per digest.
 * The fetch client verifies size, digest, signature (required when a key is given), tar entries,
 * manifest and artefact before installing atomically into `DEST/<domain>`. TLS and mTLS, with
 * development certificates from `createDevCertificates`.
 *
 * @example
 * const server = await startOfferServer({ root: 'out', port: 0, privateKeyPem })
 * const r = await fetchPlasmid({ domain: 'legal', dest: 'fetched', host: '127.0.0.1', port: server.port, publicKeyPem })
 * await server.close()
 */
export {
  createDevCertificates,
  DEFAULT_DEV_CERTIFICATES_OPTIONS,
  DEV_CERT_FILES,
  type DevCertificates,
  type DevCertificatesOptions,
  writeDevCertificates,
} from './certs.js'
export { GrpcError, GrpcErrorCode } from './errors.js'
export {
  type ConnectOptions,
  DEFAULT_FETCH_OPTIONS,
  type FetchComponents,
  type FetchPlasmidOptions,
  type FetchResult,
  FLOW_CONTROL_WINDOW,
  fetchPlasmid,
  listPlasmids,
  requestSnapshot,
} from './fetch-client.js'
export { assertSafeDomain, isSafeDomain, normaliseEntryName } from './names.js'
export {
  createKeySigner,
  DEFAULT_OFFER_SERVER_INIT,
  type ExtraService,
  type OfferServer,
  type OfferServerComponents,
  type OfferServerInit,
  startOfferServer,
} from './offer-server.js'
export { type PayloadSigner, PlasmidStore, type PreparedPlasmid, type UnaryPayload } from './plasmid-store.js'
export {
  type FetchPlasmidChunk,
  type FetchPlasmidRequest,
  type HeldPlasmid,
  loadPloraServices,
  type PlasmidHeader,
  type PlasmidInfo,
  type PlasmidReply,
  type PlasmidRequest,
  type PloraServices,
  PROTO_DIR,
  PROTO_FILES,
  PROTO_LOADER_OPTIONS,
  type SnapshotReply,
  type SnapshotRequest,
} from './proto.js'
export { DEFAULT_MAX_ENTRIES, type ExtractedTree, type SafeExtractLimits, SafeTarExtractor } from './safe-extract.js'
export { Semaphore } from './semaphore.js'
export { listRegularFiles, planTar, readTarRange, type TarLayout, type TarLayoutEntry, ustarHeader } from './tar.js'
export {
  type ClientTlsOptions,
  createClientCredentials,
  createServerCredentials,
  type Pem,
  readPemFile,
  type ServerTlsOptions,
} from './tls.js'
