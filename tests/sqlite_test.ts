import assert from "node:assert/strict";
import { join } from "node:path";
import { BackgroundCheckpoint, openDatabase } from "../src/sqlite.ts";
import { waitUntil } from "./_testkit/ports.ts";

Deno.test("with a check point worker a large commit leaves the log as it is; the worker copies it after", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-sqlite-" });
  const path = join(dir, "mix.sqlite");
  const db = openDatabase(path, "CREATE TABLE IF NOT EXISTS t (b BLOB)");
  const checkpoint = new BackgroundCheckpoint(db);
  try {
    const insert = db.prepare("INSERT INTO t (b) VALUES (?)");
    db.exec("BEGIN");
    for (let i = 0; i < 72; i++) insert.run(new Uint8Array(2 ** 20).fill(i));
    db.exec("COMMIT");
    // 72 MiB committed, past the 64 MiB at which a commit without a worker copies the log
    // itself: all of it still in the log.
    assert.ok(Deno.statSync(path).size < 2 ** 20, "no check point inside the commit");
    assert.ok(Deno.statSync(`${path}-wal`).size >= 72 * 2 ** 20);
    checkpoint.written();
    await waitUntil(() => Deno.statSync(path).size >= 72 * 2 ** 20, 10_000, "the check point");
    assert.equal(db.prepare("SELECT count(*) AS n FROM t").get()!.n, 72);
    // The first write after a whole check point starts the log over and cuts the file back.
    await waitUntil(
      () => {
        insert.run(new Uint8Array(1));
        checkpoint.written();
        return Deno.statSync(`${path}-wal`).size <= 64 * 2 ** 20;
      },
      10_000,
      "the log cut back to 64 MiB",
    );
  } finally {
    await checkpoint.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a check point worker that cannot open the file gives the commits their own check point back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-sqlite-" });
  const db = openDatabase(join(dir, "a", "mix.sqlite"), "CREATE TABLE IF NOT EXISTS t (b BLOB)");
  const bound = () => Number(db.prepare("PRAGMA wal_autocheckpoint").get()!.wal_autocheckpoint);
  const usual = bound();
  // The worker opens the file by its path, which no longer leads to it.
  await Deno.rename(join(dir, "a"), join(dir, "b"));
  const checkpoint = new BackgroundCheckpoint(db);
  try {
    assert.ok(bound() > usual, "the worker's bound at first");
    await waitUntil(() => bound() === usual, 5_000, "the usual bound again");
  } finally {
    await checkpoint.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
