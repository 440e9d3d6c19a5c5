/**
 * The gRPC layer: the proto loaded once, typed messages, servers and promise-based stubs. The
 * only module that knows grpc-js.
 *
 * @module
 */
export { grpc, RpcError, toServiceError } from "./errors.ts";
export {
  BATCH_CHUNK_BYTES,
  batchPackets,
  packChunk,
  packChunks,
  type PackedChunk,
  unpack,
} from "./batch.ts";
export {
  fetchHoldMs,
  forwardTimeoutMs,
  type LimitInputs,
  limitProblem,
  MAX_GRPC_MESSAGE_BYTES,
  maxBatchPackets,
  maxMessageBytes,
} from "./limits.ts";
export type * from "./messages.ts";
export {
  BACKOFF,
  type BackoffSchedule,
  CALL_TIMEOUT_MS,
  CHANNEL_OPTIONS,
  codeKind,
  CONNECT_WAIT_MS,
  type FailureKind,
  failureKind,
  RECONNECT,
  RETRY_LOG_INTERVAL_MS,
  WIRE_HANDSHAKE_TIMEOUT_MS,
} from "./policy.ts";
export { type ListenFailure, listenFailure, type ListenFailureKind } from "./listen.ts";
export { LOADER_OPTIONS, mixnetPackage, PROTO_PATH } from "./proto.ts";
export {
  backoffDelay,
  logRetry,
  retry,
  type RetryFailure,
  type RetryOptions,
  Stopped,
} from "./retry.ts";
export {
  type AuthCheck,
  type CallInfo,
  RECEIVE_WINDOW_BYTES,
  type RpcServer,
  type ServeOptions,
  type ServerTls,
  startServer,
} from "./server.ts";
export { pinnedChannel, type PinnedPeer, type SeenCertificate, TlsServer } from "./tls.ts";
export {
  NodeTransport,
  pinnedWireDialer,
  type TransportOptions,
  userChannel,
} from "./transport.ts";
export {
  type CallOptions,
  ClientStub,
  type MixServerCalls,
  MixServerStub,
  type StubOptions,
} from "./stubs.ts";
