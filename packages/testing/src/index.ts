/**
 * @packageDocumentation
 * `@plora/testing` (private, dev only): helpers shared by plora's test suites — a fake Hugging
 * Face hub on 127.0.0.1, numeric tolerance checks and temporary folders.
 */

export { type AllCloseOptions, allClose, expectAllClose } from './all-close.js'
export { type FakeHub, type FakeHubOptions, type FakeHubRepo, startFakeHub } from './fake-hub.js'
export { makeTmpDir } from './tmp.js'
