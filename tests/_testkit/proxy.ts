/**
 * A man in the middle on loopback: a server that speaks the `MixServer` service where the config
 * puts a mix (gRPC at its address, and the wire protocol at its wire port when it has one), and
 * relays every call to the real mix, which runs from a copy of the config that moves it to other
 * ports. Everyone else (clients, the previous mix, the onion layers) keeps
 * using the configured address, so the proxy sees, and may record, delay, alter or drop, every
 * call crossing that hop.
 *
 * Closing order matters on Deno 2.9.6: a client session that receives GOAWAY can crash the
 * process (denoland/deno#36788), so whatever calls the proxy stops first, then the proxy (its
 * own channel to the real mix first), then the real mix.
 */
import { parse, stringify } from "yaml";
import { type Config, loadConfig, type NodeConfig } from "../../src/config/mod.ts";
import { MixnetError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { type MixNode, startMix } from "../../src/mix/mod.ts";
import {
  type ForwardBatchRequest,
  type ForwardBatchResponse,
  type ForwardMessageRequest,
  maxMessageBytes,
  type MixServerCalls,
  type MixServerHandlers,
  MixServerStub,
  type PollMessagesRequest,
  type RegisterRequest,
  RpcError,
  type RpcServer,
  startServer,
  type WaitForStartRequest,
} from "../../src/rpc/mod.ts";
import { startWireServer, type WireServer, WireStub } from "../../src/wire/mod.ts";
import type { TestNetwork } from "./network.ts";
import { freePorts } from "./ports.ts";

/** The requests of the `MixServer` methods, by method name. */
export interface MixRequests {
  ForwardMessage: ForwardMessageRequest;
  PollMessages: PollMessagesRequest;
  Register: RegisterRequest;
  WaitForStart: WaitForStartRequest;
  ForwardBatch: ForwardBatchRequest;
}

/** A `MixServer` method name. */
export type MixMethod = keyof MixRequests;

/**
 * Decides what happens to one call: `relay` sends a request (the original or another) to the
 * real mix and returns its answer; a hook may also answer or throw without relaying.
 */
export type ProxyHook = <M extends MixMethod>(
  method: M,
  request: MixRequests[M],
  relay: (request: MixRequests[M]) => Promise<unknown>,
) => Promise<unknown>;

/** A running proxy. */
export interface MixProxy {
  /** Where the proxy listens (the configured address of the mix). */
  readonly address: string;
  /** Where the real mix listens. */
  readonly target: string;
  /** A stub to the real mix, bypassing the proxy (over its wire protocol when it has one). */
  readonly direct: MixServerCalls;
  /** Replaces the hook (undefined: relay everything unchanged). */
  hook: ProxyHook | undefined;
  /** Closes the channel to the real mix, then the server. */
  close(): Promise<void>;
}

/**
 * Starts a proxy where the config puts mix `at` (its address, and its wire port if it has one)
 * relaying to the same mix relocated to `target`. Errors of the real mix reach the caller with
 * their status and reason unchanged.
 */
export async function startMixProxy(
  at: NodeConfig,
  target: NodeConfig,
  options: { maxMessageBytes: number; hook?: ProxyHook },
): Promise<MixProxy> {
  const stubOptions = { maxMessageBytes: options.maxMessageBytes, name: `real mix ${target.id}` };
  const direct: MixServerCalls = target.wire
    ? new WireStub(target.wire.address, stubOptions)
    : new MixServerStub(target.address, stubOptions);
  const relayTo = (method: MixMethod) => (request: unknown): Promise<unknown> => {
    const call = {
      ForwardMessage: () => direct.forwardMessage(request as ForwardMessageRequest),
      PollMessages: () => direct.pollMessages(request as PollMessagesRequest),
      Register: () => direct.register(request as RegisterRequest),
      WaitForStart: () =>
        direct.waitForStart(request as WaitForStartRequest, { timeoutMs: 60_000 }),
      ForwardBatch: () =>
        direct.forwardBatch(request as ForwardBatchRequest, { timeoutMs: 60_000 }),
    }[method];
    return call().catch((error) => {
      // The reason as the real mix gave it, not wrapped in this relay's own message.
      if (error instanceof RpcError) {
        throw new MixnetError(error.details, { status: error.status });
      }
      throw error;
    });
  };
  let wire: WireServer | undefined;
  const proxy: MixProxy = {
    address: at.address,
    target: target.address,
    direct,
    hook: options.hook,
    async close() {
      direct.close();
      await wire?.close();
      await server.close(0);
    },
  };
  const handle = (method: MixMethod) => (request: unknown) => {
    const relay = relayTo(method);
    return proxy.hook ? proxy.hook(method, request as never, relay as never) : relay(request);
  };
  const handlers = Object.fromEntries(
    (["ForwardMessage", "PollMessages", "Register", "WaitForStart"] as const)
      .map((method) => [method, handle(method)]),
  ) as unknown as MixServerHandlers;
  // A ForwardBatch stream is relayed chunk by chunk, each a call of its own that the hook sees;
  // the answer is the last chunk's.
  handlers.ForwardBatch = async (chunks) => {
    let answer: unknown;
    for await (const chunk of chunks) answer = await handle("ForwardBatch")(chunk);
    return answer as ForwardBatchResponse;
  };
  const server: RpcServer = await startServer(at.address, {
    mix: handlers,
    maxMessageBytes: options.maxMessageBytes,
  });
  if (at.wire) {
    wire = startWireServer(at.wire.address, {
      handlers,
      maxMessageBytes: options.maxMessageBytes,
    });
  }
  return proxy;
}

/**
 * Writes a copy of the network's config in which mix `id` listens on fresh ports, its address
 * and its wire port if it has one (everything else unchanged: keys, data and the addresses its
 * peers use, unless `settings` replaces top-level keys such as `data_dir`), and loads it.
 */
export async function relocateMix(
  net: TestNetwork,
  id: string,
  settings: Record<string, unknown> = {},
): Promise<{ config: Config; path: string; address: string; node: NodeConfig }> {
  const document = { ...parse(await Deno.readTextFile(net.configPath)), ...settings };
  // Not a port of the config: those of nodes not started yet are free too.
  const taken = [...net.config.mixServers, ...net.config.clients].flatMap((n) =>
    [n.address, ...(n.wire ? [n.wire.address] : [])].map((a) => Number(a.split(":").pop()))
  );
  const [port, wirePort] = freePorts(2, taken);
  const address = `127.0.0.1:${port}`;
  const mix = document.mix_servers.find((m: { id: string }) => m.id === id);
  mix.address = address;
  if (mix.wire_port !== undefined) mix.wire_port = wirePort;
  const path = `${net.dir}/config-${id}-relocated.yaml`;
  await Deno.writeTextFile(path, stringify(document));
  const config = await loadConfig(path);
  return { config, path, address, node: config.mixServers.find((m) => m.id === id)! };
}

/** A mix of the test network running behind a proxy at its configured address. */
export interface ProxiedMix {
  readonly id: string;
  readonly proxy: MixProxy;
  /** The real mix (in this process). */
  readonly node: MixNode;
}

/**
 * Starts mix `id` in this process on a relocated port, and a proxy at its configured address.
 * The node is not added to `net.mixes`: stop it with {@link closeProxied}.
 */
export async function startProxiedMix(
  net: TestNetwork,
  id: string,
  options: { hook?: ProxyHook; outputDir?: string; settings?: Record<string, unknown> } = {},
): Promise<ProxiedMix> {
  const { config, node: target } = await relocateMix(net, id, options.settings);
  const node = await startMix({
    config,
    id,
    box: net.box,
    keyPair: net.keys.get(id)!,
    logger: silentLogger,
    workers: 1,
    outputDir: options.outputDir,
  });
  const configured = net.config.mixServers.find((m) => m.id === id)!;
  const proxy = await startMixProxy(configured, target, {
    maxMessageBytes: maxMessageBytes(net.config),
    hook: options.hook,
  });
  return { id, proxy, node };
}

/**
 * Stops a network in which some mixes run behind proxies, in an order in which no channel still
 * in use receives a GOAWAY: clients and the test's own stubs first, then hop by hop in cascade
 * order the proxy (if any) and the mix, then whatever `net` still holds.
 */
export async function closeProxied(
  net: TestNetwork,
  proxied: readonly ProxiedMix[],
): Promise<void> {
  for (const id of [...net.clients.keys()]) await net.stopClient(id);
  for (const { id } of net.config.mixServers) {
    const hop = proxied.find((p) => p.id === id);
    if (!hop) continue;
    // Closes the test's stub to the proxy (the node itself is not in net.mixes).
    await net.stopMix(id);
  }
  for (const { id } of net.config.mixServers) {
    const hop = proxied.find((p) => p.id === id);
    if (hop) {
      await hop.proxy.close();
      await hop.node.stop();
    } else {
      await net.stopMix(id);
    }
  }
  await net.close();
}
