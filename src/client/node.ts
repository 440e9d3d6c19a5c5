/**
 * A client wired together: keys of the mixes, registration and the start barrier, then the
 * round clock (sender), the mailbox fetches (receiver), the loop cover that watches both, and
 * the user's gRPC service.
 *
 * @module
 */
import { join } from "node:path";
import type { Config } from "../config/mod.ts";
import {
  KeyDirectory,
  type KeyPair,
  PeerMac,
  registerProof,
  type SealedBox,
} from "../crypto/mod.ts";
import { ConfigError, MixnetError } from "../errors.ts";
import { createLogger, type Logger } from "../log.ts";
import { Metrics } from "../metrics.ts";
import { packetSize, type RouteNode } from "../onion/mod.ts";
import { RoundClock, sleep } from "../round_clock.ts";
import {
  grpc,
  maxMessageBytes,
  MixServerStub,
  NodeTransport,
  RpcError,
  type RpcServer,
  startServer,
  type WaitForStartResponse,
} from "../rpc/mod.ts";
import type { ClientContext, ClientRecord } from "./context.ts";
import { ApiCookie, cookiePath } from "./cookie.ts";
import { LoopCover } from "./loops.ts";
import { Preparer } from "./preparer.ts";
import { Receiver } from "./receiver.ts";
import { Sender } from "./sender.ts";
import { ClientStore } from "./store.ts";

/** Options of {@link startClient}. */
export interface ClientOptions {
  readonly config: Config;
  /** This client's id in `config.clients`. */
  readonly id: string;
  readonly box: SealedBox;
  readonly keyPair: KeyPair;
  /** Where logs go; default stderr text. */
  readonly logger?: Logger;
  /** Append metrics as JSON lines to this file. */
  readonly metricsFile?: string;
  /** How long to wait for mix key files and for the first mix; default 120 s. */
  readonly startTimeoutMs?: number;
}

/** A running client. */
export interface ClientNode {
  readonly id: string;
  /** The round clock. */
  readonly clock: RoundClock;
  /** Whether the loop cover has raised its alarm (a loop was lost, none came back since). */
  readonly alarm: boolean;
  /** Messages queued and not yet acknowledged by the first mix. */
  queueLength(): number;
  readonly metrics: Metrics<ClientRecord>;
  /** Graceful stop; `exiting` skips the gRPC shutdown (see MixNode.stop). */
  stop(options?: { exiting?: boolean }): Promise<void>;
}

/**
 * Starts a client: waits for the mixes' keys, registers (retrying while the first mix is not
 * up), waits for the start, then sends one packet per round and serves its user's service.
 *
 * @throws {ConfigError} for an id not in the config; {@link MixnetError} when keys or the first
 * mix do not appear in time, or the address is taken.
 */
export async function startClient(options: ClientOptions): Promise<ClientNode> {
  const { config, id, box, keyPair } = options;
  const self = config.clients.find((c) => c.id === id);
  if (!self) {
    throw new ConfigError(
      `${config.file}: clients: no client with id ${JSON.stringify(id)} (known: ${
        config.clients.map((c) => c.id).join(", ")
      })`,
    );
  }
  const logger = options.logger ?? createLogger({ name: id });
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const keys = new KeyDirectory(config.dir);
  const route: RouteNode[] = [];
  for (const mix of config.mixServers) {
    route.push({ address: mix.address, publicKey: await keys.waitFor(mix.id, timeoutMs) });
  }
  const transport = await NodeTransport.load(config, id, { logger, timeoutMs });
  const limit = maxMessageBytes(config);
  const first = config.mixServers[0];
  const last = config.mixServers[config.mixServers.length - 1];
  const firstStub = new MixServerStub(first.address, {
    maxMessageBytes: limit,
    name: first.id,
    credentials: transport.channelTo(first),
  });
  const lastStub = last === first ? firstStub : new MixServerStub(last.address, {
    maxMessageBytes: limit,
    name: last.id,
    credentials: transport.channelTo(last),
  });
  const store = new ClientStore(
    join(config.dataDir, `${id}.sqlite`),
    packetSize(config.payloadSize, config.mixServers.length),
  );
  const ctx: ClientContext = {
    id,
    self,
    config,
    box,
    keyPair,
    mac: new PeerMac(box, keyPair),
    route,
    store,
    metrics: new Metrics<ClientRecord>(id, options.metricsFile, logger),
    logger,
  };
  const closeAll = () => {
    firstStub.close();
    if (lastStub !== firstStub) lastStub.close();
    store.close();
  };

  let start: WaitForStartResponse;
  try {
    await register(ctx, firstStub, route[0].publicKey, timeoutMs);
    start = await waitForStart(ctx, firstStub, timeoutMs);
  } catch (error) {
    closeAll();
    throw error;
  }
  const clock = new RoundClock(start.epoch_ms, start.round_duration_s || start.round_duration);
  const loops = new LoopCover({
    every: config.loopEvery,
    store,
    metrics: ctx.metrics,
    logger,
  });
  const sender = new Sender(ctx, clock, firstStub, route[0].publicKey, loops, () => {
    register(ctx, firstStub, route[0].publicKey, timeoutMs).catch((error) =>
      logger.error("re-registration failed", { error: (error as Error).message })
    );
  });
  const preparer = new Preparer(ctx, (ahead) => sender.roundFor(ahead));
  const receiver = new Receiver(ctx, clock, lastStub, route[route.length - 1].publicKey, loops);
  let stopping = false;
  const serving = () => {
    if (stopping) throw new MixnetError(`${id} is stopping`, { status: "unavailable" });
  };
  const cookie = new ApiCookie(cookiePath(config.keysDir, id));
  const onRefused = () => ctx.metrics.count("api.unauthenticated");
  let server: RpcServer;
  try {
    server = await startServer(self.listen, {
      maxMessageBytes: limit,
      tls: transport.server,
      auth: { client: cookie.check({ logger, onRefused }) },
      client: {
        PrepareMessage(request) {
          serving();
          return Promise.resolve(preparer.prepare(request));
        },
        PollMessages() {
          serving();
          return Promise.resolve({ messages: receiver.takeMessages() });
        },
      },
      onInternalError: (method, error) =>
        logger.error("handler failed", { method, error: (error as Error)?.stack ?? String(error) }),
    });
  } catch (error) {
    closeAll();
    throw error;
  }
  await cookie.write().catch(async (error) => {
    await server.close(0);
    closeAll();
    throw error;
  });
  sender.start();
  receiver.start();
  logger.info("ready", {
    address: self.address,
    ...(self.listen === self.address ? {} : { listen: self.listen }),
    round: sender.nextRound,
    queued: store.queueLength(),
    pid: Deno.pid,
  });
  return {
    id,
    clock,
    get alarm() {
      return loops.alarm;
    },
    queueLength: () => store.queueLength(),
    metrics: ctx.metrics,
    async stop(stopOptions = {}) {
      stopping = true;
      await cookie.remove();
      if (!stopOptions.exiting) await server.close(1000);
      await Promise.all([sender.stop(), receiver.stop()]);
      closeAll();
      logger.info("stopped");
    },
  };
}

async function register(
  ctx: ClientContext,
  stub: MixServerStub,
  firstMixKey: Uint8Array,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let backoff = 100;
  for (let attempt = 1;; attempt++) {
    const request = { client_id: ctx.id, timestamp_ms: Date.now(), mac: new Uint8Array() };
    request.mac = ctx.mac.sign(firstMixKey, ...registerProof(request));
    try {
      await stub.register(request, { timeoutMs: 5000 });
      ctx.logger.info("registered", { mix: ctx.config.mixServers[0].id });
      return;
    } catch (error) {
      if (!(error instanceof RpcError) || !error.transient || Date.now() + backoff > deadline) {
        throw new MixnetError(`Cannot register with the first mix: ${(error as Error).message}`, {
          status: "unavailable",
          cause: error,
        });
      }
      if (attempt === 1 || attempt % 10 === 0) {
        ctx.logger.info("first mix not reachable yet, retrying", {
          attempt,
          error: (error as Error).message,
        });
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 2000);
    }
  }
}

async function waitForStart(
  ctx: ClientContext,
  stub: MixServerStub,
  timeoutMs: number,
): Promise<WaitForStartResponse> {
  const deadline = Date.now() + Math.max(timeoutMs, 10 * 60_000);
  let logged = false;
  for (;;) {
    try {
      const response = await stub.waitForStart({ client_id: ctx.id }, { timeoutMs: 30_000 });
      if (response.ready) return response;
    } catch (error) {
      const retry = error instanceof RpcError &&
        (error.transient || error.code === grpc.status.DEADLINE_EXCEEDED);
      if (!retry || Date.now() > deadline) {
        throw new MixnetError(`Waiting for the start failed: ${(error as Error).message}`, {
          status: "unavailable",
          cause: error,
        });
      }
      await sleep(200);
    }
    if (!logged) {
      ctx.logger.info("waiting for enough clients to register");
      logged = true;
    }
  }
}
