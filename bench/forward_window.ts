/**
 * One round's batch sent with `ForwardBatch` to another process, as a mix forwards it, to a
 * server that advertises HTTP/2's default 64 KB receive window and to one with the window
 * mixnet's servers use (src/rpc/server.ts), alternated call by call so that both see the same
 * machine: 10 x 1 MB and 10 x 100 KB (the original benchmark's large points) and 10,000 x 1 KiB.
 * Prints the median and the 10th to 90th percentile of each.
 *
 *   deno run --allow-read --allow-net=127.0.0.1 --allow-env --allow-sys --allow-run=deno \
 *     bench/forward_window.ts [--calls N (per point, default 40)]
 */
import { fileURLToPath } from "node:url";
import { flag, parseFlags } from "../src/flags.ts";
import { MixServerStub, packChunks, RECEIVE_WINDOW_BYTES } from "../src/rpc/mod.ts";
import { startDenoServer } from "../tasks/launch/mod.ts";

const WINDOWS = { "64 KB": 65_535, "16 MiB": RECEIVE_WINDOW_BYTES };
const BATCHES = [
  { label: "10 x 1 MB", count: 10, bytes: 1_000_000 },
  { label: "10 x 100 KB", count: 10, bytes: 100_000 },
  { label: "10,000 x 1 KiB", count: 10_000, bytes: 1024 },
];
const CALLS = parseFlags(Deno.args, { calls: flag.int({ min: 1 }) }).values.calls ?? 40;
const SERVER = fileURLToPath(new URL("./_forward_server.ts", import.meta.url));
const PERMISSIONS = ["--allow-read", "--allow-net=127.0.0.1", "--allow-env", "--allow-sys"];

/** Starts a receiving process with `window` and returns it with a stub to it. */
async function receiver(window: number) {
  const { child, firstLine } = await startDenoServer(
    [...PERMISSIONS, SERVER, "--window", String(window)],
  );
  const port = Number(firstLine);
  const stub = new MixServerStub(`127.0.0.1:${port}`, { maxMessageBytes: 64 * 1024 * 1024 });
  return { child, stub };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const receivers = await Promise.all(Object.values(WINDOWS).map(receiver));
try {
  const mac = new Uint8Array(32);
  for (const { label, count, bytes } of BATCHES) {
    const chunks = packChunks(Array.from({ length: count }, () => new Uint8Array(bytes).fill(1)));
    const requests = chunks.map(({ packed, packetBytes }, chunk) => ({
      round: 1,
      packets: [],
      packed,
      packet_bytes: packetBytes,
      mix_id: "mix_1",
      mac,
      chunk,
      chunks: chunks.length,
    }));
    const times: number[][] = receivers.map(() => []);
    for (let call = -3; call < CALLS; call++) {
      // A B, then B A: neither window always goes first.
      const order = call % 2 === 0 ? [0, 1] : [1, 0];
      for (const r of order) {
        const start = performance.now();
        await receivers[r].stub.forwardBatch(requests);
        if (call >= 0) times[r].push(performance.now() - start);
      }
    }
    Object.keys(WINDOWS).forEach((name, r) => {
      const sorted = times[r].sort((a, b) => a - b);
      const [p10, p50, p90] = [0.1, 0.5, 0.9].map((p) => percentile(sorted, p).toFixed(1));
      console.log(
        `${label}, ${name} window: median ${p50} ms (p10 ${p10}, p90 ${p90}; ${CALLS} calls)`,
      );
    });
  }
} finally {
  for (const { child, stub } of receivers) {
    stub.close();
    child.kill();
    await child.status;
  }
}
