import { CryptoError } from "../errors.ts";
import { KEY_BYTES } from "./box.ts";

/** Throws unless `key` is a 32-byte key; `what` names it in the error. */
export function checkKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new CryptoError(
      `Invalid ${what}: expected ${KEY_BYTES} bytes, got ${key?.length ?? typeof key}`,
      { status: "invalid-argument" },
    );
  }
}
