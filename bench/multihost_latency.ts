/**
 * Round latency of a network on five hosts (network namespaces, as the multi-host test makes
 * them), TLS on, with a given one-way delay on every link. The kernel here has no netem, so
 * the delay is a relay in each receiving host that holds every chunk that long (the node
 * listens on loopback behind it: `listen` differs from `address`). Needs root.
 *
 *   deno run -A bench/multihost_latency.ts [--delay-ms 25] [--rounds 20] [--round-duration 1]
 *
 * Reports, per round, the time from the round's send time to the first mix's batch processed,
 * and to the last mix's batch stored.
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { loadConfig } from "../src/config/mod.ts";
import { createSealedBox, ensureKeyPair, ensureTlsIdentity } from "../src/crypto/mod.ts";
import { HostNetwork, HostProcess } from "../tests/_testkit/netns.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const NODES = [
  { id: "mix_1", role: "mix", octet: 1, port: 50051 },
  { id: "mix_2", role: "mix", octet: 2, port: 50052 },
  { id: "mix_3", role: "mix", octet: 3, port: 50053 },
  { id: "client_1", role: "client", octet: 11, port: 50061 },
  { id: "client_2", role: "client", octet: 12, port: 50062 },
] as const;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "delay-ms": { type: "string", default: "0" },
    rounds: { type: "string", default: "20" },
    "round-duration": { type: "string", default: "1" },
  },
});
const delayMs = Number(values["delay-ms"]);
const rounds = Number(values.rounds);
const roundDuration = Number(values["round-duration"]);

const time = (line: string) => Date.parse(line.slice(0, 24));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = await Deno.makeTempDir({ prefix: "mixnet-latency-" });
const processes: HostProcess[] = [];
const network = await HostNetwork.create();
try {
  const relayed = delayMs > 0;
  const document = {
    messages_per_round: 2,
    round_duration: roundDuration,
    round_timeout: roundDuration * 0.8,
    dummy_payload: "dummy",
    mix_servers: [] as object[],
    clients: [] as object[],
  };
  for (const node of NODES) {
    const host = await network.add(node.id, node.octet);
    const entry = {
      id: node.id,
      address: `${host.address}:${node.port}`,
      listen: relayed ? `127.0.0.1:${node.port + 1000}` : `0.0.0.0:${node.port}`,
    };
    (node.role === "mix" ? document.mix_servers : document.clients).push(entry);
    if (relayed) {
      const relay = new HostProcess(host, `relay ${node.id}`, Deno.execPath(), [
        "run",
        "--allow-net",
        `${ROOT}bench/_delay_relay.ts`,
        entry.address,
        entry.listen,
        String(delayMs),
      ]);
      processes.push(relay);
      await relay.waitForLine(/ready/);
    }
  }
  await Deno.writeTextFile(`${dir}/config.yaml`, stringify(document));
  const config = await loadConfig(`${dir}/config.yaml`);
  const box = await createSealedBox(config.cryptoBackend);
  for (const node of NODES) {
    const paths = { configDir: dir, keysDir: config.keysDir };
    await ensureKeyPair(box, paths, node.id);
    await ensureTlsIdentity(paths, node.id);
  }
  const start = (node: (typeof NODES)[number]) => {
    const process = new HostProcess(
      network.host(node.id),
      node.id,
      `${ROOT}bin/mixnet`,
      [node.role, "--id", node.id, "--config", `${dir}/config.yaml`],
      { DENO: Deno.execPath() },
    );
    processes.push(process);
    return process;
  };
  const mixes = NODES.filter((n) => n.role === "mix").map(start);
  await Promise.all(mixes.map((m) => m.waitForLine(/ ready /)));
  const clients = NODES.filter((n) => n.role === "client").map(start);
  await Promise.all(clients.map((c) => c.waitForLine(/ ready /)));
  const epoch = Number(/epoch_ms=(\d+)/.exec(await mixes[0].waitForLine(/rounds start/))![1]);
  const first = Math.ceil((Date.now() - epoch) / (roundDuration * 1000)) + 1;
  const last = first + rounds - 1;
  await mixes[2].waitForLine(new RegExp(`round stored round=${last} `), (rounds + 30) * 1000);
  const toFirst: number[] = [];
  const toLast: number[] = [];
  for (let round = first; round <= last; round++) {
    const sentAt = epoch + (round + 1) * roundDuration * 1000;
    const processed = mixes[0].lines.find((l) => l.includes(`round processed round=${round} `));
    const stored = mixes[2].lines.find((l) => l.includes(`round stored round=${round} `));
    if (processed) toFirst.push(time(processed) - sentAt);
    if (stored) toLast.push(time(stored) - sentAt);
  }
  const summary = (xs: number[]) =>
    `min ${Math.min(...xs)} / median ${median(xs)} / max ${
      Math.max(...xs)
    } ms (${xs.length} rounds)`;
  console.log(`one-way delay per link ${delayMs} ms, rounds of ${roundDuration} s, TLS on`);
  console.log(`  send time -> mix_1 batch processed: ${summary(toFirst)}`);
  console.log(`  send time -> mix_3 batch stored:    ${summary(toLast)}`);
} finally {
  for (const process of processes.reverse()) await process.stop("SIGTERM", 10_000);
  await network.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
