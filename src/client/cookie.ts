/**
 * The API cookie of a client's own gRPC service, as bitcoind's `.cookie` or Tor's control-port
 * cookie: at every start the client writes a fresh random token to `<keys_dir>/<id>.cookie`
 * (mode 0600, beside its secret key), and every call of its `Client` service must carry it as
 * `authorization: Bearer <token>`. Whoever can read the file can drive the client; other local
 * users, who can reach its port but not the file, are refused with `unauthenticated`.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { dirname, join } from "node:path";
import { errorMessage, MixnetError } from "../errors.ts";
import { type Logger, RateLimitedLog } from "../log.ts";
import type { AuthCheck } from "../rpc/mod.ts";

/** The request header that carries the token. */
export const COOKIE_HEADER = "authorization";
/** Random bytes in a token (written as hex). */
const TOKEN_BYTES = 32;
const TOKEN = /^[0-9a-f]{64}$/;

/** Path of the API cookie of client `id` in `keysDir`. */
export function cookiePath(keysDir: string, id: string): string {
  return join(keysDir, `${id}.cookie`);
}

/** The headers a caller sends to prove it holds `token`. */
export function cookieHeaders(token: string): Record<string, string> {
  return { [COOKIE_HEADER]: `Bearer ${token}` };
}

/**
 * Reads the token of client `id` from `keysDir`, as a user's tool does before calling it.
 *
 * @throws {MixnetError} naming the file: `unavailable` when there is none (the client writes it
 * when it starts, and removes it when it stops), `permission-denied` when this user may not
 * read it, `failed-precondition` when it holds no token.
 */
export function readCookie(keysDir: string, id: string): string {
  const path = cookiePath(keysDir, id);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) {
      throw new MixnetError(
        `${id} is not running: it has no API cookie at ${path} (a client writes one when it starts)`,
        { status: "unavailable", cause },
      );
    }
    const denied = cause instanceof Deno.errors.PermissionDenied ||
      cause instanceof Deno.errors.NotCapable;
    throw new MixnetError(
      `Cannot read the API cookie of ${id} from ${path}: ${
        denied ? "permission denied (only the user running the client may use its API)" : cause
      }`,
      { status: denied ? "permission-denied" : "failed-precondition", cause },
    );
  }
  const token = text.trim();
  if (!TOKEN.test(token)) {
    throw new MixnetError(
      `API cookie ${path} of ${id} is malformed: expected ${TOKEN_BYTES * 2} hex digits`,
      { status: "failed-precondition" },
    );
  }
  return token;
}

/** A client's API cookie: a fresh token, its file, and the check of every call. */
export class ApiCookie {
  /** Where the token is written. */
  readonly path: string;
  readonly #token: string;
  readonly #digest: Uint8Array;

  /** Draws a fresh token for the cookie at `path`; nothing is written yet. */
  constructor(path: string) {
    this.path = path;
    const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
    this.#token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    this.#digest = digest(this.#token);
  }

  /**
   * Writes the token, atomically, readable and writable by its owner only (mode 0600), in a
   * folder of mode 0700 created if missing. Call it once the service listens, so that a second
   * process that fails to bind the port never replaces the running one's cookie.
   *
   * @throws {MixnetError} naming the file when it cannot be written.
   */
  async write(): Promise<void> {
    const temporary = `${this.path}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      await Deno.writeTextFile(temporary, this.#token + "\n", { mode: 0o600, createNew: true });
      await Deno.chmod(temporary, 0o600);
      await Deno.rename(temporary, this.path);
    } catch (cause) {
      await Deno.remove(temporary).catch(() => {});
      throw new MixnetError(`Cannot write the API cookie ${this.path}: ${errorMessage(cause)}`, {
        status: "failed-precondition",
        cause,
      });
    }
  }

  /** Removes the file if it still holds this token (a later start may have replaced it). */
  async remove(): Promise<void> {
    const current = await Deno.readTextFile(this.path).catch(() => "");
    if (current.trim() === this.#token) await Deno.remove(this.path).catch(() => {});
  }

  /**
   * The check of the `Client` service: a call without the token, or with another, is refused
   * with `unauthenticated`, counted through `onRefused`, and logged as a rate-limited warning
   * naming the method and the peer. The token is compared in constant time.
   */
  check(options: { readonly logger: Logger; readonly onRefused: () => void }): AuthCheck {
    const warnings = new RateLimitedLog(options.logger);
    return (call) => {
      const given = /^Bearer (\S+)$/.exec(call.header(COOKIE_HEADER) ?? "")?.[1];
      if (given !== undefined && timingSafeEqual(digest(given), this.#digest)) return;
      options.onRefused();
      warnings.warn("refused a call without the API cookie", {
        method: call.method,
        peer: call.peer,
        token: given === undefined ? "missing" : "wrong",
      });
      throw new MixnetError(
        `${call.method} needs this client's API cookie: send the token in ${this.path} as ` +
          `"${COOKIE_HEADER}: Bearer <token>"`,
        { status: "unauthenticated" },
      );
    };
  }
}

/** Fixed-length digest, so that the comparison takes the same time whatever was sent. */
function digest(token: string): Uint8Array {
  return createHash("sha256").update(token).digest();
}
