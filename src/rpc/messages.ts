/**
 * TypeScript shapes of the messages in `protos/mixnet.proto`, as proto-loader decodes them
 * (field names as in the proto, bytes as Uint8Array, int64 as number).
 *
 * @module
 */

/** A client's packet for one round. */
export interface ForwardMessageRequest {
  payload: Uint8Array;
  round: number;
  client_id: string;
  mac: Uint8Array;
}
/** Answer to {@link ForwardMessageRequest}. */
export interface ForwardMessageResponse {
  status: string;
  /** The round the client's next packet goes in (rounds before it are skipped by everyone). */
  next_round?: number;
}
/** A mailbox fetch at the last mix. */
export interface PollMessagesRequest {
  client_addr: string;
  client_id: string;
  timestamp_ms: number;
  mac: Uint8Array;
  /** Token of the last response stored (empty on the first fetch). */
  ack: Uint8Array;
  /** The round whose deliveries to wait for; negative: answer at once. */
  round: number;
}
/** One fetch: `fetch_size` packets, the token that acknowledges them, and a sealed notice. */
export interface PollMessagesResponse {
  payloads: Uint8Array[];
  token: Uint8Array;
  /** The last round stored at the mix (-1 before the first). */
  round: number;
  /** Sealed to the client: real payloads, payloads still queued, payloads dropped (uint32s). */
  notice: Uint8Array;
}
/** A client joining the network. */
export interface RegisterRequest {
  client_id: string;
  timestamp_ms: number;
  mac: Uint8Array;
}
/** Answer to {@link RegisterRequest}. */
export interface RegisterResponse {
  status: boolean;
  reason: string;
}
/** A wait on the start barrier. */
export interface WaitForStartRequest {
  client_id: string;
}
/** The round clock. */
export interface WaitForStartResponse {
  ready: boolean;
  round_duration: number;
  epoch_ms: number;
  round_duration_s: number;
}
/** One chunk of a round's batch from the previous mix (a message of the `ForwardBatch` stream). */
export interface ForwardBatchRequest {
  round: number;
  /** The packets one by one; empty when they are packed. */
  packets: Uint8Array[];
  /** The packets end to end, each `packet_bytes` long (see rpc/batch.ts). */
  packed?: Uint8Array;
  packet_bytes?: number;
  mix_id: string;
  mac: Uint8Array;
  /** Index of this chunk of the round, and how many there are (0 means 1). */
  chunk?: number;
  chunks?: number;
}
/** Answer to {@link ForwardBatchRequest}. */
export interface ForwardBatchResponse {
  status: string;
  /** Rounds waiting in the answering mix and, as far as it knows, after it (see pacer.ts). */
  rounds_waiting?: number;
}
/** A user's message to queue. */
export interface PrepareMessageRequest {
  message: string;
  recipient_pubkey: Uint8Array;
  recipient_addr: string;
}
/** Answer to {@link PrepareMessageRequest}. */
export interface PrepareMessageResponse {
  status: boolean;
  round: number;
  reason: string;
  prepare_ms: number;
}
/** A user's poll of its client. */
export type ClientPollMessagesRequest = Record<string, never>;
/** Messages the client fetched from its mailbox since the user's last poll. */
export interface ClientPollMessagesResponse {
  messages: string[];
}

/** Handlers of the `MixServer` service. */
export interface MixServerHandlers {
  ForwardMessage(request: ForwardMessageRequest): Promise<ForwardMessageResponse>;
  PollMessages(request: PollMessagesRequest, call?: CallContext): Promise<PollMessagesResponse>;
  Register(request: RegisterRequest): Promise<RegisterResponse>;
  WaitForStart(request: WaitForStartRequest): Promise<WaitForStartResponse>;
  /** Client-streaming: the chunks of a round, as they arrive. */
  ForwardBatch(chunks: AsyncIterable<ForwardBatchRequest>): Promise<ForwardBatchResponse>;
}

/** What a handler may learn of the call it serves (the wire protocol tells it; gRPC does not). */
export interface CallContext {
  /** Aborted when the caller gives up on the call or its connection ends. */
  readonly signal?: AbortSignal;
}

/** Handlers of the `Client` service. */
export interface ClientHandlers {
  PrepareMessage(request: PrepareMessageRequest): Promise<PrepareMessageResponse>;
  PollMessages(request: ClientPollMessagesRequest): Promise<ClientPollMessagesResponse>;
}
