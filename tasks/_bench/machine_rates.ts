/**
 * The machine's own rates for the bytes of one packet size, beside which the capacity mode
 * puts what the network sustains: the default sealed box's seal and open (sodium-native),
 * SHA-256 and random fill as the nodes call them (node:crypto), and a copy over loopback TCP
 * between two processes. From these and the work each payload byte costs in a cascade
 * ({@link byteWork}) follows the most the machine could carry if it did nothing else
 * ({@link boundMbS}).
 *
 * @module
 */
import { createHash, randomFillSync } from "node:crypto";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createSealedBox } from "../../src/crypto/mod.ts";
import { childEnv } from "../launch/mod.ts";

const SINK = fileURLToPath(new URL("./tcp_sink.ts", import.meta.url));

/** Rates in MB/s (10^6 bytes) of payload, each on one core unless said otherwise. */
export interface MachineRates {
  /** `crypto_box_seal` of one payload. */
  readonly seal_mb_s: number;
  /** `crypto_box_seal_open` of one sealed payload. */
  readonly open_mb_s: number;
  /** SHA-256 of one payload (what the client's packet MAC and the batch MAC hash). */
  readonly sha256_mb_s: number;
  /** `randomFillSync` of one payload (the last mix's mailbox padding). */
  readonly random_mb_s: number;
  /** Payload-sized writes over loopback TCP to another process, wall clock. */
  readonly tcp_mb_s: number;
  /** The same copy per second of CPU, both processes together. */
  readonly tcp_cpu_mb_s: number;
}

/** How many times one payload byte is sealed, opened, hashed, drawn and copied in a cascade. */
export interface ByteWork {
  /** The client seals the recipient's layer and one layer per mix. */
  readonly seals: number;
  /** Each mix opens its layer (a dummy's innermost layer is never opened). */
  readonly opens: number;
  /** The client's packet MAC and the first mix's check, then each hop's batch MAC twice. */
  readonly hashes: number;
  /** The last mix fills each fetch to `fetch_size` packets with random padding. */
  readonly randoms: number;
  /** Client to first mix, each hop, and `fetch_size` packets back to the client. */
  readonly links: number;
}

/** The work per payload byte of a cascade of `mixes` whose fetches return `fetchSize`. */
export function byteWork(mixes: number, fetchSize: number): ByteWork {
  return {
    seals: mixes + 1,
    opens: mixes,
    hashes: 2 + 2 * (mixes - 1),
    randoms: fetchSize,
    links: mixes + fetchSize,
  };
}

/**
 * The payload rate (MB/s) at which `cores` cores would be busy with nothing but the work of
 * {@link byteWork}: each operation at its measured one-core rate, the copies at their CPU rate.
 * Everything else a node does (framing, storage, the runtime, scheduling) comes on top, so the
 * network's capacity is below it.
 */
export function boundMbS(rates: MachineRates, work: ByteWork, cores: number): number {
  const coreSecondsPerMb = work.seals / rates.seal_mb_s + work.opens / rates.open_mb_s +
    work.hashes / rates.sha256_mb_s + work.randoms / rates.random_mb_s +
    work.links / rates.tcp_cpu_mb_s;
  return cores / coreSecondsPerMb;
}

/**
 * Measures every rate at `payloadSize` bytes, each for about `budgetMs`.
 *
 * @throws {Error} when the loopback sink cannot be started or never connects.
 */
export async function measureMachineRates(
  payloadSize: number,
  budgetMs = 300,
): Promise<MachineRates> {
  const box = await createSealedBox();
  const pair = box.generateKeyPair();
  const payload = new Uint8Array(payloadSize).fill(7);
  const sealed = box.seal(payload, pair.publicKey);
  const tcp = await loopbackRate(payloadSize, 3 * budgetMs);
  return {
    seal_mb_s: rate(payloadSize, budgetMs, () => box.seal(payload, pair.publicKey)),
    open_mb_s: rate(payloadSize, budgetMs, () => box.open(sealed, pair)),
    sha256_mb_s: rate(payloadSize, budgetMs, () => createHash("sha256").update(payload).digest()),
    random_mb_s: rate(payloadSize, budgetMs, () => randomFillSync(payload)),
    tcp_mb_s: tcp.wall,
    tcp_cpu_mb_s: tcp.cpu,
  };
}

/** MB/s of `size`-byte calls of `op`, repeated for `budgetMs` after a few to warm up. */
function rate(size: number, budgetMs: number, op: () => unknown): number {
  for (let i = 0; i < 5; i++) op();
  const start = performance.now();
  let calls = 0;
  let elapsed = 0;
  do {
    op();
    calls++;
    elapsed = performance.now() - start;
  } while (elapsed < budgetMs);
  return (calls * size) / (elapsed * 1000);
}

/**
 * Writes `size`-byte chunks for `budgetMs` to a sink process over loopback; MB/s by the wall
 * clock and per CPU second of both processes.
 */
async function loopbackRate(
  size: number,
  budgetMs: number,
): Promise<{ wall: number; cpu: number }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const child = new Deno.Command("deno", {
    args: ["run", "--allow-net=127.0.0.1", SINK, String(listener.addr.port)],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    clearEnv: true,
    env: childEnv(),
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const exited = child.status.then(async ({ code }) => {
    throw new Error(
      `The loopback sink exited with code ${code} before it connected: ${(await stderr).trim()}`,
    );
  });
  exited.catch(() => {});
  try {
    const conn = await Promise.race([listener.accept(), exited]);
    try {
      const chunk = new Uint8Array(size).fill(7);
      const before = process.cpuUsage();
      const start = performance.now();
      let bytes = 0;
      while (performance.now() - start < budgetMs) {
        for (let sent = 0; sent < size;) sent += await conn.write(chunk.subarray(sent));
        bytes += size;
      }
      await conn.closeWrite();
      // The sink answers once it has read everything; a sink that died answers nothing.
      const answer = await new Response(conn.readable).text();
      if (!answer) throw new Error(`The loopback sink closed without answering: ${await stderr}`);
      const elapsedS = (performance.now() - start) / 1000;
      const used = process.cpuUsage(before);
      const cpuS = (used.user + used.system) / 1e6 + Number(JSON.parse(answer).cpu_s);
      return { wall: bytes / elapsedS / 1e6, cpu: bytes / cpuS / 1e6 };
    } finally {
      try {
        conn.close();
      } catch {
        // Closed by reading its readable to the end.
      }
    }
  } finally {
    listener.close();
    await child.status;
  }
}
