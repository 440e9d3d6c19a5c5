/**
 * Configs derived from a base config for a run: another number of clients, other ports, or
 * free ports found at run time, written into a temp folder that also holds that run's keys and
 * state, so two networks can run side by side.
 *
 * @module
 */
import { parse, stringify } from "yaml";
import { join } from "node:path";
import { type Config, loadConfig } from "../src/config/mod.ts";
import { createSealedBox, ensureKeyPair, publicKeyPath, secretKeyPath } from "../src/crypto/mod.ts";

/** How to derive a config. */
export interface DeriveOptions {
  /** Number of clients (ids client_1…client_N); default the base config's. */
  readonly clients?: number;
  /** First port: mixes take base, base+1, …, clients follow; default free ports. */
  readonly basePort?: number;
  /** Round length in seconds; default the base config's. */
  readonly roundDuration?: number;
  /** Folder to write into; default a new temp folder. */
  readonly dir?: string;
}

/** Loopback ports that are free right now. */
export function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

/**
 * Writes a config derived from `basePath` into a folder of its own (keys and state inside it)
 * and returns its path.
 *
 * @throws {ConfigError} when the base config is invalid.
 */
export async function deriveConfig(basePath: string, options: DeriveOptions = {}): Promise<string> {
  const base = await loadConfig(basePath);
  const raw = parse(await Deno.readTextFile(basePath)) as Record<string, unknown>;
  const mixes = base.mixServers.length;
  const clients = options.clients ?? base.clients.length;
  const ports = options.basePort !== undefined
    ? Array.from({ length: mixes + clients }, (_, i) => options.basePort! + i)
    : freePorts(mixes + clients);
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "mixnet-network-" });
  const document = {
    ...raw,
    messages_per_round: Math.min(base.messagesPerRound, clients),
    ...(options.roundDuration ? { round_duration: options.roundDuration } : {}),
    mix_servers: base.mixServers.map((m, i) => ({ id: m.id, address: `127.0.0.1:${ports[i]}` })),
    clients: Array.from({ length: clients }, (_, i) => ({
      id: base.clients[i]?.id ?? `client_${i + 1}`,
      address: `127.0.0.1:${ports[mixes + i]}`,
    })),
    keys_dir: "secret",
    data_dir: "data",
  };
  const path = join(dir, "config.yaml");
  await Deno.writeTextFile(path, stringify(document));
  return path;
}

/** What {@link generateKeys} did for each node. */
export interface KeygenReport {
  readonly created: string[];
  readonly kept: string[];
}

/**
 * Creates a key pair for every mix and client of `config` that lacks one (all of them with
 * `force`), and (re)publishes every public key file.
 *
 * @throws {CryptoError} when an existing secret key is unusable (the message says how to fix it).
 */
export async function generateKeys(config: Config, force = false): Promise<KeygenReport> {
  const box = await createSealedBox(config.cryptoBackend);
  const report: KeygenReport = { created: [], kept: [] };
  for (const node of [...config.mixServers, ...config.clients]) {
    const { created } = await ensureKeyPair(
      box,
      { configDir: config.dir, keysDir: config.keysDir },
      node.id,
      { force },
    );
    (created ? report.created : report.kept).push(node.id);
  }
  return report;
}

/** Removes every node's key files (the `--ephemeral` clean-up). */
export async function removeKeys(config: Config): Promise<void> {
  for (const node of [...config.mixServers, ...config.clients]) {
    for (
      const path of [publicKeyPath(config.dir, node.id), secretKeyPath(config.keysDir, node.id)]
    ) {
      await Deno.remove(path).catch(() => {});
    }
  }
}
