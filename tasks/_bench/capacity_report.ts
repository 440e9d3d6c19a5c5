/**
 * The capacity mode's summary: per packet size, the load sustained and the first that failed,
 * beside the machine's own rates for the same bytes and the bound they set.
 *
 * @module
 */
import { type SearchResult, whyFailed } from "./capacity.ts";
import type { MachineRates } from "./machine_rates.ts";

/** One packet size's summary; an empty cell where the search found no such probe. */
export interface CapacityRow extends MachineRates {
  readonly payload_size: number;
  readonly clients: number;
  /** The largest offered load sustained for the full run, MB/s, and the round it ran at. */
  readonly sustained_mb_s: number | "";
  readonly round_s: number | "";
  readonly p50_latency_s: number | "";
  readonly p99_latency_s: number | "";
  readonly period_s: number | "";
  readonly machine_busy: number | "";
  /** The smallest load above it that failed, and why (reason codes and words). */
  readonly failing_mb_s: number | "";
  readonly failing_round_s: number | "";
  readonly failing_p99_latency_s: number | "";
  readonly failing_reason: string;
  readonly failing_why: string;
  /** The load at which the cores would do nothing but the bytes' work (machine_rates.ts). */
  readonly bound_mb_s: number;
  /** sustained_mb_s / bound_mb_s. */
  readonly share_of_bound: number | "";
  readonly probes: number;
  /** One-minute load average at the end of the size's search. */
  readonly load_1m: number;
}

/** The summary row of one size's search. */
export function capacityRow(
  search: SearchResult,
  rates: MachineRates,
  boundMbS: number,
): CapacityRow {
  const { sustained: s, failing: f, probes } = search;
  const first = probes[0];
  return {
    payload_size: first.payload_size,
    clients: first.clients,
    sustained_mb_s: s?.offered_mb_s ?? "",
    round_s: s?.round_s ?? "",
    p50_latency_s: s?.p50_latency_s ?? "",
    p99_latency_s: s?.p99_latency_s ?? "",
    period_s: s?.period_s ?? "",
    machine_busy: s?.machine_busy ?? "",
    failing_mb_s: f?.offered_mb_s ?? "",
    failing_round_s: f?.round_s ?? "",
    failing_p99_latency_s: f?.p99_latency_s ?? "",
    failing_reason: f?.reason ?? "",
    failing_why: f ? whyFailed(f) : "",
    ...roundRates(rates),
    bound_mb_s: round1(boundMbS),
    share_of_bound: s ? Math.round((s.offered_mb_s / boundMbS) * 1000) / 1000 : "",
    probes: probes.length,
    load_1m: probes[probes.length - 1].load_1m,
  };
}

/** The summary as two Markdown tables: what was sustained, and the machine's rates. */
export function capacityTables(rows: readonly CapacityRow[]): string {
  const size = (r: CapacityRow) => `${r.payload_size.toLocaleString("en")} B`;
  const cell = (x: number | string) => (x === "" ? "-" : String(x));
  const loads = [
    "| size | clients | sustained (MB/s) | round (s) | p50 / p99 latency (s) | machine busy | " +
    "first failing (MB/s) at round (s) | why it failed | bound (MB/s) | share of bound |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${size(r)} | ${r.clients} | ${cell(r.sustained_mb_s)} | ${cell(r.round_s)} | ` +
      `${cell(r.p50_latency_s)} / ${cell(r.p99_latency_s)} | ${percent(r.machine_busy)} | ` +
      `${r.failing_mb_s === "" ? "-" : `${r.failing_mb_s} at ${r.failing_round_s}`} | ` +
      `${r.failing_why || "-"} | ` +
      `${r.bound_mb_s} | ${percent(r.share_of_bound)} |`
    ),
  ];
  const rates = [
    "| size | seal | open | SHA-256 | random fill | loopback TCP (wall / per CPU s) |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${size(r)} | ${r.seal_mb_s} | ${r.open_mb_s} | ${r.sha256_mb_s} | ${r.random_mb_s} | ` +
      `${r.tcp_mb_s} / ${r.tcp_cpu_mb_s} |`
    ),
  ];
  return `${loads.join("\n")}\n\nMachine rates (MB/s, one core):\n\n${rates.join("\n")}`;
}

function roundRates(rates: MachineRates): MachineRates {
  return Object.fromEntries(
    Object.entries(rates).map(([k, v]) => [k, round1(v)]),
  ) as unknown as MachineRates;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function percent(x: number | ""): string {
  return x === "" || Number.isNaN(x) ? "-" : `${Math.round(x * 100)}%`;
}
