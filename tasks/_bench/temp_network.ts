/**
 * A throwaway network for one benchmark point: a config on free loopback ports in a temp dir,
 * keys for every node, and its mixes and clients as subprocesses with metrics files, or all in
 * this process as the original benchmark ran them.
 *
 * @module
 */
import { type Config, loadConfig, type NodeConfig } from "../../src/config/mod.ts";
import { CascadeLink, type ClientNode, startClient } from "../../src/client/mod.ts";
import { createSealedBox, type KeyPair, PeerMac, type SealedBox } from "../../src/crypto/mod.ts";
import { maxMessageBytes, type MixServerCalls, MixServerStub } from "../../src/rpc/mod.ts";
import { createLogger, type LogRecord, silentLogger } from "../../src/log.ts";
import { type MixNode, startMix } from "../../src/mix/mod.ts";
import { WireStub } from "../../src/wire/mod.ts";
import { generateKeys, NodeProcess, writeNetworkConfig } from "../launch/mod.ts";

/** Shape of a benchmark network. */
export interface TempNetworkSpec {
  /** Mixes in the cascade; default 3, as the original benchmark. */
  readonly mixes?: number;
  readonly clients: number;
  readonly payloadSize: number;
  readonly roundDuration: number;
  readonly roundTimeout: number;
  /** Start client processes too (false for the scale load generator). */
  readonly startClients: boolean;
  /** `min_batch` (default: the config's default, every client). */
  readonly minBatch?: number;
  /**
   * Log level of the client processes: `debug` (the default) logs what each round's packet
   * carried, which a point needs to find its message's round; `info` spares a long run a line
   * per client per round.
   */
  readonly clientLogLevel?: "debug" | "info";
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
  /** The log records of node `id` so far (clients log at debug level). */
  records(id: string): readonly LogRecord[];
  /** Stops every process (SIGTERM) and removes the temp dir. */
  stop(): Promise<void>;
}

/** Writes the config and keys of a network into a temp dir. */
export async function writeTempNetwork(spec: TempNetworkSpec) {
  const path = await writeNetworkConfig({
    mixes: spec.mixes ?? 3,
    clients: spec.clients,
    roundDuration: spec.roundDuration,
    roundTimeout: spec.roundTimeout,
    payloadSize: spec.payloadSize,
    // The scale load generator serves nothing: its clients get placeholder ports.
    unservedClients: !spec.startClients,
    extra: spec.minBatch === undefined ? {} : { min_batch: spec.minBatch },
    prefix: "mixnet-bench-",
  });
  const config = await loadConfig(path);
  const keys = (await generateKeys(config)).pairs;
  const dir = config.dir;
  const metricsFile = (id: string) => `${dir}/${id}.metrics.jsonl`;
  return { dir, config, keys, metricsFile };
}

/** Starts a benchmark network: mixes (last first), then clients, each waited for. */
export async function startTempNetwork(spec: TempNetworkSpec): Promise<TempNetwork> {
  const { dir, config, keys, metricsFile } = await writeTempNetwork(spec);
  const start = (role: "mix" | "client", id: string) =>
    new NodeProcess(role, id, config.file, {
      args: [
        "--metrics-file",
        metricsFile(id),
        ...(role === "client" ? ["--log-level", spec.clientLogLevel ?? "debug"] : []),
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
  const records = (id: string) => [...mixes, ...clients].find((p) => p.id === id)?.records ?? [];
  return { dir, config, keys, mixes, clients, metricsFile, records, stop };
}

/** Reads a metrics file's records. */
export async function readMetrics(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** Reads a metrics file as it grows: each call returns the records appended since the last. */
export class MetricsTail {
  readonly #path: string;
  readonly #decoder = new TextDecoder();
  #offset = 0;
  #partial = "";

  /** Follows the metrics file at `path` (which need not exist yet) from its start. */
  constructor(path: string) {
    this.#path = path;
  }

  /** The records written since the last call (none while the file does not exist). */
  async read(): Promise<Record<string, unknown>[]> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.#path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
    try {
      await file.seek(this.#offset, Deno.SeekMode.Start);
      const chunks: string[] = [this.#partial];
      const buffer = new Uint8Array(1 << 16);
      for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
        this.#offset += n;
        chunks.push(this.#decoder.decode(buffer.subarray(0, n), { stream: true }));
      }
      const lines = chunks.join("").split("\n");
      // The last piece is a line still being written (or empty after a complete one).
      this.#partial = lines.pop()!;
      return lines.filter((l) => l.trim()).map((l) => JSON.parse(l));
    } finally {
      file.close();
    }
  }
}

/** The part of a benchmark network a point needs, however its nodes run. */
export type PointNetwork = Pick<TempNetwork, "dir" | "config" | "metricsFile" | "records" | "stop">;

/**
 * Starts a benchmark network's mixes and clients in this process, as the original benchmark ran
 * everything in one process. Stops in an order in which no channel in use sees its server go
 * (clients, then the mixes from the first on).
 */
export async function startInProcessNetwork(spec: TempNetworkSpec): Promise<PointNetwork> {
  const { dir, config, keys, metricsFile } = await writeTempNetwork(spec);
  const box = await createSealedBox(config.cryptoBackend);
  const logs = new Map<string, LogRecord[]>();
  const clientLogger = (id: string) => {
    logs.set(id, []);
    return createLogger({
      name: id,
      level: "debug",
      format: "json",
      write: (line) => logs.get(id)!.push(JSON.parse(line)),
    });
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
  return { dir, config, metricsFile, records: (id) => logs.get(id) ?? [], stop };
}

/** Every client of a benchmark network, simulated by this process (the load generator). */
export interface SimulatedClients {
  /** Each client's calls to the cascade, by id. */
  readonly links: ReadonlyMap<string, CascadeLink>;
  /** The channel every link calls the first mix on (for requests signed in advance). */
  readonly first: MixServerCalls;
  /** Closes the channels to the mixes. */
  close(): void;
}

/** Links for every client of `net`, sharing one channel to the first mix and one to the last. */
export function simulateClients(
  net: Pick<TempNetwork, "config" | "keys">,
  box: SealedBox,
  timeoutMs: number,
): SimulatedClients {
  const { config, keys } = net;
  // As the clients would call the mixes: over their wire ports where they have them.
  const stub = (mix: NodeConfig) => {
    const options = { maxMessageBytes: maxMessageBytes(config), name: mix.id, timeoutMs };
    return {
      stub: mix.wire
        ? new WireStub(mix.wire.address, options)
        : new MixServerStub(mix.address, options),
      publicKey: keys.get(mix.id)!.publicKey,
    };
  };
  const first = stub(config.mixServers[0]);
  const last = stub(config.mixServers[config.mixServers.length - 1]);
  const links = new Map(config.clients.map((c) => [
    c.id,
    new CascadeLink({
      id: c.id,
      address: c.address,
      mac: new PeerMac(box, keys.get(c.id)!),
      first,
      last,
    }),
  ]));
  return {
    links,
    first: first.stub,
    close() {
      first.stub.close();
      last.stub.close();
    },
  };
}
