/**
 * The reference sealed box: tweetnacl (pure JavaScript) with BLAKE2b from @noble/hashes.
 *
 * @module
 */
import { blake2b } from "@noble/hashes/blake2";
import nacl from "tweetnacl";
import { KEY_BYTES, type KeyPair, NONCE_BYTES, type SealedBox } from "./box.ts";
import { checkKey, checkSealedLength, openFailed } from "./_check.ts";

/** Returns the pure-JavaScript sealed box. */
export function createTweetnaclBox(): Promise<SealedBox> {
  return Promise.resolve(tweetnaclBox);
}

const tweetnaclBox: SealedBox = {
  name: "tweetnacl",
  generateKeyPair(): KeyPair {
    return nacl.box.keyPair();
  },
  publicKeyOf(secretKey) {
    checkKey(secretKey, "secret key");
    return nacl.box.keyPair.fromSecretKey(secretKey).publicKey;
  },
  seal(message, recipientPublicKey) {
    return this.sealWithEphemeral(message, recipientPublicKey, nacl.box.keyPair());
  },
  sealWithEphemeral(message, recipientPublicKey, ephemeral) {
    checkKey(recipientPublicKey, "recipient public key");
    const nonce = sealNonce(ephemeral.publicKey, recipientPublicKey);
    const box = nacl.box(message, nonce, recipientPublicKey, ephemeral.secretKey);
    const out = new Uint8Array(KEY_BYTES + box.length);
    out.set(ephemeral.publicKey);
    out.set(box, KEY_BYTES);
    return out;
  },
  open(sealed, recipient) {
    checkSealedLength(sealed);
    const ephemeralPublicKey = sealed.subarray(0, KEY_BYTES);
    const nonce = sealNonce(ephemeralPublicKey, recipient.publicKey);
    const message = nacl.box.open(
      sealed.subarray(KEY_BYTES),
      nonce,
      ephemeralPublicKey,
      recipient.secretKey,
    );
    if (message === null) {
      throw openFailed();
    }
    return message;
  },
  sharedKey(secretKey, peerPublicKey) {
    checkKey(secretKey, "secret key");
    checkKey(peerPublicKey, "peer public key");
    return nacl.box.before(peerPublicKey, secretKey);
  },
};

function sealNonce(ephemeralPublicKey: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  const input = new Uint8Array(2 * KEY_BYTES);
  input.set(ephemeralPublicKey);
  input.set(recipientPublicKey, KEY_BYTES);
  return blake2b(input, { dkLen: NONCE_BYTES });
}
