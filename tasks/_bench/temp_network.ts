/**
 * A throwaway network for one benchmark point: a config on free loopback ports in a temp dir,
 * keys for every node, and its mixes and clients as subprocesses with metrics files.
 *
 * @module
 */
import { stringify } from "yaml";
import { type Config, loadConfig } from "../../src/config/mod.ts";
import { createSealedBox, ensureKeyPair, type KeyPair } from "../../src/crypto/mod.ts";
import { NodeProcess } from "../_launcher.ts";
import { freePorts } from "../_network_config.ts";

/** Shape of a benchmark network. */
export interface TempNetworkSpec {
  readonly clients: number;
  readonly payloadSize: number;
  readonly roundDuration: number;
  readonly roundTimeout: number;
  /** Start client processes too (false for the scale load generator). */
  readonly startClients: boolean;
  /** `min_batch` (default: the config's default, every client). */
  readonly minBatch?: number;
}

/** A running benchmark network. */
export interface TempNetwork {
  readonly dir: string;
  readonly config: Config;
  readonly keys: Map<string, KeyPair>;
  readonly mixes: NodeProcess[];
  readonly clients: NodeProcess[];
  /** Path of node `id`'s metrics file (JSON lines). */
  metricsFile(id: string): string;
  /** Stops every process (SIGTERM) and removes the temp dir. */
  stop(): Promise<void>;
}

/** Writes the config and keys of a network into a temp dir. */
export async function writeTempNetwork(spec: TempNetworkSpec) {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-bench-" });
  const ports = freePorts(3 + (spec.startClients ? spec.clients : 0));
  const document = {
    messages_per_round: spec.clients,
    ...(spec.minBatch === undefined ? {} : { min_batch: spec.minBatch }),
    round_duration: spec.roundDuration,
    round_timeout: spec.roundTimeout,
    dummy_payload: "dummy",
    payload_size: spec.payloadSize,
    mix_servers: [0, 1, 2].map((i) => ({ id: `mix_${i + 1}`, address: `127.0.0.1:${ports[i]}` })),
    clients: Array.from({ length: spec.clients }, (_, i) => ({
      id: `client_${i + 1}`,
      // The scale load generator serves nothing: its clients get placeholder ports.
      address: `127.0.0.1:${spec.startClients ? ports[3 + i] : 20000 + i}`,
    })),
    keys_dir: "secret",
    data_dir: "data",
  };
  await Deno.writeTextFile(`${dir}/config.yaml`, stringify(document));
  const config = await loadConfig(`${dir}/config.yaml`);
  const box = await createSealedBox(config.cryptoBackend);
  const keys = new Map<string, KeyPair>();
  for (const node of [...config.mixServers, ...config.clients]) {
    const { pair } = await ensureKeyPair(box, { configDir: dir, keysDir: config.keysDir }, node.id);
    keys.set(node.id, pair);
  }
  return { dir, config, keys };
}

/** Starts a benchmark network: mixes (last first), then clients, each waited for. */
export async function startTempNetwork(spec: TempNetworkSpec): Promise<TempNetwork> {
  const { dir, config, keys } = await writeTempNetwork(spec);
  const metricsFile = (id: string) => `${dir}/${id}.metrics.jsonl`;
  const start = (role: "mix" | "client", id: string) =>
    new NodeProcess(role, id, config.file, { args: ["--metrics-file", metricsFile(id)] });
  const mixes = config.mixServers.map((m) => start("mix", m.id));
  const clients: NodeProcess[] = [];
  const stop = async () => {
    await Promise.all([...clients, ...mixes].map((p) => p.kill("SIGTERM")));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await Promise.all(mixes.map((m) => m.ready()));
    if (spec.startClients) {
      for (const c of config.clients) clients.push(start("client", c.id));
      await Promise.all(clients.map((c) => c.ready()));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { dir, config, keys, mixes, clients, metricsFile, stop };
}

/** Reads a metrics file's records. */
export async function readMetrics(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}
