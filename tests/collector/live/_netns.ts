/**
 * Network namespaces for the live-capture tests (root only): a veth pair whose far end is in a
 * namespace the test makes and removes, and trafgen frames sent from there. Traffic never
 * leaves the pair.
 */

export async function sh(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stderr: "piped",
    stdout: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

export interface Veth {
  ns: string;
  /** The end in this namespace, and the one in `ns`. */
  host: string;
  far: string;
  /** Runs a command inside `ns`. */
  inNs(...cmd: string[]): Promise<string>;
  /** Makes the pair (again, after `host` was deleted), both ends up. */
  link(): Promise<void>;
  /** `count` frames of `frame` (trafgen's language) sent from the far end. */
  trafgen(frame: string, count: number): Promise<void>;
  remove(): Promise<void>;
}

/** A namespace and a veth pair into it, named after `tag`; call `remove` when done. */
export async function makeVeth(tag: string): Promise<Veth> {
  const ns = `nstest${tag}`, host = `nsa${tag}`, far = `nsb${tag}`;
  await sh(["ip", "netns", "add", ns]);
  const inNs = (...cmd: string[]) => sh(["ip", "netns", "exec", ns, ...cmd]);
  const veth: Veth = {
    ns,
    host,
    far,
    inNs,
    async link() {
      await sh(["ip", "link", "add", host, "type", "veth", "peer", "name", far]);
      await sh(["ip", "link", "set", far, "netns", ns]);
      await sh(["ip", "link", "set", host, "up"]);
      await inNs("ip", "link", "set", far, "up");
      await inNs("ip", "addr", "add", "10.78.0.2/24", "dev", far);
      // No one answers ARP on the host side: the neighbour is fixed.
      await inNs("ip", "neigh", "add", "10.78.0.1", "lladdr", "02:00:00:00:00:01", "dev", far);
    },
    async trafgen(frame: string, count: number) {
      const conf = await Deno.makeTempFile({ suffix: ".trafgen" });
      try {
        await Deno.writeTextFile(conf, `{ ${frame} }\n`);
        await inNs("trafgen", "-o", far, "-i", conf, "-n", String(count), "-q");
      } finally {
        await Deno.remove(conf);
      }
    },
    async remove() {
      await sh(["ip", "netns", "del", ns]).catch(() => {});
      await sh(["ip", "link", "del", host]).catch(() => {});
    },
  };
  try {
    await veth.link();
  } catch (e) {
    await veth.remove();
    throw e;
  }
  return veth;
}
