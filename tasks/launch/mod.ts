/**
 * Running a network as processes, as the network, demo and bench tasks and the tests do: the
 * one config writer of a run, the nodes as subprocesses with an explicit environment and JSON
 * logs read back as records, the whole network started and stopped in order, and its live
 * status.
 *
 * @module
 */
export { denoCommand } from "./deno_command.ts";
export { childEnv, passedOn } from "./environment.ts";
export { type NetworkOptions, type RunningNetwork, startNetwork } from "./network.ts";
export {
  deriveConfig,
  type DeriveOptions,
  freePorts,
  generateKeys,
  type KeygenReport,
  type NetworkSpec,
  removeKeys,
  writeNetworkConfig,
} from "./network_config.ts";
export {
  NODE_PERMISSIONS,
  NodeProcess,
  type NodeProcessOptions,
  readLines,
  type RecordMatch,
  type Role,
  startDenoServer,
  stopChild,
  Waiters,
} from "./node_process.ts";
export { NetworkStatus } from "./status.ts";
