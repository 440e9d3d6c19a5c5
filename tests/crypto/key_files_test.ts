import assert from "node:assert/strict";
import {
  createSealedBox,
  CryptoError,
  decodePublicKey,
  encodeBase64,
  ensureKeyPair,
  publicKeyPath,
  readKeyPair,
  readPublicKey,
  secretKeyPath,
} from "../../src/crypto/mod.ts";

const box = await createSealedBox();

Deno.test("ensureKeyPair creates a key pair once, then loads the same one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = { configDir: dir, keysDir: `${dir}/secret` };
    const first = await ensureKeyPair(box, paths, "mix_1");
    assert.ok(first.created);
    const second = await ensureKeyPair(box, paths, "mix_1");
    assert.ok(!second.created);
    assert.deepEqual(second.pair, first.pair);
    assert.deepEqual(await readPublicKey(dir, "mix_1"), first.pair.publicKey);
    assert.equal((await Deno.stat(secretKeyPath(paths.keysDir, "mix_1"))).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(paths.keysDir)).mode! & 0o777, 0o700);
    const text = await Deno.readTextFile(publicKeyPath(dir, "mix_1"));
    assert.equal(text.trim(), encodeBase64(first.pair.publicKey));
    const forced = await ensureKeyPair(box, paths, "mix_1", { force: true });
    assert.notDeepEqual(forced.pair.publicKey, first.pair.publicKey);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a secret key readable by others is refused with the fix", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = { configDir: dir, keysDir: dir };
    await ensureKeyPair(box, paths, "client_1");
    await Deno.chmod(secretKeyPath(dir, "client_1"), 0o644);
    await assert.rejects(
      readKeyPair(box, dir, "client_1"),
      /readable by group or others \(mode 644\): run chmod 600 .*client_1\.secret/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("missing and malformed key files name the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(readPublicKey(dir, "mix_9"), /mix_9\.key: no such file.*keygen/);
    await Deno.writeTextFile(publicKeyPath(dir, "mix_9"), "not a key\n");
    await assert.rejects(
      readPublicKey(dir, "mix_9"),
      (e: Error) => e instanceof CryptoError && /mix_9\.key/.test(e.message),
    );
    await Deno.writeTextFile(secretKeyPath(dir, "mix_9"), "short\n", { mode: 0o600 });
    await assert.rejects(readKeyPair(box, dir, "mix_9"), /mix_9\.secret is malformed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodePublicKey accepts raw bytes and key-file text, and nothing else", () => {
  const key = box.generateKeyPair().publicKey;
  assert.deepEqual(decodePublicKey(key), key);
  const text = new TextEncoder().encode(encodeBase64(key) + "\n");
  assert.deepEqual(decodePublicKey(text), key);
  assert.throws(() => decodePublicKey(new Uint8Array(31)), /expected 32 raw bytes or the base64/);
  assert.throws(() => decodePublicKey(new TextEncoder().encode("AAAA")), CryptoError);
});
