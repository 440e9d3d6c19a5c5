/**
 * Peels a round's batch in parallel on a small pool of workers. Each job's packets, and its
 * results, cross between threads in one transferred buffer (a large packet alone, uncopied),
 * never cloned one by one. A batch small enough to peel in about a millisecond is peeled on
 * the calling thread instead: waking a worker on a busy machine costs more than the work.
 *
 * @module
 */
import type { KeyPair, SealedBox } from "../crypto/mod.ts";
import { PacketError } from "../errors.ts";
import { type HopKind, peelLayer, type RouteNode } from "../onion/mod.ts";

/**
 * Most estimated microseconds of peeling done on the calling thread: one X25519 (~80 µs) per
 * packet plus ~3.3 ns per byte of XSalsa20-Poly1305 and BLAKE2b (bench/onion_bench.ts).
 */
const INLINE_BUDGET_US = 1500;
const PACKET_US = 80;
const BYTE_US = 0.0033;
/** Least estimated microseconds of work in one worker job (fewer packets when they are big). */
export const MIN_JOB_US = 1000;
/**
 * Most workers a pool starts unless told otherwise. Each costs about 16 MB of memory idle (a V8
 * isolate and its crypto backend: 84 MB with one, 330 MB with 16), while four peel 10,000 packets
 * of 1 KiB in under 0.1 s and a round of 10 x 1 MB in about 3 ms; a host with many cores runs
 * three mixes, or asks for more with `--workers`.
 */
const DEFAULT_MAX_WORKERS = 4;
/** Workers a pool starts on a machine of `cores` cores unless told otherwise. */
export function defaultWorkers(cores: number | undefined): number {
  return Math.max(1, Math.min(DEFAULT_MAX_WORKERS, cores ?? 1));
}

/** Most jobs a batch is cut into per worker. */
const MAX_JOBS_PER_WORKER = 8;
/** The outcome of peeling one packet. */
export type PeelResult =
  | {
    readonly ok: true;
    readonly kind: HopKind;
    readonly address: string;
    readonly inner: Uint8Array;
  }
  | { readonly ok: false; readonly reason: string; readonly message: string };

/** First message to a worker. */
export interface PeelSetup {
  readonly type: "setup";
  readonly backend: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  readonly payloadSize: number;
  readonly layers: number;
}

/** A chunk of packets to peel, end to end in one buffer (see {@link packPackets}). */
export interface PeelJob {
  readonly type: "job";
  readonly id: number;
  readonly packets: PackedPackets;
}

/**
 * Packets end to end in one buffer, as they cross between threads: one buffer to transfer and
 * a few arrays to clone rather than a buffer, or an object, per packet. Sent one by one, the
 * transfers and clones cost about 8 µs a packet, a quarter of peeling one of 1 KiB.
 */
export interface PackedPackets {
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** Each packet's length. */
  readonly lengths: Uint32Array;
}

/** The results of a job, packed as {@link PackedPackets} for the trip back. */
export interface PackedResults {
  /** The inner packets of those that opened, in order. */
  readonly inner: PackedPackets;
  /** Each packet's next hop kind and address; unused where it failed. */
  readonly kinds: Uint8Array;
  readonly addresses: string[];
  /** The packets that failed, by index, with why. */
  readonly failures: {
    readonly index: number;
    readonly reason: string;
    readonly message: string;
  }[];
}

/** Cover packets to build: layered for `route`, addressed to the sink. */
export interface CoverJob {
  readonly type: "cover";
  readonly id: number;
  readonly count: number;
  readonly route: readonly RouteNode[];
}

/**
 * A worker's answer to a {@link PeelJob} (results) or a {@link CoverJob} (packets), or, with
 * id -1, to its {@link PeelSetup} (`setupError` when its crypto backend did not load).
 */
export interface PeelReply {
  readonly id: number;
  readonly results?: PackedResults;
  readonly packets?: Uint8Array[];
  readonly setupError?: string;
}

/**
 * Peels one layer off each packet with `key`; failures are results with a reason, never
 * exceptions.
 */
export function peelPackets(
  box: SealedBox,
  packets: readonly Uint8Array[],
  key: KeyPair,
  expected: { payloadSize: number; layers: number },
): PeelResult[] {
  return packets.map((packet): PeelResult => {
    try {
      const { next, inner } = peelLayer(box, packet, key, expected);
      return { ok: true, kind: next.kind, address: next.address, inner };
    } catch (error) {
      return {
        ok: false,
        reason: error instanceof PacketError ? error.reason : "internal",
        message: (error as Error).message,
      };
    }
  });
}

/**
 * `packets` end to end in a buffer of their own. A lone packet (one of 1 MB is a job of its own)
 * goes as it is, uncopied, when `ownsBuffer` says that transferring its buffer detaches nothing
 * else: by default, when it is a view of all of its buffer.
 */
export function packPackets(
  packets: readonly Uint8Array[],
  ownsBuffer: (packet: Uint8Array) => packet is Uint8Array<ArrayBuffer> = soleView,
): PackedPackets {
  const lengths = Uint32Array.from(packets, (p) => p.length);
  const [only] = packets;
  if (packets.length === 1 && ownsBuffer(only)) return { bytes: only, lengths };
  const bytes = new Uint8Array(lengths.reduce((sum, n) => sum + n, 0));
  let offset = 0;
  for (const packet of packets) {
    bytes.set(packet, offset);
    offset += packet.length;
  }
  return { bytes, lengths };
}

/** The packets of {@link packPackets}, as views into its buffer. */
export function unpackPackets({ bytes, lengths }: PackedPackets): Uint8Array[] {
  let offset = 0;
  return Array.from(lengths, (length) => bytes.subarray(offset, offset += length));
}

/** Whether `packet` is a view of all of an ArrayBuffer (not a view into a larger one). */
function soleView(packet: Uint8Array): packet is Uint8Array<ArrayBuffer> {
  return packet.buffer instanceof ArrayBuffer && packet.byteOffset === 0 &&
    packet.byteLength === packet.buffer.byteLength;
}

/** Whether `inner`, a peeled layer's view into the buffer it was opened into, may be taken. */
function openedBuffer(inner: Uint8Array): inner is Uint8Array<ArrayBuffer> {
  return inner.buffer instanceof ArrayBuffer;
}

/**
 * Results packed for the trip to the main thread (see {@link PackedPackets}). A lone packet's
 * inner layer goes uncopied: it is a view into the buffer its layer was opened into, which
 * nothing else holds (every sealed box returns a fresh buffer from `open`; one returning a
 * view into memory it keeps would need this copied).
 */
export function packResults(results: readonly PeelResult[]): PackedResults {
  const kinds = new Uint8Array(results.length);
  const addresses: string[] = [];
  const failures: PackedResults["failures"][number][] = [];
  const inner: Uint8Array[] = [];
  results.forEach((result, index) => {
    if (result.ok) {
      kinds[index] = result.kind;
      addresses.push(result.address);
      inner.push(result.inner);
    } else {
      addresses.push("");
      failures.push({ index, reason: result.reason, message: result.message });
      inner.push(new Uint8Array());
    }
  });
  return { inner: packPackets(inner, openedBuffer), kinds, addresses, failures };
}

/** The results of {@link packResults}, their inner packets views into one buffer. */
export function unpackResults(packed: PackedResults): PeelResult[] {
  const inner = unpackPackets(packed.inner);
  const results: PeelResult[] = inner.map((packet, i) => ({
    ok: true,
    kind: packed.kinds[i] as HopKind,
    address: packed.addresses[i],
    inner: packet,
  }));
  for (const { index, reason, message } of packed.failures) {
    results[index] = { ok: false, reason, message };
  }
  return results;
}

/** Estimated microseconds of peeling `count` packets of `bytes` in all. */
export function workUs(count: number, bytes: number): number {
  return count * PACKET_US + bytes * BYTE_US;
}

/** Options of {@link Peeler}. */
export interface PeelerOptions {
  /** The sealed box: used as is on the calling thread, by name in the workers. */
  readonly box: SealedBox;
  /** The mix's key pair. */
  readonly keyPair: KeyPair;
  /** Payload size of the network. */
  readonly payloadSize: number;
  /** Layers a packet carries when it reaches this mix. */
  readonly layers: number;
  /** Number of workers; default one per core, at most {@link DEFAULT_MAX_WORKERS}. */
  readonly workers?: number;
}

/** A pool of peeling workers. */
export class Peeler {
  readonly #workers: Worker[] = [];
  /** Jobs in flight per worker. */
  readonly #busy: number[] = [];
  readonly #pending = new Map<
    number,
    { resolve: (reply: PeelReply) => void; reject: (error: Error) => void }
  >();
  #nextId = 0;
  readonly #options: PeelerOptions;
  /** Resolves when every worker has loaded its crypto backend; rejects when one cannot. */
  readonly ready: Promise<void>;

  /** Starts the workers; await {@link ready} before the first peel. */
  constructor(options: PeelerOptions) {
    this.#options = options;
    const count = Math.max(1, options.workers ?? defaultWorkers(navigator.hardwareConcurrency));
    const started: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL("./peel_worker.ts", import.meta.url), { type: "module" });
      let up: (reply: PeelReply) => void;
      started.push(
        new Promise((resolve, reject) => {
          up = ({ setupError }) => {
            if (setupError === undefined) resolve();
            else reject(new Error(`Peeling worker cannot start: ${setupError}`));
          };
        }),
      );
      worker.onmessage = (event: MessageEvent<PeelReply>) => {
        if (event.data.id === -1) return up(event.data);
        const pending = this.#pending.get(event.data.id);
        this.#pending.delete(event.data.id);
        pending?.resolve(event.data);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        const error = new Error(`Peeling worker failed: ${event.message}`);
        for (const pending of this.#pending.values()) pending.reject(error);
        this.#pending.clear();
      };
      const setup: PeelSetup = {
        type: "setup",
        backend: options.box.name,
        publicKey: options.keyPair.publicKey,
        secretKey: options.keyPair.secretKey,
        payloadSize: options.payloadSize,
        layers: options.layers,
      };
      worker.postMessage(setup);
      this.#workers.push(worker);
      this.#busy.push(0);
    }
    this.ready = Promise.all(started).then(() => {});
  }

  /** Number of workers. */
  get size(): number {
    return this.#workers.length;
  }

  /**
   * Peels every packet, in parallel across the workers; results are in input order. A small
   * batch is peeled on the calling thread unless `offThread` (the caller's thread has other
   * work). A packet that is the whole of its buffer may be transferred to a worker: unusable
   * afterwards.
   */
  async peel(
    packets: Uint8Array[],
    options: { offThread?: boolean } = {},
  ): Promise<PeelResult[]> {
    if (packets.length === 0) return [];
    const { box, keyPair, payloadSize, layers } = this.#options;
    const work = workUs(packets.length, packets.reduce((sum, p) => sum + p.length, 0));
    if (!options.offThread && work <= INLINE_BUDGET_US) {
      return peelPackets(box, packets, keyPair, { payloadSize, layers });
    }
    // The batch is cut into jobs of nearly equal work, a multiple of the workers in number,
    // handed to whichever worker is free, two in flight per worker: a worker that loses its
    // core for a while (to the mix's own thread, or another process) does not hold the round
    // up, and no worker waits idle for its next job. Equal jobs matter for a few big packets:
    // 10 x 100 KB as jobs of 3, 3, 3 and 1 packets leaves one worker 6 packets and the other 4.
    const workers = this.#workers.length;
    const perWorker = Math.min(
      MAX_JOBS_PER_WORKER,
      Math.max(1, Math.floor(work / MIN_JOB_US / workers)),
    );
    const jobs = Math.min(packets.length, workers * perWorker);
    // Sizes differ by at most one packet, larger first, so both rounds of jobs are balanced.
    const bounds = [0];
    for (let j = 0; j < jobs; j++) {
      bounds.push(
        bounds[j] + Math.floor(packets.length / jobs) + (j < packets.length % jobs ? 1 : 0),
      );
    }
    const replies: PeelResult[][] = [];
    let next = 0;
    const feed = async (worker: number) => {
      while (next < jobs) {
        const index = next++;
        const slice = packPackets(packets.slice(bounds[index], bounds[index + 1]));
        const job: PeelJob = { type: "job", id: this.#nextId++, packets: slice };
        const reply = await this.#post(worker, job, [slice.bytes.buffer]);
        replies[index] = unpackResults(reply.results!);
      }
    };
    // Every worker's first job goes out before any worker's second, the least busy first.
    const idle = [...this.#workers.keys()].sort((a, b) => this.#busy[a] - this.#busy[b]);
    await Promise.all([...idle, ...idle].map(feed));
    return replies.flat();
  }

  /** Builds `count` cover packets for `route` on the workers, in parallel. */
  async cover(count: number, route: readonly RouteNode[]): Promise<Uint8Array[]> {
    if (count <= 0) return [];
    const share = Math.ceil(count / this.#workers.length);
    const parts: Promise<PeelReply>[] = [];
    for (let w = 0, left = count; left > 0; w++, left -= share) {
      const job: CoverJob = {
        type: "cover",
        id: this.#nextId++,
        count: Math.min(share, left),
        route,
      };
      parts.push(this.#post(w, job, []));
    }
    return (await Promise.all(parts)).flatMap((reply) => reply.packets ?? []);
  }

  #post(worker: number, job: PeelJob | CoverJob, transfer: ArrayBuffer[]): Promise<PeelReply> {
    const reply = new Promise<PeelReply>((resolve, reject) =>
      this.#pending.set(job.id, { resolve, reject })
    );
    try {
      this.#workers[worker].postMessage(job, transfer);
    } catch (error) {
      this.#pending.delete(job.id);
      throw error;
    }
    this.#busy[worker]++;
    return reply.finally(() => this.#busy[worker]--);
  }

  /**
   * Stops the workers, once they have started (terminating a worker that is still loading
   * its modules has crashed the runtime).
   */
  async close(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise((resolve) => (timer = setTimeout(resolve, 10_000)));
    await Promise.race([this.ready.catch(() => {}), late]);
    // A pending timer would keep a process that is otherwise done alive for 10 s.
    clearTimeout(timer);
    for (const worker of this.#workers) worker.terminate();
    this.#workers.length = 0;
  }
}
