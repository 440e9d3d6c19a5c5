/**
 * Key files. A public key is `<id>.key` in the config folder, holding the base64 of its 32
 * bytes (the original layout, shared by every node). A secret key is `<id>.secret` in
 * `keys_dir`, mode 0600, refused when group or others can read it.
 *
 * @module
 */
import { decodeBase64, encodeBase64 } from "./_base64.ts";
import { join } from "node:path";
import { CryptoError } from "../errors.ts";
import { KEY_BYTES, type KeyPair, type SealedBox } from "./box.ts";
import { exists, publish, writeAtomically } from "./_files.ts";

/** Path of the public key file of node `id` in the config folder. */
export function publicKeyPath(configDir: string, id: string): string {
  return join(configDir, `${id}.key`);
}

/** Path of the secret key file of node `id` in `keysDir`. */
export function secretKeyPath(keysDir: string, id: string): string {
  return join(keysDir, `${id}.secret`);
}

/**
 * Decodes a public key given as 32 raw bytes or as the base64 text of a key file.
 *
 * @throws {CryptoError} when it is neither; `what` names it in the message.
 */
export function decodePublicKey(bytes: Uint8Array, what = "public key"): Uint8Array {
  if (bytes.length === KEY_BYTES) return bytes;
  const text = new TextDecoder().decode(bytes).trim();
  const key = /^[A-Za-z0-9+/]{43}=$/.test(text) ? decodeBase64(text) : undefined;
  if (!key || key.length !== KEY_BYTES) {
    throw new CryptoError(
      `Invalid ${what}: expected ${KEY_BYTES} raw bytes or the base64 text of a key file, ` +
        `got ${bytes.length} bytes`,
      { status: "invalid-argument" },
    );
  }
  return key;
}

/**
 * Reads the public key of node `id` from the config folder.
 *
 * @throws {CryptoError} when the file is missing or does not hold a key.
 */
export async function readPublicKey(configDir: string, id: string): Promise<Uint8Array> {
  const path = publicKeyPath(configDir, id);
  const bytes = await readKeyFile(path, `public key of ${id}`);
  return decodePublicKey(bytes, `public key file ${path}`);
}

/**
 * Writes the public key file of node `id` (atomically, readable by all), unless it already holds
 * that key: a read-only config folder that has it is left alone.
 */
export async function writePublicKey(
  configDir: string,
  id: string,
  publicKey: Uint8Array,
): Promise<void> {
  await Deno.mkdir(configDir, { recursive: true });
  await publish(publicKeyPath(configDir, id), encodeBase64(publicKey) + "\n");
}

/**
 * Reads the secret key of node `id` and derives its key pair.
 *
 * @throws {CryptoError} when the file is missing, readable by group or others, or malformed.
 */
export async function readKeyPair(box: SealedBox, keysDir: string, id: string): Promise<KeyPair> {
  const path = secretKeyPath(keysDir, id);
  const bytes = await readKeyFile(path, `secret key of ${id}`);
  const mode = (await Deno.stat(path)).mode;
  if (mode !== null && (mode & 0o077) !== 0) {
    throw new CryptoError(
      `Secret key file ${path} is readable by group or others (mode ${
        (mode & 0o777).toString(8)
      }): run chmod 600 ${path}`,
      { status: "failed-precondition" },
    );
  }
  const text = new TextDecoder().decode(bytes).trim();
  const secretKey = /^[A-Za-z0-9+/]{43}=$/.test(text) ? decodeBase64(text) : undefined;
  if (!secretKey || secretKey.length !== KEY_BYTES) {
    throw new CryptoError(
      `Secret key file ${path} is malformed: expected the base64 of ${KEY_BYTES} bytes`,
      { status: "failed-precondition" },
    );
  }
  return { publicKey: box.publicKeyOf(secretKey), secretKey };
}

/** Writes the secret key file of node `id` with mode 0600 in a folder of mode 0700. */
export async function writeSecretKey(keysDir: string, id: string, pair: KeyPair): Promise<void> {
  await Deno.mkdir(keysDir, { recursive: true, mode: 0o700 });
  await writeAtomically(secretKeyPath(keysDir, id), encodeBase64(pair.secretKey) + "\n", 0o600);
}

/** Options of {@link ensureKeyPair}. */
export interface EnsureKeyPairOptions {
  /** Replace an existing key pair with a fresh one. */
  readonly force?: boolean;
}

/**
 * Loads the key pair of node `id`, creating it on first use; in every case (re)publishes its
 * public key file so that peers sharing the config folder find it. Returns whether it was new.
 *
 * @throws {CryptoError} when an existing secret key cannot be used.
 */
export async function ensureKeyPair(
  box: SealedBox,
  paths: { readonly configDir: string; readonly keysDir: string },
  id: string,
  options: EnsureKeyPairOptions = {},
): Promise<{ pair: KeyPair; created: boolean }> {
  let pair: KeyPair | undefined;
  if (!options.force && await exists(secretKeyPath(paths.keysDir, id))) {
    pair = await readKeyPair(box, paths.keysDir, id);
  }
  const created = pair === undefined;
  if (!pair) {
    pair = box.generateKeyPair();
    await writeSecretKey(paths.keysDir, id, pair);
  }
  await writePublicKey(paths.configDir, id, pair.publicKey);
  return { pair, created };
}

async function readKeyFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (cause) {
    const why = cause instanceof Deno.errors.NotFound ? "no such file" : String(cause);
    throw new CryptoError(
      `Cannot read ${what} from ${path}: ${why} (run "deno task keygen" to create keys)`,
      { status: "failed-precondition", cause },
    );
  }
}
