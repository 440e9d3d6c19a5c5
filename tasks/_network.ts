/**
 * A whole network as subprocesses: checks that every port is free, starts the mixes and then
 * the clients, waits for each to be ready, watches for a child that dies, and stops them all.
 *
 * @module
 */
import { type Config, loadConfig, splitAddress } from "../src/config/mod.ts";
import { MixnetError } from "../src/errors.ts";
import { NodeProcess, type Role } from "./_launcher.ts";

/** Options of {@link startNetwork}. */
export interface NetworkOptions {
  /** Called with each child's log lines. */
  readonly onLine?: (id: string, line: string) => void;
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
 * @throws {MixnetError} naming the port when one is taken, the node that failed to start with
 * its last log lines, or that the start was interrupted through `options.signal`.
 */
export async function startNetwork(
  configPath: string,
  options: NetworkOptions = {},
): Promise<RunningNetwork> {
  const config = await loadConfig(configPath);
  checkPortsFree(config);
  const nodes = new Map<string, NodeProcess>();
  let stopping = false;
  const spawn = (role: Role, id: string) => {
    const node = new NodeProcess(role, id, config.file, {
      args: options.args?.(id),
      onLine: (line) => options.onLine?.(id, line),
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

function checkPortsFree(config: Config): void {
  for (const node of [...config.mixServers, ...config.clients]) {
    const { host, port } = splitAddress(node.listen);
    try {
      Deno.listen({ hostname: host, port }).close();
    } catch (cause) {
      // Anything but a taken port (a host this task may not bind, a name that does not
      // resolve here) is left to the node, which names it when it binds.
      if (!(cause instanceof Deno.errors.AddrInUse)) continue;
      throw new MixnetError(
        `Port ${port} of ${node.id} (${node.listen}) is already in use: stop the network ` +
          `using it, or start this one on other ports with --base-port`,
        { status: "unavailable", cause },
      );
    }
  }
}
