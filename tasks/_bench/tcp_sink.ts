/**
 * The receiving end of the loopback copy rate (machine_rates.ts), run as its own process:
 * connects to `127.0.0.1:<port>`, reads until the sender closes its side, and answers with the
 * CPU seconds the reading took, as JSON, so both ends of the copy are counted.
 *
 *   deno run --allow-net=127.0.0.1 tasks/_bench/tcp_sink.ts <port>
 *
 * @module
 */
import process from "node:process";

/** Reads a connection to its end and answers `{"cpu_s": …}`, the CPU the reading took. */
export async function sink(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const buffer = new Uint8Array(1 << 20);
    let before: NodeJS.CpuUsage | undefined;
    while ((await conn.read(buffer)) !== null) {
      // The bytes are discarded: only the copy is measured, from the first read on.
      before ??= process.cpuUsage();
    }
    const used = process.cpuUsage(before);
    const answer = JSON.stringify({ cpu_s: (used.user + used.system) / 1e6 });
    await conn.write(new TextEncoder().encode(answer));
  } finally {
    conn.close();
  }
}

if (import.meta.main) {
  const port = Number(Deno.args[0]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`tcp_sink: expected a port, got ${JSON.stringify(Deno.args[0])}`);
    Deno.exit(2);
  }
  await sink(port);
}
