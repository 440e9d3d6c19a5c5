/**
 * The one writer of a network's config for a run: any number of mixes and clients on free
 * loopback ports (or from a base port), from a base config or from nothing, written into a
 * temp folder that also holds that run's keys and state, so that networks run side by side.
 * The network and demo tasks, the benchmarks and the tests all write theirs here.
 *
 * @module
 */
import { parse, stringify } from "yaml";
import { join } from "node:path";
import { type Config, loadConfig } from "../../src/config/mod.ts";
import {
  createSealedBox,
  ensureKeyPair,
  type KeyPair,
  publicKeyPath,
  secretKeyPath,
} from "../../src/crypto/mod.ts";

/** The shape of a network to write; every field has a default. */
export interface NetworkSpec {
  /** The config document to start from (its keys are kept unless replaced); default none. */
  readonly base?: Readonly<Record<string, unknown>>;
  /** Mix ids in cascade order; default those of `base`, else `mix_1`…`mix_<mixes>`. */
  readonly mixIds?: readonly string[];
  /** Number of mixes when `mixIds` and `base` give none; default 3. */
  readonly mixes?: number;
  /** Number of clients (ids of `base` first, then `client_<i>`); default `base`'s, else 3. */
  readonly clients?: number;
  /** Default: `base`'s, at most the number of clients; else every client. */
  readonly messagesPerRound?: number;
  /** Seconds; default `base`'s, else 1. */
  readonly roundDuration?: number;
  /** Seconds; default `base`'s (or the config's own default). */
  readonly roundTimeout?: number;
  /** Bytes; default `base`'s (or the config's own default). */
  readonly payloadSize?: number;
  /**
   * First port: mixes take base, base+1, …, clients follow, then the mixes' wire ports; default
   * free ports.
   */
  readonly basePort?: number;
  /** Whether mixes get a wire port; default true (false: every call over gRPC). */
  readonly wire?: boolean;
  /**
   * Clients nothing will serve (a load generator holds their identities): they get placeholder
   * ports instead of free ones.
   */
  readonly unservedClients?: boolean;
  /** More top-level keys, e.g. `min_batch`; they win over everything above. */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** Folder to write into; default a new temp folder named with `prefix`. */
  readonly dir?: string;
  /** Prefix of the temp folder; default `mixnet-network-`. */
  readonly prefix?: string;
}

/**
 * Loopback ports that are free right now, none of them in `exclude`: the ports of a config
 * already written are free too until its nodes start, and the system may offer them again.
 */
export function freePorts(count: number, exclude: Iterable<number> = []): number[] {
  const excluded = new Set(exclude);
  // Every listener stays open until all are found, so that no port is offered twice.
  const held: Deno.Listener[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      held.push(listener);
      const port = (listener.addr as Deno.NetAddr).port;
      if (!excluded.has(port)) ports.push(port);
    }
  } finally {
    for (const listener of held) listener.close();
  }
  return ports;
}

/** Writes `config.yaml` of the network `spec` describes and returns its path. */
export async function writeNetworkConfig(spec: NetworkSpec = {}): Promise<string> {
  const base = spec.base ?? {};
  const nodeIds = (key: string) =>
    Array.isArray(base[key]) ? (base[key] as { id: string }[]).map((n) => n.id) : undefined;
  const mixIds = spec.mixIds ?? nodeIds("mix_servers") ??
    Array.from({ length: spec.mixes ?? 3 }, (_, i) => `mix_${i + 1}`);
  const baseClients = nodeIds("clients") ?? [];
  const clients = spec.clients ?? (baseClients.length || 3);
  const clientIds = Array.from({ length: clients }, (_, i) => baseClients[i] ?? `client_${i + 1}`);
  const wire = spec.wire ?? true;
  const served = mixIds.length + (spec.unservedClients ? 0 : clients);
  const ports = spec.basePort !== undefined
    ? Array.from({ length: mixIds.length + clients }, (_, i) => spec.basePort! + i)
    : freePorts(served);
  // Clients that serve nothing (the scale benchmark's) get placeholder addresses on loopback
  // addresses no node binds, 40,000 per address, so 100,000 of them stay within the port range
  // and none can take a mix's port.
  const clientAddress = (i: number) =>
    spec.unservedClients
      ? `127.${1 + Math.floor(i / 40_000)}.0.1:${20_000 + i % 40_000}`
      : `127.0.0.1:${ports[mixIds.length + i]}`;
  const wirePorts = !wire
    ? []
    : spec.basePort !== undefined
    ? mixIds.map((_, i) => spec.basePort! + mixIds.length + clients + i)
    : freePorts(mixIds.length, ports);
  const baseMessages = typeof base.messages_per_round === "number"
    ? base.messages_per_round
    : clients;
  const document = {
    ...base,
    messages_per_round: spec.messagesPerRound ?? Math.min(baseMessages, clients),
    round_duration: spec.roundDuration ?? base.round_duration ?? 1,
    ...(spec.roundTimeout === undefined ? {} : { round_timeout: spec.roundTimeout }),
    dummy_payload: base.dummy_payload ?? "dummy",
    ...(spec.payloadSize === undefined ? {} : { payload_size: spec.payloadSize }),
    mix_servers: mixIds.map((id, i) => ({
      id,
      address: `127.0.0.1:${ports[i]}`,
      ...(wire ? { wire_port: wirePorts[i] } : {}),
    })),
    clients: clientIds.map((id, i) => ({ id, address: clientAddress(i) })),
    keys_dir: "secret",
    data_dir: "data",
    ...spec.extra,
  };
  const dir = spec.dir ?? await Deno.makeTempDir({ prefix: spec.prefix ?? "mixnet-network-" });
  const path = join(dir, "config.yaml");
  await Deno.writeTextFile(path, stringify(document));
  return path;
}

/** How {@link deriveConfig} changes the base config. */
export interface DeriveOptions {
  /** Number of clients (ids client_1…client_N); default the base config's. */
  readonly clients?: number;
  /**
   * First port: mixes take base, base+1, …, clients follow, then the mixes' wire ports; default
   * free ports.
   */
  readonly basePort?: number;
  /** Round length in seconds; default the base config's. */
  readonly roundDuration?: number;
  /** Folder to write into; default a new temp folder. */
  readonly dir?: string;
}

/**
 * Writes a config derived from the one at `basePath` into a folder of its own (keys and state
 * inside it) and returns its path.
 *
 * @throws {ConfigError} when the base config is invalid.
 */
export async function deriveConfig(basePath: string, options: DeriveOptions = {}): Promise<string> {
  await loadConfig(basePath);
  const base = parse(await Deno.readTextFile(basePath)) as Record<string, unknown>;
  return await writeNetworkConfig({ base, ...options });
}

/** What {@link generateKeys} did for each node, and every node's key pair. */
export interface KeygenReport {
  readonly created: string[];
  readonly kept: string[];
  readonly pairs: Map<string, KeyPair>;
}

/**
 * Creates a key pair for every mix and client of `config` that lacks one (all of them with
 * `force`), and (re)publishes every public key file.
 *
 * @throws {CryptoError} when an existing secret key is unusable (the message says how to fix it).
 */
export async function generateKeys(config: Config, force = false): Promise<KeygenReport> {
  const box = await createSealedBox(config.cryptoBackend);
  const report: KeygenReport = { created: [], kept: [], pairs: new Map() };
  for (const node of [...config.mixServers, ...config.clients]) {
    const { pair, created } = await ensureKeyPair(
      box,
      { configDir: config.dir, keysDir: config.keysDir },
      node.id,
      { force },
    );
    (created ? report.created : report.kept).push(node.id);
    report.pairs.set(node.id, pair);
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
