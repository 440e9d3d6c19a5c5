/**
 * The mix server: registration and start barrier (first mix), the round engine (collect,
 * deadline, peel, dedupe, shuffle, forward with retry), mailboxes (last mix) and storage.
 *
 * @module
 */
export { type MixNode, type MixOptions, startMix } from "./node.ts";
export type { RoundRecord } from "./processor.ts";
export { MixStore } from "./store.ts";
