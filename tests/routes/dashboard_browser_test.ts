/**
 * The dashboard in a real browser (Debian's chromium, headless, driven by puppeteer-core) over
 * the real daemon replaying a capture with 1 s windows: the page loads with no console error
 * and no request to another origin, logs in with the store's token, draws its charts and
 * tables with data, updates from the live stream, applies a filter and shows where a wrong
 * one is wrong. With NETSPECTRA_SCREENSHOT=FILE it keeps a screenshot there.
 */

import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";
import { REPLAY_RUN_ARGS, RUN_LISTENING, runCli, startCli } from "../cli/_run.ts";

const CHROMIUM = "/usr/bin/chromium";

Deno.test({
  name: "dashboard: loads clean, shows data, follows the stream, applies a filter (chromium)",
  ignore: !existsSync(CHROMIUM),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const g = await runCli([
      "gen",
      "--packets",
      "1500",
      "--flows",
      "60",
      "--rate",
      "60",
      "--dns",
      "5",
      "--http",
      "5",
      "--scans",
      "2",
      "-o",
      "g.pcap",
    ], dir);
    assert.equal(g.code, 0, g.stderr);
    const { child: run, found: url } = await startCli(
      REPLAY_RUN_ARGS,
      dir,
      RUN_LISTENING,
    );
    const origin = new URL(url).origin;
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const elsewhere: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warn") problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e}`));
      page.on("request", (r) => {
        if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) elsewhere.push(r.url());
      });
      await page.setViewport({ width: 1280, height: 1100 });
      await page.goto(url, { waitUntil: "load" });
      await page.waitForSelector("#login:not([hidden])");
      const token = (await Deno.readTextFile(`${dir}/r.duckdb.token`)).trim();
      await page.type("#token", token);
      await page.click("#login-form button");
      await page.waitForFunction("Number(document.body.dataset.refreshes ?? 0) >= 1", {
        timeout: 30_000,
      });
      // Live: windows arrive on the stream and the panels follow (no timer polls the API).
      await page.waitForFunction("Number(document.body.dataset.windows ?? 0) >= 3", {
        timeout: 30_000,
      });
      await page.waitForFunction("Number(document.body.dataset.refreshes) >= 2", {
        timeout: 30_000,
      });
      await page.waitForFunction('document.querySelectorAll("#t-src tr").length >= 4', {
        timeout: 30_000,
      });
      assert.ok(await page.$("#chart-rate canvas"), "the rate chart is drawn");
      const recent = await page.$$eval("#t-windows tr", (rows) => rows.length);
      assert.ok(recent >= 3, `${recent} rows of recent windows`);
      const rate = await page.$eval("#rate", (e) => e.textContent ?? "");
      assert.match(rate, /packets\/s/);
      // A filter: only UDP is left in the protocol mix.
      const before = Number(await page.$eval("body", (b) => b.dataset.refreshes));
      await page.type("#filter", "proto = udp");
      await page.click("#filter-form button");
      await page.waitForFunction(
        `Number(document.body.dataset.refreshes) > ${before} && document.body.dataset.filter === "proto = udp"`,
        { timeout: 30_000 },
      );
      const protos = await page.$$eval(
        "#t-proto tr td:first-child",
        (tds) => tds.map((t) => t.textContent),
      );
      assert.deepEqual(protos, ["udp"]);
      const path = Deno.env.get("NETSPECTRA_SCREENSHOT");
      if (path) await page.screenshot({ path: path as `${string}.png`, fullPage: true });
      // A wrong filter says where.
      await page.click("#filter", { count: 3 }); // selects the text, which typing replaces
      await page.type("#filter", "proto = udp and port >");
      await page.click("#filter-form button");
      await page.waitForSelector("#filter-error:not([hidden])");
      const err = await page.$eval("#filter-error", (e) => e.textContent ?? "");
      assert.match(err, /character 23: expected a value at the end/);
      // The filter error is a 400 the page asked for: the only console line allowed, said so.
      assert.deepEqual(problems.filter((p) => !/status of 400/.test(p)), []);
      assert.deepEqual(elsewhere, []);
    } finally {
      await browser.close();
      run.kill("SIGTERM");
      await run.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
