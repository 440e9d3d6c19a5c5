/**
 * The benchmark's plots, rendered to SVG headlessly with Vega-Lite: the three metrics against
 * the number of clients (a line per message size) and against message size on a log axis (a
 * line per client count).
 *
 * @module
 */
import * as vega from "vega";
import * as vl from "vega-lite";

/** One summarised point: the median of its repeats. */
export interface SummaryRow {
  readonly num_clients: number;
  readonly message_size: number;
  readonly metric: "prepare_s" | "mix_latency_s" | "e2e_s";
  readonly median: number;
  readonly min: number;
}

const TITLES = {
  prepare_s: "Message preparation time (s)",
  mix_latency_s: "Mix latency, first mix in to last mix stored (s)",
  e2e_s: "End-to-end delivery time (s)",
} as const;

/** Renders the metrics against `x` (clients or size) as one SVG with a panel per metric. */
export async function renderPlot(
  rows: readonly SummaryRow[],
  x: "clients" | "size",
): Promise<string> {
  const byClients = x === "clients";
  const panel = (metric: SummaryRow["metric"]) => ({
    title: TITLES[metric],
    width: 300,
    height: 220,
    transform: [{ filter: { field: "metric", equal: metric } }],
    mark: { type: "line", point: true },
    encoding: {
      x: byClients ? { field: "num_clients", type: "quantitative", title: "Number of clients" } : {
        field: "message_size",
        type: "quantitative",
        scale: { type: "log" },
        title: "Message size (bytes, log scale)",
      },
      y: { field: "median", type: "quantitative", title: "seconds (median)" },
      color: byClients
        ? { field: "message_size", type: "ordinal", title: "Message size (B)" }
        : { field: "num_clients", type: "ordinal", title: "Clients" },
    },
  });
  const spec = vl.compile({
    data: { values: rows as unknown as Record<string, unknown>[] },
    hconcat: (["prepare_s", "mix_latency_s", "e2e_s"] as const).map(panel),
    resolve: { scale: { y: "independent" } },
  } as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
