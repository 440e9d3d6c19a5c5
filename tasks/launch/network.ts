/**
 * A whole network as subprocesses: checks that every port is free, starts the mixes and then
 * the clients, waits for each to be ready, watches for a child that dies, and stops them all.
 *
 * @module
 */
import { type Config, loadConfig, splitAddress } from "../../src/config/mod.ts";
import { MixnetError } from "../../src/errors.ts";
import type { LogRecord } from "../../src/log.ts";
import { listenFailure } from "../../src/rpc/mod.ts";
import { NodeProcess, type Role } from "./node_process.ts";

/** Options of {@link startNetwork}. */
export interface NetworkOptions {
  /**
   * Called with each line of each child: its text, and its log record (undefined for a line
   * that is not one, such as a fatal error).
   */
  readonly onLine?: (id: string, text: string, record: LogRecord | undefined) => void;
  /** Called when a child exits while the network runs (not when it is being stopped). */
  readonly onExit?: (node: NodeProcess, code: number) => void;
  /** Extra flags for every node (e.g. `--log-format json`). */
  readonly args?: (id: string) => string[];
  /** Aborted while the network starts (Ctrl-C): the nodes started so far stop, and it rejects. */
  readonly signal?: AbortSignal;
}

/** A running network. */
export interface RunningNetwork {
  readonly config: Config;
  /** Children by id. */
  readonly nodes: Map<string, NodeProcess>;
  /** Starts node `id` again (after it died). */
  restart(id: string): Promise<void>;
  /** Stops every child gracefully (SIGTERM, then SIGKILL after a bound). */
  stop(): Promise<void>;
}

/**
 * Starts every mix and client of the config at `configPath` and resolves once all are ready.
 *
 * @throws {MixnetError} naming the node, the address and the real cause when one cannot be
 * listened on (taken, not this host's, not permitted), the node that failed to start with its
 * last log lines, or that the start was interrupted through `options.signal`.
 */
export async function startNetwork(
  configPath: string,
  options: NetworkOptions = {},
): Promise<RunningNetwork> {
  const config = await loadConfig(configPath);
  checkAddresses(config);
  const nodes = new Map<string, NodeProcess>();
  let stopping = false;
  const spawn = (role: Role, id: string) => {
    const node = new NodeProcess(role, id, config.file, {
      args: options.args?.(id),
      onLine: (text, record) => options.onLine?.(id, text, record),
    });
    nodes.set(id, node);
    node.status.then((status) => {
      if (!stopping && nodes.get(id) === node) options.onExit?.(node, status.code);
    });
    return node;
  };
  const stop = async () => {
    stopping = true;
    await Promise.all([...nodes.values()].map((node) => node.kill("SIGTERM", 10_000)));
  };
  const interrupted = new Promise<never>((_, reject) => {
    const onAbort = () =>
      reject(new MixnetError("Start interrupted: stopped every node", { status: "unavailable" }));
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
  });
  interrupted.catch(() => {});
  const allReady = (nodes: NodeProcess[]) =>
    Promise.race([Promise.all(nodes.map((n) => n.ready())), interrupted]);
  try {
    await allReady(config.mixServers.map((m) => spawn("mix", m.id)));
    await allReady(config.clients.map((c) => spawn("client", c.id)));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    config,
    nodes,
    async restart(id) {
      const role = config.mixServers.some((m) => m.id === id) ? "mix" : "client";
      await spawn(role, id).ready();
    },
    stop,
  };
}

/** Checks that every node's address can be listened on here, before anything starts. */
function checkAddresses(config: Config): void {
  for (const node of [...config.mixServers, ...config.clients]) {
    const failure = listenFailure(node.listen);
    if (!failure) continue;
    const { port } = splitAddress(node.listen);
    throw new MixnetError(
      failure.kind === "in-use"
        ? `Port ${port} of ${node.id} (${node.listen}) is already in use: stop the network ` +
          `using it, or start this one on other ports with --base-port`
        : `${node.id} cannot listen on ${node.listen}: ${failure.reason}`,
      { status: failure.kind === "in-use" ? "unavailable" : "failed-precondition" },
    );
  }
}
