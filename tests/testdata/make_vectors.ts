/**
 * Writes tests/testdata/sealed_box_vectors.json: fixed keys, ephemeral keys and messages with
 * the box libsodium produces for them. Run once; the committed file is the reference.
 */
import { createSealedBox, encodeBase64 } from "../../src/crypto/mod.ts";

const box = await createSealedBox("libsodium");
const vectors = [0, 1, 32, 1024].map((length) => {
  const recipient = box.generateKeyPair();
  const ephemeral = box.generateKeyPair();
  const message = crypto.getRandomValues(new Uint8Array(length));
  return {
    recipient_secret: encodeBase64(recipient.secretKey),
    recipient_public: encodeBase64(recipient.publicKey),
    ephemeral_secret: encodeBase64(ephemeral.secretKey),
    message: encodeBase64(message),
    sealed: encodeBase64(box.sealWithEphemeral(message, recipient.publicKey, ephemeral)),
    shared_key: encodeBase64(box.sharedKey(recipient.secretKey, ephemeral.publicKey)),
  };
});
const path = new URL("./sealed_box_vectors.json", import.meta.url);
await Deno.writeTextFile(path, JSON.stringify(vectors, null, 2) + "\n");
