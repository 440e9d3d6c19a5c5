import assert from "node:assert/strict";
import { join } from "node:path";
import { BackgroundCheckpoint, openDatabase } from "../src/sqlite.ts";
import { waitUntil } from "./_testkit/ports.ts";

Deno.test("a commit leaves the log as it is; a worker copies the log into the database after it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-sqlite-" });
  const path = join(dir, "mix.sqlite");
  const db = openDatabase(path, "CREATE TABLE IF NOT EXISTS t (b BLOB)");
  const checkpoint = new BackgroundCheckpoint(path);
  try {
    const insert = db.prepare("INSERT INTO t (b) VALUES (?)");
    db.exec("BEGIN");
    for (let i = 0; i < 8; i++) insert.run(new Uint8Array(2 ** 20).fill(i));
    db.exec("COMMIT");
    // 8 MiB committed: past SQLite's default check point of 4 MiB, all of it still in the log.
    assert.ok(Deno.statSync(path).size < 2 ** 20, "no check point inside the commit");
    assert.ok(Deno.statSync(`${path}-wal`).size >= 8 * 2 ** 20);
    checkpoint.written();
    await waitUntil(() => Deno.statSync(path).size >= 8 * 2 ** 20, 5_000, "the check point");
    assert.equal(db.prepare("SELECT count(*) AS n FROM t").get()!.n, 8);
  } finally {
    await checkpoint.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
