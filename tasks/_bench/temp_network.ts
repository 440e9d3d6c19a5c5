/**
 * A throwaway network for one benchmark point: a config on free loopback ports in a temp dir,
 * keys for every node, and its mixes and clients as subprocesses with metrics files, or all in
 * this process as the original benchmark ran them.
 *
 * @module
 */
import { stringify } from "yaml";
import { type Config, loadConfig } from "../../src/config/mod.ts";
import { type ClientNode, startClient } from "../../src/client/mod.ts";
import { createSealedBox, ensureKeyPair, type KeyPair } from "../../src/crypto/mod.ts";
import { createLogger, silentLogger } from "../../src/log.ts";
import { type MixNode, startMix } from "../../src/mix/mod.ts";
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
  /** The log lines of node `id` so far (clients log at debug level). */
  lines(id: string): readonly string[];
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
  const metricsFile = (id: string) => `${dir}/${id}.metrics.jsonl`;
  return { dir, config, keys, metricsFile };
}

/** Starts a benchmark network: mixes (last first), then clients, each waited for. */
export async function startTempNetwork(spec: TempNetworkSpec): Promise<TempNetwork> {
  const { dir, config, keys, metricsFile } = await writeTempNetwork(spec);
  // Clients log at debug level: what each round's packet carried, which the benchmark needs
  // to find its message's round, is logged at no other.
  const start = (role: "mix" | "client", id: string) =>
    new NodeProcess(role, id, config.file, {
      args: [
        "--metrics-file",
        metricsFile(id),
        ...(role === "client" ? ["--log-level", "debug"] : []),
      ],
    });
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
  const lines = (id: string) => [...mixes, ...clients].find((p) => p.id === id)?.lines ?? [];
  return { dir, config, keys, mixes, clients, metricsFile, lines, stop };
}

/** Reads a metrics file's records. */
export async function readMetrics(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** The part of a benchmark network a point needs, however its nodes run. */
export type PointNetwork = Pick<TempNetwork, "dir" | "config" | "metricsFile" | "lines" | "stop">;

/**
 * Starts a benchmark network's mixes and clients in this process, as the original benchmark ran
 * everything in one process. Stops in an order in which no channel in use sees its server go
 * (clients, then the mixes from the first on).
 */
export async function startInProcessNetwork(spec: TempNetworkSpec): Promise<PointNetwork> {
  const { dir, config, keys, metricsFile } = await writeTempNetwork(spec);
  const box = await createSealedBox(config.cryptoBackend);
  const logs = new Map<string, string[]>();
  const clientLogger = (id: string) => {
    logs.set(id, []);
    return createLogger({ name: id, level: "debug", write: (line) => logs.get(id)!.push(line) });
  };
  const optionsOf = (id: string, logger = silentLogger) => ({
    config,
    id,
    box,
    keyPair: keys.get(id)!,
    logger,
    metricsFile: metricsFile(id),
  });
  const mixes: MixNode[] = [];
  const clients: ClientNode[] = [];
  const stop = async () => {
    for (const node of [...clients, ...mixes.toReversed()]) await node.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    for (const { id } of config.mixServers.toReversed()) mixes.push(await startMix(optionsOf(id)));
    if (spec.startClients) {
      // Together: each waits for the start barrier, which needs every client registered.
      clients.push(
        ...await Promise.all(
          config.clients.map(({ id }) => startClient(optionsOf(id, clientLogger(id)))),
        ),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { dir, config, metricsFile, lines: (id) => logs.get(id) ?? [], stop };
}
