/**
 * How a mix after the first receives a round: a `ForwardBatch` stream of authenticated chunks
 * from the previous mix, each stored durably (and handed on to be peeled) as it arrives, the
 * call acknowledged once all are stored, the round complete once every chunk is in, whichever
 * call brought it; a repeated chunk or round is acknowledged again and not stored twice.
 *
 * @module
 */
import { batchProof, type KeyDirectory, type PeerMac } from "../crypto/mod.ts";
import { MixnetError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";
import {
  batchPackets,
  type ForwardBatchRequest,
  type ForwardBatchResponse,
  packChunk,
} from "../rpc/mod.ts";
import { nowMs } from "../round_clock.ts";
import { verifyPeer } from "./_verify.ts";
import type { RoundRecord } from "./processor.ts";
import type { MixStore } from "./store.ts";

/** What storing one chunk came to (see {@link MixStore.receiveChunk}). */
type ChunkStatus = ReturnType<MixStore["receiveChunk"]>;

/** Most chunks one round may be split into. */
const MAX_CHUNKS = 100_000;

/** Options of {@link BatchIntake}. */
export interface BatchIntakeOptions {
  /** This mix's id. */
  readonly id: string;
  /** Id of the previous mix, the only one allowed to forward here. */
  readonly previousId: string;
  readonly store: MixStore;
  readonly mac: PeerMac;
  readonly keys: KeyDirectory;
  /** Largest number of packets a batch may hold. */
  readonly maxPackets: number;
  /**
   * Called with each newly stored chunk (its packets may be taken: the intake is done with
   * them), before `onReceived` for the chunk that completes its round.
   */
  readonly onChunk?: (
    round: number,
    chunk: number,
    packets: Uint8Array[],
    arrivedMs: number,
  ) => void;
  /** Called with each newly stored round. */
  readonly onReceived: (round: number) => void;
  /** Rounds waiting in this mix and, as its next mix last said, after it: told to the previous
   * mix with every answer (see pacer.ts). */
  readonly roundsWaiting: () => number;
  readonly metrics: Metrics<RoundRecord>;
}

/** Receives batches from the previous mix. */
export class BatchIntake {
  readonly #o: BatchIntakeOptions;

  /** Creates the intake. */
  constructor(options: BatchIntakeOptions) {
    this.#o = options;
  }

  /**
   * Stores the chunks of a `ForwardBatch` call as they arrive (or recognises repeats), and
   * answers once all are stored: `stored` when one of them completed its round, `duplicate`
   * when every one was already in, else `partial`. A refused chunk fails the call; the chunks
   * before it stay stored.
   *
   * @throws {MixnetError} permission-denied for any sender but the previous mix or a bad MAC,
   * invalid-argument for a malformed chunk or a call without one.
   */
  async receive(chunks: AsyncIterable<ForwardBatchRequest>): Promise<ForwardBatchResponse> {
    const statuses = new Set<ChunkStatus>();
    for await (const chunk of chunks) statuses.add(await this.#receiveChunk(chunk));
    if (statuses.size === 0) {
      throw new MixnetError("ForwardBatch refused: the call carried no chunk", {
        status: "invalid-argument",
      });
    }
    const status = statuses.has("stored")
      ? "stored"
      : statuses.size === 1 && statuses.has("duplicate")
      ? "duplicate"
      : "partial";
    return { status, rounds_waiting: this.#o.roundsWaiting() };
  }

  async #receiveChunk(request: ForwardBatchRequest): Promise<ChunkStatus> {
    const { id, previousId, store } = this.#o;
    if (request.mix_id !== previousId) {
      this.#o.metrics.count("batch.denied");
      throw new MixnetError(
        `ForwardBatch refused: ${
          JSON.stringify(request.mix_id)
        } may not forward to ${id}, only ${previousId} may`,
        { status: "permission-denied" },
      );
    }
    if (
      !await verifyPeer(this.#o.mac, this.#o.keys, previousId, request.mac, batchProof(request))
    ) {
      this.#o.metrics.count("batch.denied");
      throw new MixnetError(`ForwardBatch from ${previousId} refused: its MAC does not verify`, {
        status: "permission-denied",
      });
    }
    if (!Number.isInteger(request.round) || request.round < 0) {
      throw new MixnetError(`ForwardBatch refused: round ${request.round} is not a round number`, {
        status: "invalid-argument",
      });
    }
    const packets = batchPackets(request);
    if (packets.length > this.#o.maxPackets) {
      throw new MixnetError(
        `ForwardBatch for round ${request.round} refused: ${packets.length} packets, at most ${this.#o.maxPackets} expected`,
        { status: "invalid-argument" },
      );
    }
    if (packets.some((p) => p.length !== packets[0].length)) {
      throw new MixnetError(
        `ForwardBatch for round ${request.round} refused: its packets differ in length`,
        { status: "invalid-argument" },
      );
    }
    const chunks = request.chunks || 1;
    const chunk = request.chunk ?? 0;
    if (!Number.isInteger(chunk) || chunk < 0 || chunk >= chunks || chunks > MAX_CHUNKS) {
      throw new MixnetError(
        `ForwardBatch for round ${request.round} refused: chunk ${chunk} of ${chunks} is not a valid chunk`,
        { status: "invalid-argument" },
      );
    }
    const arrivedMs = nowMs();
    const packed = request.packed?.length
      ? { packed: request.packed, packetBytes: request.packet_bytes! }
      : packChunk(packets);
    const status = store.receiveChunk(request.round, chunk, chunks, packed, arrivedMs);
    if (status === "duplicate") this.#o.metrics.count("batch.duplicate");
    else this.#o.onChunk?.(request.round, chunk, packets, arrivedMs);
    if (status === "stored") this.#o.onReceived(request.round);
    return status;
  }
}
