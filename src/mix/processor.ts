/**
 * The crypto stage of a mix: takes closed rounds in order, drops replays, peels every packet on
 * the worker pool, checks each next hop, shuffles the survivors and commits the round (outbox
 * or mailboxes) in one transaction. Rounds queue up while one is being peeled, so none is ever
 * skipped or left behind.
 *
 * Peeling starts before a round is processed where it can overlap the round's arrival
 * ({@link RoundProcessor.prepare}): after the first mix each chunk of a round is peeled as soon
 * as it is stored, while the rest is in transfer, and at the first mix client packets are, in
 * groups of a worker job's worth, while the round is open ({@link RoundProcessor.gather}). The
 * round is only shuffled and committed once complete, and is peeled with its early results only
 * if they cover every packet of its inbox. Early results live in memory only: after a restart
 * the round is read back from the inbox and peeled again.
 *
 * @module
 */
import { join } from "node:path";
import { type Logger, RateLimitedLog } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { HopKind, replayTag, type RouteNode } from "../onion/mod.ts";
import { nowMs } from "../round_clock.ts";
import { logRetry, retry, RETRY_LOG_INTERVAL_MS, Stopped } from "../rpc/mod.ts";
import { MIN_JOB_US, type Peeler, type PeelResult, workUs } from "./peeler.ts";
import { shuffle } from "../random.ts";
import type { MixStore } from "./store.ts";

/** What a mix records about each round it processes. */
export interface RoundRecord {
  /** `"round"` for a processed round, `"forward"` when its batch was acknowledged. */
  readonly event: "round" | "forward";
  /** The round. */
  readonly round: number;
  /** Wall-clock ms the first and last packet of the round arrived. */
  readonly first_arrival_ms?: number;
  readonly last_arrival_ms?: number;
  /** Wall-clock ms processing of the round began (it was closed and reached the front). */
  readonly started_ms?: number;
  /** Wall-clock ms the round was committed (stored in mailboxes at the last mix). */
  readonly committed_ms?: number;
  /** Packets in and out (forwarded or stored). */
  readonly batch_in?: number;
  readonly batch_out?: number;
  /** Dropped packets by reason. */
  readonly dropped?: Readonly<Record<string, number>>;
  /** Cover packets that reached the sink (last mix). */
  readonly cover?: number;
  /** Cover packets this mix added to reach `min_batch`. */
  readonly cover_added?: number;
  /**
   * Milliseconds peeling the batch (after the first mix: waiting for the chunks peeled on
   * arrival to finish, often near zero), and forwarding it (until acknowledged).
   */
  readonly peel_ms?: number;
  readonly forward_ms?: number;
  /** Forward attempts until acknowledged, and the wall-clock ms of the acknowledgement. */
  readonly attempts?: number;
  readonly acked_ms?: number;
  /** Rounds waiting to be processed when this one finished. */
  readonly queue_depth?: number;
  /** Resident memory of the mix process, and its JavaScript heap in use, when the round was
   * committed, MiB. */
  readonly rss_mb?: number;
  readonly heap_mb?: number;
}

/** Options of {@link RoundProcessor}. */
export interface ProcessorOptions {
  readonly store: MixStore;
  readonly peeler: Peeler;
  /** Address of the next mix, or undefined at the last mix. */
  readonly nextMixAddress: string | undefined;
  /** Client address → client id, for mailbox deliveries at the last mix. */
  readonly clients: ReadonlyMap<string, string>;
  readonly metrics: Metrics<RoundRecord>;
  readonly logger: Logger;
  /** Called after a round is committed. */
  readonly onCommitted?: (round: number) => void;
  /** Where the last mix also writes every delivered payload, when set. */
  readonly outputDir?: string;
  /** Tops outgoing batches up to `minBatch` with cover packets (not at the last mix). */
  readonly cover?: CoverTraffic;
}

/** How a mix makes cover packets for the rest of the cascade. */
export interface CoverTraffic {
  /** Fewest packets to forward per round. */
  readonly minBatch: number;
  /** The remaining mixes, which cover packets are layered for (addressed to the sink). */
  readonly route: () => Promise<readonly RouteNode[]>;
}

/** A round being received, its parts (chunks, or client packets) peeled on arrival. */
interface EarlyRound {
  readonly parts: Map<string, { tags: string[]; results: Promise<PeelResult[]> }>;
  /** Packets in all parts. */
  packets: number;
  firstMs: number;
  lastMs: number;
}

/** Client packets of a round gathered for one worker job. */
interface Gathered {
  readonly packets: Uint8Array[];
  bytes: number;
  readonly firstMs: number;
  lastMs: number;
}

/** Processes closed rounds one after another, in the order they were closed. */
export class RoundProcessor {
  readonly #options: ProcessorOptions;
  readonly #queue: number[] = [];
  readonly #early = new Map<number, EarlyRound>();
  /** Client packets gathered for a round and not yet a job of their own (first mix). */
  readonly #gathered = new Map<number, Gathered>();
  #running: Promise<void> = Promise.resolve();
  #draining = false;
  #stopped = false;
  readonly #stop = new AbortController();
  readonly #log: RateLimitedLog;

  /** Creates a processor; nothing runs until a round is enqueued. */
  constructor(options: ProcessorOptions) {
    this.#options = options;
    this.#log = new RateLimitedLog(options.logger, { intervalMs: RETRY_LOG_INTERVAL_MS });
  }

  /** Rounds closed and waiting (including the one being processed). */
  get depth(): number {
    return this.#queue.length;
  }

  /** Queues a closed round. */
  enqueue(round: number): void {
    if (this.#stopped) return;
    this.#queue.push(round);
    if (!this.#draining) {
      this.#draining = true;
      this.#running = this.#drain();
    }
  }

  /**
   * Starts peeling part of a round (`part` names it: a chunk, or a client's packet) the moment
   * it is stored in the inbox; `offThread` keeps even a small part off the calling thread (see
   * {@link Peeler.peel}). The packets' buffers may be transferred to the workers: the caller
   * must not use them afterwards.
   */
  prepare(
    round: number,
    part: string,
    packets: Uint8Array[],
    arrivedMs: number,
    options: { offThread?: boolean } = {},
  ): void {
    if (this.#stopped) return;
    let early = this.#early.get(round);
    if (!early) {
      early = { parts: new Map(), packets: 0, firstMs: arrivedMs, lastMs: arrivedMs };
      this.#early.set(round, early);
    }
    if (early.parts.has(part)) return;
    const tags = packets.map(replayTag);
    const results = this.#options.peeler.peel(packets, options);
    // Awaited when the round is processed; a failure then peels the round again from the inbox.
    results.catch(() => {});
    early.parts.set(part, { tags, results });
    early.packets += packets.length;
    early.firstMs = Math.min(early.firstMs, arrivedMs);
    early.lastMs = Math.max(early.lastMs, arrivedMs);
  }

  /**
   * Gathers client packets of an open round as they are stored, and peels them on the workers
   * a job's worth at a time (a packet of 280 KB or more alone; a dozen of 1 KiB together): a
   * round's peeling is then mostly done when it closes, and a small round's handful is peeled
   * at once on this thread when it is processed rather than waking a worker for it.
   */
  gather(round: number, packets: readonly Uint8Array[], arrivedMs: number): void {
    if (this.#stopped) return;
    const fresh = (): Gathered => ({
      packets: [],
      bytes: 0,
      firstMs: arrivedMs,
      lastMs: arrivedMs,
    });
    let pending = this.#gathered.get(round) ?? fresh();
    pending.lastMs = arrivedMs;
    for (const packet of packets) {
      pending.packets.push(packet);
      pending.bytes += packet.length;
      if (workUs(pending.packets.length, pending.bytes) >= MIN_JOB_US) {
        this.#prepareGathered(round, pending, true);
        pending = fresh();
      }
    }
    this.#gathered.set(round, pending);
  }

  #prepareGathered(round: number, gathered: Gathered, offThread: boolean): void {
    const part = `clients ${this.#early.get(round)?.parts.size ?? 0}`;
    this.prepare(round, part, gathered.packets, gathered.firstMs, { offThread });
    const early = this.#early.get(round);
    if (early) early.lastMs = Math.max(early.lastMs, gathered.lastMs);
  }

  /** Finishes the round in hand, leaves the rest in the inbox for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stop.abort();
    await this.#running;
  }

  async #drain(): Promise<void> {
    const { metrics } = this.#options;
    try {
      while (this.#queue.length > 0 && !this.#stopped) {
        const round = this.#queue[0];
        try {
          // Nothing of a failed round was committed: it stays in the inbox and is tried again
          // (a full disk may get space back), and later rounds wait so that rounds leave in
          // order.
          await retry(() => this.#process(round), {
            signal: this.#stop.signal,
            onFailure: (failure) => {
              metrics.count("rounds.retried");
              logRetry(this.#log, "round processing", failure, { round });
            },
          });
        } catch (error) {
          if (error instanceof Stopped) break;
          throw error;
        }
        this.#queue.shift();
      }
    } finally {
      // Cleared in the same turn as the last queue check, so enqueue never misses a round.
      this.#draining = false;
    }
  }

  /**
   * A round's packets as replay tags and peel results: from the parts peeled on arrival when
   * they hold every packet of its inbox, else read from the inbox and peeled now. Replayed
   * packets (a tag seen in an earlier round or twice in this one) are dropped before or after
   * peeling.
   */
  async #peelRound(round: number, drop: (reason: string) => void) {
    const { store, peeler } = this.#options;
    for (const r of this.#gathered.keys()) if (r < round) this.#gathered.delete(r);
    const gathered = this.#gathered.get(round);
    this.#gathered.delete(round);
    if (gathered?.packets.length) this.#prepareGathered(round, gathered, false);
    for (const r of this.#early.keys()) if (r < round) this.#early.delete(r);
    const early = this.#early.get(round);
    this.#early.delete(round);
    // Where the round comes from: tags of every packet, and the peel results of the fresh ones
    // (parts peeled on arrival were peeled whole; packets read now are peeled fresh only).
    let source: {
      tags: string[];
      firstMs: number;
      lastMs: number;
      peel: (keep: boolean[]) => Promise<PeelResult[]>;
    };
    if (early && early.packets === store.inboxCount(round)) {
      this.#options.metrics.count("rounds.peeled_on_arrival");
      const parts = [...early.parts.values()];
      source = {
        tags: parts.flatMap((p) => p.tags),
        firstMs: early.firstMs,
        lastMs: early.lastMs,
        peel: async (keep) =>
          (await Promise.all(parts.map((p) => p.results))).flat().filter((_, i) => keep[i]),
      };
    } else {
      const { packets, firstMs, lastMs } = store.inbox(round);
      source = {
        tags: packets.map(replayTag),
        firstMs,
        lastMs,
        peel: (keep) => peeler.peel(packets.filter((_, i) => keep[i])),
      };
    }
    const { tags, firstMs, lastMs } = source;
    const known = store.knownTags(tags);
    const seen = new Set<string>();
    const keep = tags.map((tag) => {
      const fresh = !known.has(tag) && !seen.has(tag);
      seen.add(tag);
      if (!fresh) drop("replayed");
      return fresh;
    });
    return {
      count: tags.length,
      firstMs,
      lastMs,
      tags: tags.filter((_, i) => keep[i]),
      results: await source.peel(keep),
    };
  }

  async #process(round: number): Promise<void> {
    const { store, peeler, logger, metrics } = this.#options;
    const startedMs = nowMs();
    const dropped: Record<string, number> = {};
    const drop = (reason: string) => (dropped[reason] = (dropped[reason] ?? 0) + 1);

    const started = performance.now();
    const { count, firstMs, lastMs, tags: freshTags, results } = await this.#peelRound(
      round,
      drop,
    );
    const peelMs = performance.now() - started;

    const opened: string[] = [];
    const outgoing: Uint8Array[] = [];
    const deliveries: { recipient: string; packet: Uint8Array }[] = [];
    let sunk = 0;
    results.forEach((result, i) => {
      if (!result.ok) return drop(result.reason);
      opened.push(freshTags[i]);
      if (this.#options.nextMixAddress !== undefined) {
        if (result.kind !== HopKind.mix || result.address !== this.#options.nextMixAddress) {
          return drop("bad-hop");
        }
        outgoing.push(result.inner);
      } else if (result.kind === HopKind.sink) {
        sunk++;
      } else if (result.kind === HopKind.client && this.#options.clients.has(result.address)) {
        deliveries.push({ recipient: result.address, packet: result.inner });
      } else {
        drop("unknown-recipient");
      }
    });
    let coverAdded = 0;
    const topUp = this.#options.cover;
    if (topUp && this.#options.nextMixAddress !== undefined) {
      const missing = topUp.minBatch - outgoing.length;
      if (missing > 0) {
        outgoing.push(...await peeler.cover(missing, await topUp.route()));
        coverAdded = missing;
      }
      if (coverAdded) metrics.count("cover.added", coverAdded);
    }
    shuffle(outgoing);
    shuffle(deliveries);
    const overflow = store.commitRound({ round, tags: opened, outgoing, deliveries });
    const committedMs = nowMs();
    if (overflow > 0) {
      metrics.count("mailbox.dropped", overflow);
      logger.warn("mailboxes over capacity: oldest packets dropped", { round, dropped: overflow });
    }
    const out = outgoing.length + deliveries.length;
    const totalDropped = Object.values(dropped).reduce((a, b) => a + b, 0);
    for (const [reason, n] of Object.entries(dropped)) metrics.count(`dropped.${reason}`, n);
    metrics.count("packets.in", count);
    metrics.count("packets.out", out);
    metrics.record({
      event: "round",
      round,
      first_arrival_ms: firstMs,
      last_arrival_ms: lastMs,
      started_ms: startedMs,
      committed_ms: committedMs,
      batch_in: count,
      batch_out: out,
      dropped,
      cover: sunk,
      cover_added: coverAdded,
      peel_ms: round3(peelMs),
      queue_depth: this.#queue.length - 1,
      ...memoryMb(),
    });
    const isLast = this.#options.nextMixAddress === undefined;
    logger.info(isLast ? "round stored" : "round processed", {
      round,
      in: count,
      out,
      dropped: totalDropped,
      ...(totalDropped ? dropped : {}),
      cover: coverAdded || sunk || undefined,
      peel_ms: round3(peelMs),
      latency_ms: Number.isNaN(firstMs) ? undefined : round3(committedMs - firstMs),
    });
    if (this.#options.outputDir && deliveries.length > 0) {
      // A copy for tests and benchmarks: the round is committed whether or not it is written.
      await this.#writeDeliveries(round, deliveries).catch((error) =>
        logger.error("cannot write deliveries to the output dir", {
          round,
          error: (error as Error).message,
        })
      );
    }
    this.#options.onCommitted?.(round);
  }

  async #writeDeliveries(
    round: number,
    deliveries: readonly { recipient: string; packet: Uint8Array }[],
  ): Promise<void> {
    const dir = this.#options.outputDir!;
    for (const [i, d] of deliveries.entries()) {
      const client = this.#options.clients.get(d.recipient)!;
      await Deno.mkdir(join(dir, client), { recursive: true });
      await Deno.writeFile(join(dir, client, `round-${round}-${i}.bin`), d.packet);
    }
  }
}

function memoryMb(): { rss_mb: number; heap_mb: number } {
  const { rss, heapUsed } = Deno.memoryUsage();
  return { rss_mb: Math.round(rss / 2 ** 20), heap_mb: Math.round(heapUsed / 2 ** 20) };
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
