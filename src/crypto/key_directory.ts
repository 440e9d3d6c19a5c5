/**
 * The public keys of the network's nodes, read from `<id>.key` files in the config folder on
 * first use and cached.
 *
 * @module
 */
import { CryptoError } from "../errors.ts";
import { readPublicKey } from "./key_files.ts";

/** Reads and caches public keys of peers. */
export class KeyDirectory {
  readonly #dir: string;
  readonly #cache = new Map<string, Uint8Array>();

  /** Creates a directory over the key files in `configDir`. */
  constructor(configDir: string) {
    this.#dir = configDir;
  }

  /**
   * Returns the public key of `id`, reading its file unless cached (or when `fresh`, e.g.
   * after a MAC failed because the peer may have a new key).
   *
   * @throws {CryptoError} when the file is missing or malformed.
   */
  async get(id: string, options: { fresh?: boolean } = {}): Promise<Uint8Array> {
    const cached = this.#cache.get(id);
    if (cached && !options.fresh) return cached;
    const key = await readPublicKey(this.#dir, id);
    this.#cache.set(id, key);
    return key;
  }

  /**
   * Waits up to `timeoutMs` for the key file of `id` to appear (a peer publishes it when it
   * first starts), polling every 100 ms.
   *
   * @throws {CryptoError} when it is still missing or malformed at the deadline.
   */
  async waitFor(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.get(id);
      } catch (error) {
        if (!(error instanceof CryptoError) || Date.now() >= deadline || signal?.aborted) {
          throw new CryptoError(
            `Public key of ${id} did not appear within ${timeoutMs / 1000} s: ${
              (error as Error).message
            }`,
            { status: "failed-precondition", cause: error },
          );
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
