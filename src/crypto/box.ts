/**
 * The one interface every sealed-box implementation provides, and its sizes.
 *
 * @module
 */

/** Bytes of an X25519 public or secret key. */
export const KEY_BYTES = 32;
/** Bytes a sealed box adds to its message: the ephemeral public key and the Poly1305 tag. */
export const SEAL_OVERHEAD = 48;
/** Bytes of the nonce of XSalsa20-Poly1305. */
export const NONCE_BYTES = 24;

/** An X25519 key pair. */
export interface KeyPair {
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The 32-byte secret key; never logged. */
  readonly secretKey: Uint8Array;
}

/**
 * A libsodium `crypto_box_seal`-compatible sealed box: output = ephemeral public key ‖
 * XSalsa20-Poly1305 box, nonce = BLAKE2b-192(ephemeral public key ‖ recipient public key).
 * Every implementation is byte-compatible with every other.
 */
export interface SealedBox {
  /** The implementation's name, as in config `crypto_backend`. */
  readonly name: string;
  /** Generates a fresh key pair from the CSPRNG. */
  generateKeyPair(): KeyPair;
  /** Derives the public key of a secret key. */
  publicKeyOf(secretKey: Uint8Array): Uint8Array;
  /** Seals `message` to `recipientPublicKey` with a fresh ephemeral key. */
  seal(message: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array;
  /**
   * Seals with the given ephemeral key pair; only for deterministic test vectors, since reusing
   * an ephemeral key breaks unlinkability.
   */
  sealWithEphemeral(
    message: Uint8Array,
    recipientPublicKey: Uint8Array,
    ephemeral: KeyPair,
  ): Uint8Array;
  /**
   * Opens a sealed box.
   *
   * @throws {CryptoError} when the box is truncated, tampered with or sealed to another key.
   */
  open(sealed: Uint8Array, recipient: KeyPair): Uint8Array;
  /** The `crypto_box_beforenm` key of two parties: the same from either side. */
  sharedKey(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array;
}
