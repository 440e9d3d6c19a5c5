/**
 * The fast sealed box and the default: libsodium itself, compiled natively, through the
 * Node-API addon `sodium-native` (its npm package carries prebuilt binaries for Linux, macOS
 * and Windows on x64 and arm64). The same `crypto_box_seal` as every other backend, so the same
 * bytes, at three to four times the speed of the WebAssembly build on large packets and twice
 * at 1 KiB (its X25519 is faster too).
 *
 * Loading a Node-API addon needs `--allow-ffi` (and `--allow-read`, for the loader's platform
 * check); every deno task that runs a node grants both. Where the addon cannot load (the
 * permission is missing, or no binary fits the platform, as on musl/Alpine),
 * {@link createNativeBox} fails with an error that names the backend and both fixes. It never
 * falls back on its own: a mix that quietly runs several times slower than its operator planned
 * is worse than one that refuses to start and says why.
 *
 * @module
 */
import nacl from "tweetnacl";
import { CryptoError } from "../errors.ts";
import { KEY_BYTES, type KeyPair, NONCE_BYTES, SEAL_OVERHEAD, type SealedBox } from "./box.ts";
import { checkKey, checkSealedLength, openFailed } from "./_check.ts";

/** The part of sodium-native's API this backend uses (the package ships no types). */
interface SodiumNative {
  crypto_box_keypair(pk: Uint8Array, sk: Uint8Array): void;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_box_seal(c: Uint8Array, m: Uint8Array, pk: Uint8Array): void;
  crypto_box_seal_open(m: Uint8Array, c: Uint8Array, pk: Uint8Array, sk: Uint8Array): boolean;
  crypto_box_easy(
    c: Uint8Array,
    m: Uint8Array,
    n: Uint8Array,
    pk: Uint8Array,
    sk: Uint8Array,
  ): void;
  crypto_generichash(out: Uint8Array, input: Uint8Array): void;
}

let loading: Promise<SodiumNative> | undefined;

/**
 * Loads the sodium-native addon (once per thread) and returns the sealed box on it.
 *
 * @throws {CryptoError} with status failed-precondition when the addon cannot load: the
 * message names the backend, the reason, and the two ways out (`--allow-ffi`, or
 * `crypto_backend: libsodium`).
 */
export async function createNativeBox(): Promise<SealedBox> {
  loading ??= loadSodiumNative();
  try {
    return nativeBox(await loading);
  } catch (error) {
    loading = undefined;
    throw error;
  }
}

async function loadSodiumNative(): Promise<SodiumNative> {
  try {
    // Imported here, not at the top, so that importing the crypto module (the CLI does) never
    // loads the addon or needs its permission.
    return (await import("sodium-native")).default as SodiumNative;
  } catch (cause) {
    throw new CryptoError(
      `Cannot load crypto backend "native" (libsodium through the Node-API addon sodium-native) ` +
        `on ${Deno.build.os}-${Deno.build.arch}: ${innermostMessage(cause)}. Run deno with ` +
        "--allow-ffi (every deno task does), or set crypto_backend: libsodium in the config for " +
        "the WebAssembly build (same bytes, three to four times slower on large packets)",
      { status: "failed-precondition", cause },
    );
  }
}

/** The message of the deepest `cause` (the addon loader wraps the permission error). */
function innermostMessage(error: unknown): string {
  while (error instanceof Error && error.cause !== undefined) error = error.cause;
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

// HSalsa20 turns an X25519 shared secret into the crypto_box key (crypto_box_beforenm, which
// sodium-native does not bind). Only PeerMac needs it, once per peer.
const SIGMA = new TextEncoder().encode("expand 32-byte k");
const ZERO16 = new Uint8Array(16);
const hsalsa20 = (nacl as unknown as {
  lowlevel: {
    crypto_core_hsalsa20(out: Uint8Array, input: Uint8Array, k: Uint8Array, c: Uint8Array): void;
  };
}).lowlevel.crypto_core_hsalsa20;

function nativeBox(sodium: SodiumNative): SealedBox {
  const publicKeyOf = (secretKey: Uint8Array): Uint8Array => {
    const publicKey = new Uint8Array(KEY_BYTES);
    sodium.crypto_scalarmult_base(publicKey, secretKey);
    return publicKey;
  };
  return {
    name: "native",
    generateKeyPair(): KeyPair {
      const publicKey = new Uint8Array(KEY_BYTES);
      const secretKey = new Uint8Array(KEY_BYTES);
      sodium.crypto_box_keypair(publicKey, secretKey);
      return { publicKey, secretKey };
    },
    publicKeyOf(secretKey) {
      checkKey(secretKey, "secret key");
      return publicKeyOf(secretKey);
    },
    seal(message, recipientPublicKey) {
      checkKey(recipientPublicKey, "recipient public key");
      const sealed = new Uint8Array(message.length + SEAL_OVERHEAD);
      sodium.crypto_box_seal(sealed, message, recipientPublicKey);
      return sealed;
    },
    sealWithEphemeral(message, recipientPublicKey, ephemeral) {
      checkKey(recipientPublicKey, "recipient public key");
      const keys = new Uint8Array(2 * KEY_BYTES);
      keys.set(ephemeral.publicKey);
      keys.set(recipientPublicKey, KEY_BYTES);
      const nonce = new Uint8Array(NONCE_BYTES);
      sodium.crypto_generichash(nonce, keys);
      const sealed = new Uint8Array(message.length + SEAL_OVERHEAD);
      sealed.set(ephemeral.publicKey);
      sodium.crypto_box_easy(
        sealed.subarray(KEY_BYTES),
        message,
        nonce,
        recipientPublicKey,
        ephemeral.secretKey,
      );
      return sealed;
    },
    open(sealed, recipient) {
      checkSealedLength(sealed);
      const message = new Uint8Array(sealed.length - SEAL_OVERHEAD);
      let opened: boolean;
      try {
        opened = sodium.crypto_box_seal_open(
          message,
          sealed,
          recipient.publicKey,
          recipient.secretKey,
        );
      } catch (cause) {
        throw openFailed(cause);
      }
      if (!opened) throw openFailed();
      return message;
    },
    sharedKey(secretKey, peerPublicKey) {
      checkKey(secretKey, "secret key");
      checkKey(peerPublicKey, "peer public key");
      const shared = new Uint8Array(KEY_BYTES);
      try {
        sodium.crypto_scalarmult(shared, secretKey, peerPublicKey);
      } catch (cause) {
        throw new CryptoError(
          "Cannot derive a shared key: the peer public key is a low-order point",
          { status: "invalid-argument", cause },
        );
      }
      const key = new Uint8Array(KEY_BYTES);
      hsalsa20(key, ZERO16, shared, SIGMA);
      return key;
    },
  };
}
