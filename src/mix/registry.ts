/**
 * The first mix's start barrier: authenticated registration of the clients listed in the
 * config, and the round clock, fixed (and persisted) when `messages_per_round` clients are in.
 *
 * @module
 */
import { type KeyDirectory, type PeerMac, registerProof } from "../crypto/mod.ts";
import { MixnetError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { RegisterRequest } from "../rpc/mod.ts";
import { RoundClock } from "../round_clock.ts";
import { verifyPeer } from "./_verify.ts";
import type { MixStore } from "./store.ts";

/** How far a registration timestamp may be from this mix's clock. */
export const FRESHNESS_MS = 60_000;

/** Options of {@link Registry}. */
export interface RegistryOptions {
  readonly store: MixStore;
  readonly mac: PeerMac;
  readonly keys: KeyDirectory;
  /** Ids of the clients allowed to register. */
  readonly clientIds: ReadonlySet<string>;
  /** Registrations needed to start. */
  readonly messagesPerRound: number;
  /** Round length in seconds. */
  readonly roundDuration: number;
  readonly logger: Logger;
  /** Called once when the clock starts. */
  readonly onStart?: (clock: RoundClock) => void;
}

/** Registered clients and the round clock. */
export class Registry {
  readonly #o: RegistryOptions;
  readonly #registered: Set<string>;
  #clock: RoundClock | undefined;
  readonly #waiters: (() => void)[] = [];

  /** Restores registrations and the clock from the store. */
  constructor(options: RegistryOptions) {
    this.#o = options;
    this.#registered = new Set(options.store.registrations());
    const epoch = options.store.getMeta("epoch_ms");
    if (epoch !== undefined) this.#clock = new RoundClock(Number(epoch), options.roundDuration);
  }

  /** The round clock, once started. */
  get clock(): RoundClock | undefined {
    return this.#clock;
  }

  /** Whether `clientId` is registered. */
  has(clientId: string): boolean {
    return this.#registered.has(clientId);
  }

  /** Number of registered clients: the packets expected per round. */
  get size(): number {
    return this.#registered.size;
  }

  /**
   * Registers a client after checking it is listed and holds its key.
   *
   * @throws {MixnetError} permission-denied for an unknown client, a stale timestamp or a bad
   * MAC.
   */
  async register(request: RegisterRequest): Promise<void> {
    const id = request.client_id;
    if (!this.#o.clientIds.has(id)) {
      throw new MixnetError(
        `Registration refused: ${JSON.stringify(id)} is not a client in the config`,
        {
          status: "permission-denied",
        },
      );
    }
    if (!(Math.abs(Date.now() - Number(request.timestamp_ms)) <= FRESHNESS_MS)) {
      throw new MixnetError(
        `Registration of ${id} refused: timestamp ${request.timestamp_ms} is more than ` +
          `${FRESHNESS_MS / 1000} s from this mix's clock`,
        { status: "permission-denied" },
      );
    }
    const check = (error: Error) =>
      this.#o.logger.warn("cannot check a registration", { client: id, error: error.message });
    if (
      !await verifyPeer(this.#o.mac, this.#o.keys, id, request.mac, registerProof(request), check)
    ) {
      throw new MixnetError(`Registration of ${id} refused: proof of its key does not verify`, {
        status: "permission-denied",
      });
    }
    if (!this.#registered.has(id)) {
      this.#o.store.register(id);
      this.#registered.add(id);
      this.#o.logger.info("client registered", {
        client: id,
        registered: this.#registered.size,
        needed: this.#o.messagesPerRound,
      });
    }
    if (!this.#clock && this.#registered.size >= this.#o.messagesPerRound) this.#start();
  }

  /**
   * Resolves with the clock once enough clients registered (at once after the start).
   *
   * @throws {MixnetError} failed-precondition when the client did not register first.
   */
  async waitForStart(clientId: string, signal: AbortSignal): Promise<RoundClock> {
    if (!this.#registered.has(clientId)) {
      throw new MixnetError(
        `WaitForStart refused: ${JSON.stringify(clientId)} must register first`,
        {
          status: "failed-precondition",
        },
      );
    }
    while (!this.#clock) {
      if (signal.aborted) {
        throw new MixnetError("WaitForStart cancelled: the mix is stopping", {
          status: "unavailable",
        });
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
    return this.#clock;
  }

  #start(): void {
    const epoch = Date.now();
    this.#o.store.setMeta("epoch_ms", epoch);
    this.#clock = new RoundClock(epoch, this.#o.roundDuration);
    this.#o.logger.info("rounds start", {
      epoch_ms: epoch,
      clients: this.#registered.size,
      round_duration_s: this.#o.roundDuration,
    });
    for (const wake of this.#waiters.splice(0)) wake();
    this.#o.onStart?.(this.#clock);
  }
}
