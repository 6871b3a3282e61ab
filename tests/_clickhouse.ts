/**
 * Test helper: a real clickhouse-server (Debian's, 18.16) of the test's own — loopback ports,
 * its data in a temp folder, stopped and removed after — and plain HTTP questions to it.
 *
 * @module
 */

export interface ClickHouse {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Rows of `sql` as TSV lines split into cells. */
  query(sql: string): Promise<string[][]>;
  /** Stops the server (its data stays: start it again with `start`). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  remove(): Promise<void>;
}

export async function startClickHouse(): Promise<ClickHouse> {
  const dir = await Deno.makeTempDir({ prefix: "ch-" });
  // Below the ephemeral range (32768 on): no outgoing connection holds it while it is down.
  const http = 20000 + Math.floor(Math.random() * 12000);
  const tcp = http + 1;
  await Deno.writeTextFile(
    `${dir}/config.xml`,
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>${http}</http_port>
  <tcp_port>${tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
</yandex>
`,
  );
  await Deno.writeTextFile(
    `${dir}/users.xml`,
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`,
  );
  const url = `http://127.0.0.1:${http}`;
  let child: Deno.ChildProcess | null = null;
  const ch: ClickHouse = {
    url,
    async query(sql) {
      // POST: ClickHouse takes GET requests as read-only.
      const res = await fetch(`${url}/`, { method: "POST", body: sql });
      const text = await res.text();
      if (!res.ok) throw new Error(`ClickHouse: ${text}`);
      return text.trimEnd().split("\n").filter((l) => l !== "").map((l) => l.split("\t"));
    },
    async start() {
      try {
        child = new Deno.Command("clickhouse-server", {
          args: [`--config-file=${dir}/config.xml`],
          stdout: "null",
          stderr: Deno.env.get("CH_DEBUG") ? "inherit" : "null",
        }).spawn();
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        throw new Error("clickhouse-server is not installed (apt install clickhouse-server)");
      }
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        const ok = await fetch(`${url}/ping`).then((r) => r.text()).catch(() => "");
        if (ok.startsWith("Ok")) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("clickhouse-server did not start within 30 s");
    },
    async stop() {
      if (child === null) return;
      child.kill("SIGTERM");
      await child.status;
      child = null;
    },
    async remove() {
      await ch.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
  await ch.start();
  return ch;
}
