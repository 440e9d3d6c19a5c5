/**
 * One probe of the capacity mode: a fresh network of 3 mixes and N client processes offering
 * one packet each per round at a given round duration, watched for a window of seconds after a
 * warm-up. The load is sustained when, over the window, no round was paused, every round held
 * (nearly) every client's packet, and the 99th percentile of round latency (the round's first
 * packet arriving at the first mix to the round stored at the last) stayed under two rounds. A
 * probe that fails ends as soon as its failure is certain.
 *
 * @module
 */
import { type CpuInfo, cpus } from "node:os";
import type { LogRecord } from "../../src/log.ts";
import { MetricsTail, startTempNetwork } from "./temp_network.ts";

/** What one probe offers. */
export interface ProbeSpec {
  readonly clients: number;
  readonly payloadSize: number;
  readonly roundS: number;
  /** Length of the measured window, seconds. */
  readonly seconds: number;
}

/** Why a probe's load was not sustained. */
export type ProbeFailure = "paused" | "latency" | "short";

/** Figures of one probe; rates in MB/s of client payload (10^6 bytes). */
export interface ProbeResult {
  readonly payload_size: number;
  readonly clients: number;
  /** The cascade's mixes, and the packets each fetch returns (they set the work per byte). */
  readonly mixes: number;
  readonly fetch_size: number;
  readonly round_s: number;
  /** clients x payload_size / round_s. */
  readonly offered_mb_s: number;
  /** Payload the first mix took in over the window's rounds, per second of the window. */
  readonly carried_mb_s: number;
  /** Seconds of the window measured (shorter than asked when the probe failed early). */
  readonly window_s: number;
  /** Rounds of the clock in the window measured, and how many of them were paused. */
  readonly rounds: number;
  readonly paused: number;
  /** Client packets missing from the window's rounds at the first mix. */
  readonly missing_packets: number;
  /** Rounds processed at the first mix that the last had not stored by the end. */
  readonly undelivered: number;
  /** Round latency, first mix's first arrival to last mix stored, seconds. */
  readonly p50_latency_s: number;
  readonly p99_latency_s: number;
  readonly max_latency_s: number;
  /** Seconds per round that ran: round_s while nothing is paused. */
  readonly period_s: number;
  /** Share of all cores busy over the window, this machine's other work included. */
  readonly machine_busy: number;
  /** One-minute load average at the end of the probe. */
  readonly load_1m: number;
  readonly sustained: boolean;
  /** The failures, joined by "+"; empty when sustained. */
  readonly reason: string;
}

/**
 * Warm-up before the window, at least these seconds and rounds: the processes and their JIT
 * settle, and the window starts with an empty backlog.
 */
const WARMUP_S = 3;
const WARMUP_ROUNDS = 2;
/** Seconds the warm-up may stretch while rounds are paused by a backlog of the start-up. */
const MAX_WARMUP_S = 10;
/** Share of the window's rounds (latency) and packets (missing) that may fall short. */
const TOLERANCE = 0.01;
/** Seconds the last round of the window has after its deadline to be stored. */
const DRAIN_S = 5;

/**
 * Runs one probe; the network is started for it and stopped after it.
 *
 * @throws {Error} when the network cannot start or a node exits.
 */
export async function runProbe(spec: ProbeSpec): Promise<ProbeResult> {
  const { clients, payloadSize, roundS, seconds } = spec;
  const net = await startTempNetwork({
    clients,
    payloadSize,
    roundDuration: roundS,
    roundTimeout: roundS / 2,
    startClients: true,
    clientLogLevel: "info",
  });
  try {
    const mix1 = net.mixes[0];
    const start = await mix1.waitFor("rounds start");
    const epochMs = Number(start.epoch_ms);
    const roundMs = roundS * 1000;
    // The window starts with the first round sent after the warm-up and after every round a
    // start-up backlog paused (up to a longest warm-up, when the window starts regardless).
    const warmupMs = Math.max(WARMUP_S * 1000, WARMUP_ROUNDS * roundMs);
    const latestMs = Math.max(Date.now(), epochMs) + Math.max(MAX_WARMUP_S * 1000, warmupMs);
    let from = Math.ceil((Math.max(Date.now(), epochMs) + warmupMs - epochMs) / roundMs) - 1;
    for (;;) {
      // Whether round `from` is paused is decided as the packets of the round before arrive.
      await sleepUntil(epochMs + from * roundMs + roundMs / 2);
      const pausedTo = Math.max(
        -1,
        ...net.records(mix1.id).filter((r) => r.message === "cascade behind: rounds paused")
          .map((r) => Number(r.paused_to)),
      );
      if (pausedTo < from || Date.now() >= latestMs) break;
      from = pausedTo + 1;
    }
    const count = Math.max(1, Math.floor(seconds / roundS));
    const watch = new Watch(spec, epochMs, from, from + count - 1);
    const first = new MetricsTail(net.metricsFile(mix1.id));
    const last = new MetricsTail(net.metricsFile(net.mixes[net.mixes.length - 1].id));
    let exited: string | undefined;
    for (const node of [...net.mixes, ...net.clients]) {
      node.status.then(() => exited ??= `${node.id} exited during the probe:\n${node.tail()}`);
    }
    const cpuBefore = cpus();
    const deadline = watch.sendTime(from + count - 1) + 2 * roundMs + DRAIN_S * 1000;
    for (;;) {
      await sleepUntil(Date.now() + Math.max(500, roundMs));
      if (exited) throw new Error(exited);
      watch.firstMix(await first.read(), net.records(mix1.id));
      watch.lastMix(await last.read());
      if (watch.failures(Date.now()).length > 0 || watch.complete() || Date.now() > deadline) {
        break;
      }
    }
    const busy = busyShare(cpuBefore, cpus());
    return {
      ...watch.result(Date.now(), busy, Deno.loadavg()[0]),
      mixes: net.config.mixServers.length,
      fetch_size: net.config.fetchSize,
    };
  } finally {
    await net.stop();
  }
}

/** The window's rounds as the first and last mix report them. */
class Watch {
  readonly #spec: ProbeSpec;
  readonly #epochMs: number;
  readonly #from: number;
  readonly #to: number;
  /** Round → first arrival at the first mix and the client packets it took in. */
  readonly #taken = new Map<number, { firstMs: number; packets: number }>();
  /** Round → when the last mix stored it. */
  readonly #stored = new Map<number, number>();
  readonly #paused = new Set<number>();
  #pausedSeen = 0;

  /** Watches rounds `from` to `to` of the clock that started at `epochMs`. */
  constructor(spec: ProbeSpec, epochMs: number, from: number, to: number) {
    this.#spec = spec;
    this.#epochMs = epochMs;
    this.#from = from;
    this.#to = to;
  }

  /** When the clients send `round`: its end. */
  sendTime(round: number): number {
    return this.#epochMs + (round + 1) * this.#spec.roundS * 1000;
  }

  #inWindow(round: number): boolean {
    return round >= this.#from && round <= this.#to;
  }

  firstMix(records: readonly Record<string, unknown>[], log: readonly LogRecord[]): void {
    for (const r of records) {
      if (r.event !== "round" || !this.#inWindow(Number(r.round))) continue;
      this.#taken.set(Number(r.round), {
        // null for a round no client's packet reached (Number(null) would be the epoch).
        firstMs: r.first_arrival_ms == null ? NaN : Number(r.first_arrival_ms),
        packets: Number(r.batch_in),
      });
    }
    for (; this.#pausedSeen < log.length; this.#pausedSeen++) {
      const record = log[this.#pausedSeen];
      if (record.message !== "cascade behind: rounds paused") continue;
      for (let round = Number(record.paused_from); round <= Number(record.paused_to); round++) {
        if (this.#inWindow(round)) this.#paused.add(round);
      }
    }
  }

  lastMix(records: readonly Record<string, unknown>[]): void {
    for (const r of records) {
      if (r.event === "round" && this.#inWindow(Number(r.round))) {
        this.#stored.set(Number(r.round), Number(r.committed_ms));
      }
    }
  }

  /** Every round of the window paused or stored at the last mix. */
  complete(): boolean {
    return this.#paused.size + this.#stored.size >= this.#to - this.#from + 1;
  }

  /**
   * Latencies of the window's rounds that ran, seconds, as far as known at `nowMs`: Infinity
   * for a round not stored two rounds after it began (its first packet, or its send time while
   * the first mix has not reported it), none for one still within that.
   */
  #latencies(nowMs: number): number[] {
    const limitMs = 2 * this.#spec.roundS * 1000;
    const latencies: number[] = [];
    for (let round = this.#from; round <= this.#to && this.sendTime(round) < nowMs; round++) {
      if (this.#paused.has(round)) continue;
      const firstMs = this.#taken.get(round)?.firstMs;
      const began = firstMs !== undefined && Number.isFinite(firstMs)
        ? firstMs
        : this.sendTime(round);
      const stored = this.#stored.get(round);
      if (stored !== undefined) latencies.push((stored - began) / 1000);
      else if (nowMs - began > limitMs) latencies.push(Infinity);
    }
    return latencies;
  }

  /** The failures certain by `nowMs`, judged against the whole window. */
  failures(nowMs: number): ProbeFailure[] {
    const rounds = this.#to - this.#from + 1;
    const failures: ProbeFailure[] = [];
    if (this.#paused.size > 0) failures.push("paused");
    const slow = this.#latencies(nowMs).filter((x) => x >= 2 * this.#spec.roundS).length;
    if (slow > Math.floor(TOLERANCE * rounds)) failures.push("latency");
    if (this.#missing() > Math.floor(TOLERANCE * rounds * this.#spec.clients)) {
      failures.push("short");
    }
    return failures;
  }

  #missing(): number {
    let missing = 0;
    for (const { packets } of this.#taken.values()) {
      missing += Math.max(0, this.#spec.clients - packets);
    }
    return missing;
  }

  /** The probe's figures at `nowMs`, over the window's rounds sent by then. */
  result(
    nowMs: number,
    machineBusy: number,
    load1m: number,
  ): Omit<ProbeResult, "mixes" | "fetch_size"> {
    const { clients, payloadSize, roundS } = this.#spec;
    let rounds = 0;
    while (this.#from + rounds <= this.#to && this.sendTime(this.#from + rounds) < nowMs) rounds++;
    rounds = Math.max(1, rounds);
    const latencies = this.#latencies(nowMs).sort((a, b) => a - b);
    const packets = [...this.#taken.values()].reduce((sum, t) => sum + t.packets, 0);
    // Rounds paused ahead of the last one measured are a failure, but not part of the figures.
    const paused = [...this.#paused].filter((r) => r < this.#from + rounds).length;
    const ran = rounds - paused;
    const failures = this.failures(nowMs);
    return {
      payload_size: payloadSize,
      clients,
      round_s: roundS,
      offered_mb_s: significant((clients * payloadSize) / roundS / 1e6),
      carried_mb_s: significant((packets * payloadSize) / (rounds * roundS) / 1e6),
      window_s: round3(rounds * roundS),
      rounds,
      paused,
      missing_packets: this.#missing(),
      undelivered: latencies.filter((x) => x === Infinity).length,
      p50_latency_s: round3(percentile(latencies, 0.5)),
      p99_latency_s: round3(percentile(latencies, 0.99)),
      max_latency_s: round3(latencies[latencies.length - 1] ?? NaN),
      period_s: round3(ran > 0 ? (rounds * roundS) / ran : Infinity),
      machine_busy: round3(machineBusy),
      load_1m: round3(load1m),
      sustained: failures.length === 0 && latencies.length > 0,
      reason: failures.join("+") || (latencies.length > 0 ? "" : "latency"),
    };
  }
}

/** The nearest-rank percentile `p` of sorted `values` (NaN for none). */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

/** Share of all cores' time busy between two `os.cpus()` samples. */
function busyShare(before: CpuInfo[], after: CpuInfo[]): number {
  let busy = 0;
  let total = 0;
  after.forEach((cpu, i) => {
    const was = before[i]?.times;
    if (!was) return;
    const idle = cpu.times.idle - was.idle;
    const all = Object.keys(cpu.times).reduce(
      (sum, k) => sum + cpu.times[k as keyof CpuInfo["times"]] - was[k as keyof CpuInfo["times"]],
      0,
    );
    busy += all - idle;
    total += all;
  });
  return total > 0 ? busy / total : NaN;
}

/** Four significant digits: loads run from hundredths of a MB/s to hundreds. */
function significant(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(4)) : x;
}

function round3(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}

function sleepUntil(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms - Date.now())));
}
