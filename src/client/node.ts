/**
 * A client wired together: keys of the mixes, registration and the start barrier, then the
 * round clock (sender), the mailbox fetches (receiver), the loop cover that watches both, and
 * the user's gRPC service.
 *
 * @module
 */
import { join } from "node:path";
import type { Config } from "../config/mod.ts";
import { KeyDirectory, type KeyPair, PeerMac, type SealedBox } from "../crypto/mod.ts";
import { ConfigError, errorMessage, MixnetError } from "../errors.ts";
import { createLogger, type Logger, RateLimitedLog } from "../log.ts";
import { Metrics } from "../metrics.ts";
import { packetSize, type RouteNode } from "../onion/mod.ts";
import { RoundClock } from "../round_clock.ts";
import {
  CALL_TIMEOUT_MS,
  grpc,
  logRetry,
  maxMessageBytes,
  NodeTransport,
  retry,
  RETRY_LOG_INTERVAL_MS,
  type RpcServer,
  startServer,
  Stopped,
  type WaitForStartResponse,
} from "../rpc/mod.ts";
import type { ClientContext, ClientRecord } from "./context.ts";
import { ApiCookie, cookiePath } from "./cookie.ts";
import { CascadeLink } from "./link.ts";
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
  const limit = maxMessageBytes(config);
  const transport = await NodeTransport.load(config, id, { logger, timeoutMs });
  const first = config.mixServers[0];
  const last = config.mixServers[config.mixServers.length - 1];
  const firstStub = transport.mixStub(first, { maxMessageBytes: limit, name: first.id });
  const lastStub = last === first
    ? firstStub
    : transport.mixStub(last, { maxMessageBytes: limit, name: last.id });
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
  const link = new CascadeLink({
    id,
    address: self.address,
    mac: ctx.mac,
    first: { stub: firstStub, publicKey: route[0].publicKey },
    last: { stub: lastStub, publicKey: route[route.length - 1].publicKey },
  });
  const closeAll = () => {
    firstStub.close();
    if (lastStub !== firstStub) lastStub.close();
    store.close();
  };
  // Ends a re-registration in progress when the client stops.
  const stopping = new AbortController();
  const retryLog = new RateLimitedLog(logger, { intervalMs: RETRY_LOG_INTERVAL_MS });

  let start: WaitForStartResponse;
  try {
    await register(ctx, link, retryLog, { deadlineMs: Date.now() + timeoutMs });
    start = await waitForStart(ctx, link, retryLog, Date.now() + Math.max(timeoutMs, 10 * 60_000));
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
  let registering = false;
  const sender = new Sender(ctx, clock, link, loops, () => {
    // The first mix no longer knows this client: register again, until it heals or we stop.
    if (registering) return;
    registering = true;
    register(ctx, link, retryLog, { signal: stopping.signal })
      .catch((error) => {
        if (!(error instanceof Stopped)) {
          logger.error("re-registration failed", { error: errorMessage(error) });
        }
      })
      .finally(() => (registering = false));
  });
  const preparer = new Preparer(ctx, (ahead) => sender.roundFor(ahead));
  const receiver = new Receiver(ctx, clock, link, loops);
  const serving = () => {
    if (stopping.signal.aborted) {
      throw new MixnetError(`${id} is stopping`, { status: "unavailable" });
    }
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
      stopping.abort();
      await cookie.remove();
      if (!stopOptions.exiting) await server.close(1000);
      await Promise.all([sender.stop(), receiver.stop()]);
      closeAll();
      logger.info("stopped");
    },
  };
}

/**
 * Registers with the first mix on the retry policy: a first mix not up yet is waited for, a
 * refusal (a key or a config the first mix does not share) is logged as an error and retried
 * slowly, so that it heals once the cause is fixed.
 *
 * @throws {MixnetError} when the deadline passes first; {@link Stopped} when stopped.
 */
async function register(
  ctx: ClientContext,
  link: CascadeLink,
  log: RateLimitedLog,
  options: { deadlineMs?: number; signal?: AbortSignal },
): Promise<void> {
  const mix = ctx.config.mixServers[0].id;
  ctx.logger.info("registering", { mix });
  try {
    // The call itself is not cancelled on stop (see Sender#send); the wait between is.
    await retry(() => link.register({ timeoutMs: CALL_TIMEOUT_MS.register }), {
      ...options,
      reconnected: (untilMs) => link.reconnected("first", untilMs),
      onFailure: (failure) => {
        ctx.metrics.count(failure.kind === "permanent" ? "register.refused" : "register.retried");
        logRetry(log, "registration", failure, { mix });
      },
    });
  } catch (error) {
    if (error instanceof Stopped) throw error;
    throw new MixnetError(`Cannot register with the first mix: ${errorMessage(error)}`, {
      status: "unavailable",
      cause: error,
    });
  }
  ctx.logger.info("registered", { mix });
}

/**
 * Waits for the start barrier: a held call, made again when its deadline passes or the first
 * mix restarts, on the retry policy.
 *
 * @throws {MixnetError} when the deadline passes first.
 */
async function waitForStart(
  ctx: ClientContext,
  link: CascadeLink,
  log: RateLimitedLog,
  deadlineMs: number,
): Promise<WaitForStartResponse> {
  const mix = ctx.config.mixServers[0].id;
  ctx.logger.info("waiting for enough clients to register", { mix });
  try {
    return await retry(async () => {
      const response = await link.waitForStart({ timeoutMs: CALL_TIMEOUT_MS.waitForStart });
      if (!response.ready) {
        throw new MixnetError(`${mix} answered that rounds have not started`, {
          status: "unavailable",
        });
      }
      return response;
    }, {
      deadlineMs,
      onFailure: (failure) => {
        // A held call that ends at its deadline is the normal way to wait: not worth a line.
        if ((failure.error as { code?: number }).code !== grpc.status.DEADLINE_EXCEEDED) {
          logRetry(log, "waiting for the start", failure, { mix });
        }
      },
    });
  } catch (error) {
    throw new MixnetError(`Waiting for the start failed: ${errorMessage(error)}`, {
      status: "unavailable",
      cause: error,
    });
  }
}
