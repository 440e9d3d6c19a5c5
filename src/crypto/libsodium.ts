/**
 * The portable sealed box: libsodium compiled to WebAssembly. The fallback where the native
 * backend cannot load (no `--allow-ffi`, no prebuilt binary for the platform): same bytes, no
 * permission, three to four times slower per byte.
 *
 * @module
 */
import sodium from "libsodium-wrappers";
import { KEY_BYTES, type KeyPair, NONCE_BYTES, type SealedBox } from "./box.ts";
import { checkKey, checkSealedLength, openFailed } from "./_check.ts";

/** Loads libsodium's WebAssembly module and returns its sealed box. */
export async function createLibsodiumBox(): Promise<SealedBox> {
  await sodium.ready;
  return libsodiumBox;
}

const libsodiumBox: SealedBox = {
  name: "libsodium",
  generateKeyPair(): KeyPair {
    const { publicKey, privateKey } = sodium.crypto_box_keypair();
    return { publicKey, secretKey: privateKey };
  },
  publicKeyOf(secretKey) {
    checkKey(secretKey, "secret key");
    return sodium.crypto_scalarmult_base(secretKey);
  },
  seal(message, recipientPublicKey) {
    checkKey(recipientPublicKey, "recipient public key");
    return sodium.crypto_box_seal(message, recipientPublicKey);
  },
  sealWithEphemeral(message, recipientPublicKey, ephemeral) {
    checkKey(recipientPublicKey, "recipient public key");
    const nonce = sealNonce(ephemeral.publicKey, recipientPublicKey);
    const box = sodium.crypto_box_easy(message, nonce, recipientPublicKey, ephemeral.secretKey);
    const out = new Uint8Array(KEY_BYTES + box.length);
    out.set(ephemeral.publicKey);
    out.set(box, KEY_BYTES);
    return out;
  },
  open(sealed, recipient) {
    checkSealedLength(sealed);
    try {
      return sodium.crypto_box_seal_open(sealed, recipient.publicKey, recipient.secretKey);
    } catch (cause) {
      throw openFailed(cause);
    }
  },
  sharedKey(secretKey, peerPublicKey) {
    checkKey(secretKey, "secret key");
    checkKey(peerPublicKey, "peer public key");
    return sodium.crypto_box_beforenm(peerPublicKey, secretKey);
  },
};

function sealNonce(ephemeralPublicKey: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  const input = new Uint8Array(2 * KEY_BYTES);
  input.set(ephemeralPublicKey);
  input.set(recipientPublicKey, KEY_BYTES);
  return sodium.crypto_generichash(NONCE_BYTES, input, null);
}
