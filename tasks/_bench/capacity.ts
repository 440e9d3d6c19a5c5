/**
 * Capacity mode: for one packet size and a fixed number of client processes, the shortest
 * round duration (so the largest offered load) the network sustains for the whole run. The
 * search probes round durations (capacity_probe.ts) in three stages:
 *
 * 1. screen: short probes, starting at `startRoundS`, halving the round while the load is
 *    sustained and doubling it while it is not, until one of each is known (or a bound of the
 *    round duration is reached);
 * 2. narrow: short probes at the geometric mean of the shortest sustained and the longest
 *    failed round, until the two are within {@link RESOLUTION} of each other;
 * 3. confirm: the shortest sustained round over the full run; where that fails, the next
 *    longer one screened, and beyond those twice the round that failed, until one holds.
 *
 * The load a round duration offers falls as the round grows, so a load that fails a short probe
 * is taken to fail a longer one; a short probe that passes proves little, hence the confirmation.
 *
 * @module
 */
import type { ProbeResult, ProbeSpec } from "./capacity_probe.ts";

/** The narrowing stops when the longest failed and the shortest sustained round are this close. */
export const RESOLUTION = 1.2;
/** Seconds of a screening probe at most (the full run when that is shorter). */
const SCREEN_S = 10;

/** How the search runs. */
export interface SearchOptions {
  readonly clients: number;
  readonly payloadSize: number;
  /** Round duration of the first probe, seconds. */
  readonly startRoundS: number;
  /** Bounds of the round durations probed, seconds. */
  readonly minRoundS: number;
  readonly maxRoundS: number;
  /** Seconds the sustained load must hold for: the confirming probe's window. */
  readonly seconds: number;
  /** Most probes of the search, confirmation included. */
  readonly probes: number;
}

/** A probe as the search ran it. */
export type SearchProbe = ProbeResult & { readonly stage: "screen" | "confirm" };

/** What the search found. */
export interface SearchResult {
  /** Every probe, in the order run. */
  readonly probes: readonly SearchProbe[];
  /** The full-length probe at the largest load sustained; none when no load was. */
  readonly sustained?: SearchProbe;
  /** The probe at the smallest load above it that failed; none when none did. */
  readonly failing?: SearchProbe;
}

/** Runs one probe. */
export type Prober = (spec: ProbeSpec) => Promise<ProbeResult>;

/** Finds the largest load sustained; `log` hears of each probe. */
export async function searchCapacity(
  options: SearchOptions,
  probe: Prober,
  log: (line: string) => void = () => {},
): Promise<SearchResult> {
  const { clients, payloadSize, minRoundS, maxRoundS, seconds } = options;
  const screenS = Math.min(SCREEN_S, seconds);
  const probes: SearchProbe[] = [];
  const run = async (roundS: number, stage: SearchProbe["stage"]) => {
    const length = stage === "screen" ? screenS : seconds;
    const result = { ...await probe({ clients, payloadSize, roundS, seconds: length }), stage };
    probes.push(result);
    log(describeProbe(result, length));
    return result;
  };
  // Keep one probe for the confirmation, unless screening already runs the full length (or
  // there is only one probe).
  const screensAreFull = screenS >= seconds;
  const reserve = screensAreFull || options.probes < 2 ? 0 : 1;
  let sustained: number | undefined;
  let failed: number | undefined;
  while (probes.length < options.probes - reserve) {
    const next = nextRound(sustained, failed, options.startRoundS, minRoundS, maxRoundS);
    if (next === undefined) break;
    const result = await run(next, "screen");
    if (result.sustained) sustained = next;
    else failed = next;
  }
  // Confirm the shortest round screened as sustained; after a failure, the next longer one
  // screened, and beyond those, twice the round that failed.
  const screened = probes.filter((p) => p.sustained).map((p) => p.round_s).sort((a, b) => a - b);
  let confirmed: SearchProbe | undefined;
  if (screensAreFull) confirmed = probes.find((p) => p.sustained && p.round_s === screened[0]);
  let next: number | undefined = screened[0];
  while (!confirmed && next !== undefined && probes.length < options.probes) {
    const result = await run(next, "confirm");
    if (result.sustained) confirmed = result;
    const failed: number = next;
    next = screened.find((r) => r > failed) ??
      (failed >= maxRoundS ? undefined : clamp(failed * 2, minRoundS, maxRoundS));
  }
  const failures = probes.filter((p) =>
    !p.sustained && (!confirmed || p.round_s < confirmed.round_s)
  );
  const failing =
    failures.sort((a, b) => b.round_s - a.round_s || stageOrder(a) - stageOrder(b))[0];
  return { probes, sustained: confirmed, failing };
}

/** A full-length failure says more than a screening one at the same round. */
function stageOrder(p: SearchProbe): number {
  return p.stage === "confirm" ? 0 : 1;
}

/**
 * The round duration to screen next, or none when the search has its answer: between the two
 * known ends, or beyond the one end known, within the bounds.
 */
export function nextRound(
  sustained: number | undefined,
  failed: number | undefined,
  start: number,
  min: number,
  max: number,
): number | undefined {
  if (sustained === undefined && failed === undefined) return clamp(start, min, max);
  if (failed === undefined) return sustained! <= min ? undefined : clamp(sustained! / 2, min, max);
  if (sustained === undefined) return failed >= max ? undefined : clamp(failed * 2, min, max);
  if (sustained / failed <= RESOLUTION) return undefined;
  const mean = roundTo(Math.sqrt(sustained * failed));
  return mean > failed && mean < sustained ? mean : undefined;
}

function clamp(x: number, min: number, max: number): number {
  return roundTo(Math.min(max, Math.max(min, x)));
}

/** Round durations to three significant digits, as a config would state them. */
function roundTo(x: number): number {
  return Number(x.toPrecision(3));
}

/** One line on a probe, for the progress log and the summary's "why". */
function describeProbe(p: ProbeResult, seconds?: number): string {
  const head = `${p.clients} x ${p.payload_size} B every ${p.round_s} s = ${p.offered_mb_s} MB/s` +
    (seconds === undefined ? "" : ` (${seconds} s)`);
  const latency = `p50/p99 ${p.p50_latency_s}/${p.p99_latency_s} s`;
  return p.sustained ? `${head}: sustained, ${latency}` : `${head}: failed, ${whyFailed(p)}`;
}

/** Why a probe failed, in words. */
export function whyFailed(p: ProbeResult): string {
  const reasons = p.reason.split("+").filter(Boolean).map((reason) => {
    switch (reason) {
      case "paused":
        return `rounds paused (${p.paused} of the first ${p.rounds})`;
      case "latency":
        return `p99 latency ${p.p99_latency_s} s not under two rounds (${2 * p.round_s} s)` +
          (p.undelivered ? ` (${p.undelivered} rounds not stored in time)` : "");
      case "short":
        return `${p.missing_packets} client packets missing from the rounds`;
      default:
        return reason;
    }
  });
  return reasons.join("; ") + `; machine ${Math.round(p.machine_busy * 100)}% busy`;
}
