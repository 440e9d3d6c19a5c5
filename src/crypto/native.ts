/**
 * The fast sealed box: the runtime's native X25519 (`node:crypto`) for key generation and key
 * agreement, which dominate a mix's cost, and libsodium (WebAssembly) for BLAKE2b and
 * XSalsa20-Poly1305. Byte-compatible with the other backends: same nonce, same box.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import sodium from "libsodium-wrappers";
import nacl from "tweetnacl";
import { KEY_BYTES, type KeyPair, NONCE_BYTES, type SealedBox } from "./box.ts";
import { checkKey, checkSealedLength, openFailed } from "./_check.ts";

/** Loads libsodium and returns the sealed box with native X25519. */
export async function createNativeBox(): Promise<SealedBox> {
  await sodium.ready;
  return nativeBox;
}

// HSalsa20 turns an X25519 shared secret into the crypto_box key (crypto_box_beforenm).
const SIGMA = new TextEncoder().encode("expand 32-byte k");
const ZERO16 = new Uint8Array(16);
const hsalsa20 = (nacl as unknown as {
  lowlevel: {
    crypto_core_hsalsa20(out: Uint8Array, input: Uint8Array, k: Uint8Array, c: Uint8Array): void;
  };
}).lowlevel.crypto_core_hsalsa20;

// One secret KeyObject per mix or client key, reused for every packet.
const privateKeys = new WeakMap<Uint8Array, KeyObject>();

function privateKey(secretKey: Uint8Array): KeyObject {
  let key = privateKeys.get(secretKey);
  if (!key) {
    key = createPrivateKey({ key: jwk(secretKey, publicKeyOf(secretKey)), format: "jwk" });
    privateKeys.set(secretKey, key);
  }
  return key;
}

function jwk(secretKey: Uint8Array | undefined, publicKey: Uint8Array) {
  return {
    kty: "OKP",
    crv: "X25519",
    x: Buffer.from(publicKey).toString("base64url"),
    ...(secretKey ? { d: Buffer.from(secretKey).toString("base64url") } : {}),
  };
}

function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return sodium.crypto_scalarmult_base(secretKey);
}

/** crypto_box_beforenm with the key agreement done natively. */
function boxKey(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  const shared = diffieHellman({
    privateKey: privateKey(secretKey),
    publicKey: createPublicKey({ key: jwk(undefined, peerPublicKey), format: "jwk" }),
  });
  const key = new Uint8Array(32);
  hsalsa20(key, ZERO16, new Uint8Array(shared.buffer, shared.byteOffset, 32), SIGMA);
  return key;
}

function sealNonce(ephemeralPublicKey: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  const input = new Uint8Array(2 * KEY_BYTES);
  input.set(ephemeralPublicKey);
  input.set(recipientPublicKey, KEY_BYTES);
  return sodium.crypto_generichash(NONCE_BYTES, input, null);
}

const nativeBox: SealedBox = {
  name: "native",
  generateKeyPair(): KeyPair {
    const { publicKey, privateKey } = generateKeyPairSync("x25519");
    const exported = privateKey.export({ format: "jwk" });
    const secretKey = new Uint8Array(Buffer.from(exported.d!, "base64url"));
    privateKeys.set(secretKey, privateKey);
    const pub = publicKey.export({ format: "jwk" });
    return { publicKey: new Uint8Array(Buffer.from(pub.x!, "base64url")), secretKey };
  },
  publicKeyOf(secretKey) {
    checkKey(secretKey, "secret key");
    return publicKeyOf(secretKey);
  },
  seal(message, recipientPublicKey) {
    return this.sealWithEphemeral(message, recipientPublicKey, this.generateKeyPair());
  },
  sealWithEphemeral(message, recipientPublicKey, ephemeral) {
    checkKey(recipientPublicKey, "recipient public key");
    const nonce = sealNonce(ephemeral.publicKey, recipientPublicKey);
    const key = boxKey(ephemeral.secretKey, recipientPublicKey);
    const box = sodium.crypto_box_easy_afternm(message, nonce, key);
    const out = new Uint8Array(KEY_BYTES + box.length);
    out.set(ephemeral.publicKey);
    out.set(box, KEY_BYTES);
    return out;
  },
  open(sealed, recipient) {
    checkSealedLength(sealed);
    const ephemeralPublicKey = sealed.subarray(0, KEY_BYTES);
    try {
      const key = boxKey(recipient.secretKey, ephemeralPublicKey);
      const nonce = sealNonce(ephemeralPublicKey, recipient.publicKey);
      return sodium.crypto_box_open_easy_afternm(sealed.subarray(KEY_BYTES), nonce, key);
    } catch (cause) {
      throw openFailed(cause);
    }
  },
  sharedKey(secretKey, peerPublicKey) {
    checkKey(secretKey, "secret key");
    checkKey(peerPublicKey, "peer public key");
    return boxKey(secretKey, peerPublicKey);
  },
};
