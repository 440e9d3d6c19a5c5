import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import {
  certificatePath,
  createSealedBox,
  CryptoError,
  ensureKeyPair,
  ensureTlsIdentity,
  generateTlsIdentity,
  parseCertificate,
  publicKeyPath,
  readCertificate,
  tlsKeyPath,
} from "../../src/crypto/mod.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-cert-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.chmod(dir, 0o700).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a generated certificate is self-signed for the node, not a CA, for both TLS roles", async () => {
  const { keyPem, certificate } = await generateTlsIdentity("mix_1");
  const x509 = new X509Certificate(certificate.pem);
  assert.match(x509.subject, /CN=mix_1/);
  assert.equal(x509.subject, x509.issuer);
  assert.equal(x509.ca, false);
  assert.ok(x509.verify(x509.publicKey));
  assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(certificate.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(certificate.fingerprint, x509.fingerprint256);
  assert.ok(new Date(x509.validTo).getFullYear() >= new Date().getFullYear() + 19);
});

Deno.test("ensureTlsIdentity makes a key and certificate once, publishes it, then loads the same", async () => {
  await withDir(async (dir) => {
    const paths = { configDir: dir, keysDir: `${dir}/secret` };
    const first = await ensureTlsIdentity(paths, "mix_1");
    assert.ok(first.created);
    assert.equal((await Deno.stat(tlsKeyPath(paths.keysDir, "mix_1"))).mode! & 0o777, 0o600);
    const again = await ensureTlsIdentity(paths, "mix_1");
    assert.ok(!again.created);
    assert.deepEqual(again.identity, first.identity);
    assert.deepEqual(await readCertificate(dir, "mix_1"), first.identity.certificate);
    assert.equal(again.replaced, undefined);
    const forced = await ensureTlsIdentity(paths, "mix_1", { force: true });
    assert.equal(forced.replaced, first.identity.certificate.fingerprint);
    assert.notEqual(
      forced.identity.certificate.fingerprint,
      first.identity.certificate.fingerprint,
    );
    assert.equal(
      (await readCertificate(dir, "mix_1")).fingerprint,
      forced.identity.certificate.fingerprint,
    );
  });
});

Deno.test("a node whose public files are already published starts from a read-only config folder", async () => {
  await withDir(async (dir) => {
    const paths = { configDir: `${dir}/config`, keysDir: `${dir}/secret` };
    const box = await createSealedBox("tweetnacl");
    await ensureKeyPair(box, paths, "mix_1");
    await ensureTlsIdentity(paths, "mix_1");
    await Deno.chmod(paths.configDir, 0o555);
    await Deno.chmod(publicKeyPath(paths.configDir, "mix_1"), 0o444);
    await ensureKeyPair(box, paths, "mix_1");
    await ensureTlsIdentity(paths, "mix_1");
  });
});

Deno.test("a certificate that is not the TLS key's, or missing beside it, is refused with the fix", async () => {
  await withDir(async (dir) => {
    const paths = { configDir: dir, keysDir: `${dir}/secret` };
    await ensureTlsIdentity(paths, "mix_1");
    const other = await generateTlsIdentity("mix_1");
    await Deno.writeTextFile(certificatePath(paths.keysDir, "mix_1"), other.certificate.pem);
    await assert.rejects(ensureTlsIdentity(paths, "mix_1"), (error: Error) => {
      assert.ok(error instanceof CryptoError);
      assert.match(error.message, /is not for the TLS key .*mix_1\.tls\.key: restore the pair/);
      assert.ok(error.message.includes(other.certificate.fingerprint));
      return true;
    });
    await Deno.remove(certificatePath(paths.keysDir, "mix_1"));
    await assert.rejects(ensureTlsIdentity(paths, "mix_1"), /has a TLS key but no certificate/);
    await Deno.chmod(tlsKeyPath(paths.keysDir, "mix_1"), 0o640);
    await assert.rejects(
      ensureTlsIdentity(paths, "mix_1"),
      /readable by group or others .*chmod 600/,
    );
  });
});

Deno.test("a missing or malformed published certificate names the node and the file", async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      readCertificate(dir, "mix_2"),
      /certificate of mix_2 from .*mix_2\.crt: no such file/,
    );
    await Deno.writeTextFile(certificatePath(dir, "mix_2"), "not a certificate\n");
    await assert.rejects(
      readCertificate(dir, "mix_2"),
      /Invalid certificate file .*mix_2\.crt: not a PEM/,
    );
    assert.throws(() => parseCertificate(""), CryptoError);
  });
});
