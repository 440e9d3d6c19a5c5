import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { childEnv } from "../../tasks/launch/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

async function createIn(permissions: string[], backend: string) {
  const output = await new Deno.Command("deno", {
    args: ["run", ...permissions, "tests/testdata/create_box.ts", backend],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: childEnv({ NO_COLOR: "1" }),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout).trim(),
    stderr: decoder.decode(output.stderr).trim(),
  };
}

Deno.test("without --allow-ffi the native backend refuses to load, naming both fixes", async () => {
  const { code, stderr } = await createIn(["--allow-read"], "native");
  assert.equal(code, 1);
  assert.match(
    stderr,
    /^Cannot load crypto backend "native" \(libsodium through .*sodium-native\)/,
  );
  assert.match(stderr, /Requires ffi access/);
  assert.match(stderr, /Run deno with --allow-ffi .*or set crypto_backend: libsodium/);
  // The pure fallback needs no such permission.
  assert.deepEqual(await createIn(["--allow-read"], "libsodium"), {
    code: 0,
    stdout: "libsodium",
    stderr: "",
  });
});
