import { CryptoError } from "../errors.ts";
import { KEY_BYTES, SEAL_OVERHEAD } from "./box.ts";

/** Throws unless `key` is a 32-byte key; `what` names it in the error. */
export function checkKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new CryptoError(
      `Invalid ${what}: expected ${KEY_BYTES} bytes, got ${key?.length ?? typeof key}`,
      { status: "invalid-argument" },
    );
  }
}

/** Throws unless `sealed` is at least as long as a sealed box's overhead. */
export function checkSealedLength(sealed: Uint8Array): void {
  if (sealed.length < SEAL_OVERHEAD) {
    throw new CryptoError(
      `Cannot open sealed box: ${sealed.length} bytes is shorter than its ${SEAL_OVERHEAD}-byte overhead`,
      { status: "invalid-argument" },
    );
  }
}

/** The error of a box that does not open: the same words whatever the backend. */
export function openFailed(cause?: unknown): CryptoError {
  return new CryptoError(
    "Cannot open sealed box: authentication failed (tampered, truncated or sealed to another key)",
    { status: "invalid-argument", cause },
  );
}
