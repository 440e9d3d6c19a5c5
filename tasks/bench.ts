/**
 * `deno task bench`: the original design's benchmark (end-to-end delivery time, message
 * preparation time, mix latency over clients x message size, round 0.1 s), and a scale mode.
 * Writes `docs/benchmarks/<date>-<name>.csv` and SVG plots beside it.
 *
 *   deno task bench [--quick] [--repeat 3] [--name NAME] [--clients 2,5] [--sizes 10,1000]
 *                   [--in-process]   (every node in the benchmark's process, as the original)
 *   deno task bench --scale [--clients 100,1000,10000]
 *   deno task bench --load [--clients 200] [--round 0.5] [--minutes 2]
 *   deno task bench --capacity [--sizes 1024,100000,1000000] [--seconds 60] [--clients 10]
 *                   [--round 0.1] [--probes 12]   (largest load sustained, per size)
 *   deno task bench --from docs/benchmarks/<date>-<name>.csv   (summary and plots again)
 *
 * @module
 */
import { join } from "node:path";
import { MAX_PAYLOAD_SIZE } from "../src/config/mod.ts";
import { errorMessage } from "../src/errors.ts";
import { flag, parseFlags, UsageError } from "../src/flags.ts";
import { type PointResult, ROUND_S, runPoint } from "./_bench/point.ts";
import { renderPlot, type SummaryRow } from "./_bench/plots.ts";
import { runScale, type ScaleResult } from "./_bench/scale.ts";
import { runLoad } from "./_bench/load.ts";
import { runProbe } from "./_bench/capacity_probe.ts";
import { searchCapacity, type SearchProbe } from "./_bench/capacity.ts";
import { type CapacityRow, capacityRow, capacityTables } from "./_bench/capacity_report.ts";
import { boundMbS, byteWork, measureMachineRates } from "./_bench/machine_rates.ts";

const FULL = {
  clients: [2, 3, 4, 5, 6, 7, 8, 9, 10],
  sizes: [10, 100, 1_000, 10_000, 100_000, 1_000_000],
};
const QUICK = { clients: [2, 5, 10], sizes: [10, 1_000, 1_000_000] };
const SCALE = [100, 1_000, 10_000];
/** Capacity mode: the sizes, the client processes (as the original grid's largest), the run. */
const CAPACITY = { sizes: [1_024, 100_000, 1_000_000], clients: 10, seconds: 60, probes: 12 };
/** Round durations the capacity search may probe: the config's least, and a generous most. */
const CAPACITY_ROUNDS = { min: 0.01, max: 10 };
const OUT = "docs/benchmarks";

const USAGE = `Usage: deno task bench [--quick] [--repeat N] [--name NAME] [--clients 2,5]
                       [--sizes 10,1000] [--in-process] [--out DIR]
       deno task bench --scale [--clients 100,1000,10000]
       deno task bench --load [--clients 200] [--round S] [--minutes M]
       deno task bench --capacity [--sizes 1024,100000,1000000] [--seconds 60] [--clients 10]
                       [--round S] [--probes 12]
       deno task bench --from docs/benchmarks/<date>-<name>.csv`;
const FLAGS = {
  quick: flag.switch(),
  scale: flag.switch(),
  load: flag.switch(),
  capacity: flag.switch(),
  seconds: flag.number({ min: 0, max: 24 * 3600, exclusiveMin: true }),
  probes: flag.int({ min: 1, max: 1000 }),
  round: flag.number({ min: 0.01, max: 3600 }),
  minutes: flag.number({ min: 0, max: 24 * 60, exclusiveMin: true }),
  repeat: flag.int({ min: 1, max: 1000 }),
  name: flag.text(),
  clients: flag.intList({ min: 1, max: 1_000_000 }),
  sizes: flag.intList({ min: 1, max: MAX_PAYLOAD_SIZE }),
  out: flag.text(),
  from: flag.text(),
  "in-process": flag.switch(),
  help: flag.switch("h"),
};

async function main(): Promise<void> {
  const { values } = parseFlags(Deno.args, FLAGS);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const list = (given: number[] | undefined, fallback: number[]) => given ?? fallback;
  const date = new Date().toISOString().slice(0, 10);
  const out = values.out ?? OUT;
  await Deno.mkdir(out, { recursive: true });

  if (values.capacity) {
    await capacity({
      sizes: list(values.sizes, CAPACITY.sizes),
      clients: values.clients?.[0] ?? CAPACITY.clients,
      startRoundS: values.round ?? ROUND_S,
      seconds: values.seconds ?? CAPACITY.seconds,
      probes: values.probes ?? CAPACITY.probes,
      prefix: join(out, `${date}-${values.name ?? "capacity"}`),
    });
  } else if (values.load) {
    const name = values.name ?? "load";
    const result = await runLoad(
      list(values.clients, [200])[0],
      values.round ?? 0.5,
      values.minutes ?? 2,
      (line) => console.error(`[load] ${line}`),
    );
    console.log(JSON.stringify(result));
    const csv = join(out, `${date}-${name}.csv`);
    await Deno.writeTextFile(csv, toCsv([result]));
    console.log(`wrote ${csv}`);
  } else if (values.scale) {
    const name = values.name ?? "scale";
    const rows: ScaleResult[] = [];
    for (const n of list(values.clients, SCALE)) {
      const result = await runScale(n, (line) => console.error(`[${n} clients] ${line}`));
      console.log(JSON.stringify(result));
      rows.push(result);
    }
    const csv = join(out, `${date}-${name}.csv`);
    await Deno.writeTextFile(csv, toCsv(rows as unknown as Record<string, number>[]));
    console.log(`wrote ${csv}`);
  } else if (values.from) {
    const rows = parseCsv(await Deno.readTextFile(values.from)) as unknown as BenchRow[];
    await writeReport(values.from.replace(/\.csv$/, ""), rows);
  } else {
    const grid = values.quick ? QUICK : FULL;
    const clients = list(values.clients, grid.clients);
    const sizes = list(values.sizes, grid.sizes);
    const repeat = values.repeat ?? 3;
    const name = values.name ?? (values.quick ? "quick" : "full");
    const total = clients.length * sizes.length * repeat;
    const rows: BenchRow[] = [];
    const failures: string[] = [];
    const progress = new Progress(total);
    for (const n of clients) {
      for (const size of sizes) {
        for (let r = 1; r <= repeat; r++) {
          progress.show(`${n} clients x ${size} B, run ${r}`);
          try {
            const result = await runPoint(n, size, { inProcess: values["in-process"] });
            rows.push({ num_clients: n, message_size: size, repeat: r, ...result });
            progress.done(
              `${n} clients x ${size} B #${r}: prepare ${fmt(result.prepare_s)} s, ` +
                `mix ${fmt(result.mix_latency_s)} s, e2e ${fmt(result.e2e_s)} s`,
            );
          } catch (error) {
            // A point that fails (a message that never arrives) is reported, not fatal.
            const why = `${n} clients x ${size} B #${r}: ${(error as Error).message}`;
            failures.push(why);
            progress.done(`FAILED ${why}`);
          }
        }
      }
    }
    const prefix = join(out, `${date}-${name}`);
    await Deno.writeTextFile(`${prefix}.csv`, toCsv(rows, COLUMNS));
    await writeReport(prefix, rows);
    if (failures.length) {
      console.log(`${failures.length} points failed:\n${failures.join("\n")}`);
      await Deno.writeTextFile(`${prefix}-failures.txt`, failures.join("\n") + "\n");
    }
  }
}

const PROBE_COLUMNS = [
  "payload_size",
  "clients",
  "stage",
  "round_s",
  "offered_mb_s",
  "carried_mb_s",
  "sustained",
  "reason",
  "p50_latency_s",
  "p99_latency_s",
  "max_latency_s",
  "period_s",
  "rounds",
  "paused",
  "missing_packets",
  "undelivered",
  "window_s",
  "machine_busy",
  "load_1m",
  "mixes",
  "fetch_size",
];

/**
 * Capacity mode: per size, the machine's rates for its bytes, then the search for the largest
 * load sustained. Writes every probe to `<prefix>.csv` and a row per size to
 * `<prefix>-summary.csv`, and prints the summary's tables.
 */
async function capacity(o: {
  sizes: number[];
  clients: number;
  startRoundS: number;
  seconds: number;
  probes: number;
  prefix: string;
}): Promise<void> {
  const probes: SearchProbe[] = [];
  const rows: CapacityRow[] = [];
  for (const size of o.sizes) {
    const log = (line: string) => console.error(`[capacity ${size} B] ${line}`);
    // Measured first, before this size's networks load the machine.
    const rates = await measureMachineRates(size);
    log(
      `machine rates (MB/s): ${
        JSON.stringify(rates, (_, v) => typeof v === "number" ? Math.round(v) : v)
      }`,
    );
    const search = await searchCapacity(
      {
        clients: o.clients,
        payloadSize: size,
        startRoundS: o.startRoundS,
        minRoundS: CAPACITY_ROUNDS.min,
        maxRoundS: CAPACITY_ROUNDS.max,
        seconds: o.seconds,
        probes: o.probes,
      },
      runProbe,
      log,
    );
    probes.push(...search.probes);
    const { mixes, fetch_size } = search.probes[0];
    const bound = boundMbS(rates, byteWork(mixes, fetch_size), navigator.hardwareConcurrency);
    rows.push(capacityRow(search, rates, bound));
    console.log(JSON.stringify(rows[rows.length - 1]));
  }
  await Deno.writeTextFile(`${o.prefix}.csv`, toCsv(probes, PROBE_COLUMNS));
  await Deno.writeTextFile(`${o.prefix}-summary.csv`, toCsv(rows));
  console.log(`wrote ${o.prefix}.csv and ${o.prefix}-summary.csv`);
  console.log(capacityTables(rows));
}

const COLUMNS = ["num_clients", "message_size", "repeat", "prepare_s", "mix_latency_s", "e2e_s"];

/** Writes `<prefix>-summary.csv` and the two plots of a run, and prints its table. */
async function writeReport(prefix: string, rows: readonly BenchRow[]): Promise<void> {
  const summary = summarise(rows);
  await Deno.writeTextFile(`${prefix}-summary.csv`, toCsv(summary));
  for (const x of ["clients", "size"] as const) {
    await Deno.writeTextFile(`${prefix}-by-${x}.svg`, await renderPlot(summary, x));
  }
  console.log(`wrote ${prefix}.csv, its summary and plots`);
  console.log(markdownTable(summary));
}

/** Rows of a CSV written by {@link toCsv}, numbers as numbers. */
function parseCsv(text: string): Record<string, number>[] {
  const [header, ...lines] = text.trim().split("\n");
  const columns = header.split(",");
  return lines.map((line) =>
    Object.fromEntries(line.split(",").map((value, i) => [columns[i], Number(value)]))
  );
}

type BenchRow = PointResult & { num_clients: number; message_size: number; repeat: number };

function summarise(rows: readonly BenchRow[]): SummaryRow[] {
  const groups = new Map<string, BenchRow[]>();
  for (const row of rows) {
    const key = `${row.num_clients}/${row.message_size}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const summary: SummaryRow[] = [];
  for (const group of groups.values()) {
    for (const metric of ["prepare_s", "mix_latency_s", "e2e_s"] as const) {
      const sorted = group.map((r) => r[metric]).sort((a, b) => a - b);
      summary.push({
        num_clients: group[0].num_clients,
        message_size: group[0].message_size,
        metric,
        median: (sorted[Math.floor((sorted.length - 1) / 2)] +
          sorted[Math.ceil((sorted.length - 1) / 2)]) / 2,
        min: sorted[0],
      });
    }
  }
  return summary;
}

function markdownTable(summary: readonly SummaryRow[]): string {
  const lines = [
    "| clients | size (B) | prepare_s min / median | mix_latency_s min / median | e2e_s min / median |",
    "|---|---|---|---|---|",
  ];
  const points = new Map<string, SummaryRow[]>();
  for (const row of summary) {
    const key = `${row.num_clients}|${row.message_size}`;
    points.set(key, [...(points.get(key) ?? []), row]);
  }
  for (const [key, rows] of points) {
    const cell = (m: SummaryRow["metric"]) => {
      const r = rows.find((x) => x.metric === m)!;
      return `${fmt(r.min)} / ${fmt(r.median)}`;
    };
    const [n, size] = key.split("|");
    lines.push(
      `| ${n} | ${Number(size).toLocaleString("en")} | ${cell("prepare_s")} | ${
        cell("mix_latency_s")
      } | ${cell("e2e_s")} |`,
    );
  }
  return lines.join("\n");
}

function toCsv(rows: readonly object[], columns?: string[]): string {
  const cols = columns ?? Object.keys(rows[0] ?? {});
  // Text with a comma or a quote is quoted, as RFC 4180 has it.
  const cell = (value: unknown) => {
    const text = String(value);
    return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const body = rows.map((row) =>
    cols.map((c) => cell((row as Record<string, unknown>)[c])).join(",")
  );
  return [cols.join(","), ...body].join("\n") + "\n";
}

function fmt(seconds: number): string {
  return seconds < 0.01 ? seconds.toFixed(5) : seconds.toFixed(3);
}

/** A progress bar on a TTY; plain lines otherwise. */
class Progress {
  readonly #total: number;
  #done = 0;
  readonly #tty = Deno.stdout.isTerminal();
  readonly #encoder = new TextEncoder();

  constructor(total: number) {
    this.#total = total;
  }

  show(what: string): void {
    if (!this.#tty) return;
    const width = 30;
    const filled = Math.round((this.#done / this.#total) * width);
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    Deno.stdout.writeSync(
      this.#encoder.encode(`\r\x1b[2K[${bar}] ${this.#done}/${this.#total} ${what}`),
    );
  }

  done(line: string): void {
    this.#done++;
    if (this.#tty) Deno.stdout.writeSync(this.#encoder.encode("\r\x1b[2K"));
    console.log(`${this.#done}/${this.#total} ${line}`);
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`bench: ${errorMessage(error)}`);
    if (error instanceof UsageError) console.error(USAGE);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}
