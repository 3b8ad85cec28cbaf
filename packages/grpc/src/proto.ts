/**
 * Loads the plora protocol definitions (repository folder `proto/`) with `@grpc/proto-loader`.
 *
 * - `plora.Plasmid/OfferPlasmid` (plora.proto): the original's unary service, byte-compatible
 *   with the Python prototype (spec core.md §20.1).
 * - `plora.v2.PlasmidStream` (plora_v2.proto): listing and chunked, resumable fetches.
 * - `plora.node.v1.SwarmNode` (plora_node.proto): a swarm node's round-by-round holdings.
 *
 * Loader options follow the spec's TS note: field names as written (`keepCase`), defaults filled
 * in, `bytes` as Buffer, 64-bit integers as JS numbers (payload sizes stay far below 2^53).
 */
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'

/** Folder holding `plora.proto` and `plora_v2.proto` (the repository's `proto/`). */
export const PROTO_DIR: string = fileURLToPath(new URL('../../../proto/', import.meta.url))

/** The proto files, relative to {@link PROTO_DIR}. */
export const PROTO_FILES = ['plora.proto', 'plora_v2.proto', 'plora_node.proto'] as const

/** proto-loader options used for every plora proto. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
}

/** `plora.PlasmidRequest` (unary, v1). */
export interface PlasmidRequest {
  domain: string
}

/** `plora.PlasmidReply` (unary, v1). */
export interface PlasmidReply {
  status: string
  bytes: Buffer
  sha: string
  manifest: string
  signature: Buffer
}

/** `plora.v2.PlasmidInfo`. */
export interface PlasmidInfo {
  plasmid_id: string
  domain: string
  manifest_sha256: string
  size: number
  payload_sha256: string
  signed: boolean
}

/** `plora.v2.FetchPlasmidRequest`. */
export interface FetchPlasmidRequest {
  domain?: string
  plasmid_id?: string
  selector?: 'domain' | 'plasmid_id'
  offset: number
  expect_sha256: string
}

/** `plora.v2.PlasmidHeader`. */
export interface PlasmidHeader {
  plasmid_id: string
  domain: string
  total_size: number
  sha256: string
  signature: Buffer
  manifest: string
  format: string
  offset: number
}

/** `plora.v2.FetchPlasmidChunk`. */
export interface FetchPlasmidChunk {
  header?: PlasmidHeader | null
  data?: Buffer
  kind?: 'header' | 'data'
}

/**
 * A `FetchPlasmidChunk` with its `data` field already encoded, written to a server stream in
 * place of `{ data }`: the serializer passes the bytes through, so a 1 MiB chunk is not copied
 * into a protobuf writer first (see {@link encodeDataChunkInPlace}).
 */
export class EncodedChunk {
  readonly bytes: Buffer
  constructor(bytes: Buffer) {
    this.bytes = bytes
  }
}

/** Free bytes {@link encodeDataChunkInPlace} needs in front of the data: field tag + 5-byte varint length. */
export const DATA_CHUNK_HEADROOM = 6

/**
 * Encodes `FetchPlasmidChunk { data = buf[headroom..headroom+length] }` by writing the field tag
 * (field 2, wire type 2) and the varint length into the free bytes just before the data.
 * The result shares memory with `buf`; the same bytes protobufjs would produce.
 */
export function encodeDataChunkInPlace(buf: Buffer, headroom: number, length: number): EncodedChunk {
  if (!Number.isSafeInteger(length) || length < 0 || length >= 2 ** 35 || headroom + length > buf.length) {
    throw new RangeError(`cannot encode a data chunk of ${length} bytes in place`)
  }
  let k = 1
  for (let v = length; v >= 0x80; v = Math.floor(v / 128)) k++
  const start = headroom - 1 - k
  if (start < 0) throw new RangeError(`encoding a data chunk needs ${1 + k} bytes of headroom, found ${headroom}`)
  buf[start] = 0x12
  let v = length
  for (let i = start + 1; i < headroom; i++) {
    buf[i] = i === headroom - 1 ? v : (v % 128) | 0x80
    v = Math.floor(v / 128)
  }
  return new EncodedChunk(buf.subarray(start, headroom + length))
}

/** `plora.node.v1.SnapshotRequest`. */
export interface SnapshotRequest {
  round: number
  wait: boolean
  from_id: number
}

/** `plora.node.v1.HeldPlasmid`. */
export interface HeldPlasmid {
  domain: string
  plasmid_id: string
  score: number
  payload_sha256: string
  size: number
}

/** `plora.node.v1.SnapshotReply`. */
export interface SnapshotReply {
  node_id: number
  round: number
  found: boolean
  plasmids: HeldPlasmid[]
  finished: boolean
  contact: number
}

/** The loaded service constructors. */
export interface PloraServices {
  /** `plora.Plasmid` (unary, v1). */
  Plasmid: grpc.ServiceClientConstructor
  /** `plora.v2.PlasmidStream`. */
  PlasmidStream: grpc.ServiceClientConstructor
  /** `plora.node.v1.SwarmNode`. */
  SwarmNode: grpc.ServiceClientConstructor
}

let cached: PloraServices | null = null

/** Loads (once) and returns the plora service definitions. */
export function loadPloraServices(): PloraServices {
  if (cached) return cached
  const def = protoLoader.loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_DIR] })
  // Server side of FetchPlasmid: pre-encoded data chunks go out as they are, everything else
  // through protobufjs.
  const fetch = (def['plora.v2.PlasmidStream'] as protoLoader.ServiceDefinition)
    .FetchPlasmid as protoLoader.MethodDefinition<FetchPlasmidRequest, FetchPlasmidChunk | EncodedChunk>
  const serialize = fetch.responseSerialize as (value: FetchPlasmidChunk) => Buffer
  fetch.responseSerialize = (value) => (value instanceof EncodedChunk ? value.bytes : serialize(value))
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    plora: {
      Plasmid: grpc.ServiceClientConstructor
      v2: { PlasmidStream: grpc.ServiceClientConstructor }
      node: { v1: { SwarmNode: grpc.ServiceClientConstructor } }
    }
  }
  cached = {
    Plasmid: pkg.plora.Plasmid,
    PlasmidStream: pkg.plora.v2.PlasmidStream,
    SwarmNode: pkg.plora.node.v1.SwarmNode,
  }
  return cached
}
