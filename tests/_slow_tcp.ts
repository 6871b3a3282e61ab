/**
 * Test helper: a TCP client that reads slowly for real — a libc socket whose receive buffer is
 * set small before it connects (that also stops the kernel growing it), so a server writing to
 * a client that does not read meets a full socket after a few kilobytes, not megabytes.
 * Loopback only (the tests' rule).
 *
 * @module
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32", nonblocking: true },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize", nonblocking: true },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize", nonblocking: true },
  close: { parameters: ["i32"], result: "i32" },
} as const;

const AF_INET = 2, SOCK_STREAM = 1, SOL_SOCKET = 1, SO_RCVBUF = 8;

export class SlowTcpClient {
  private constructor(
    private readonly lib: Deno.DynamicLibrary<typeof SYMBOLS>,
    private readonly fd: number,
  ) {}

  /** Connects to 127.0.0.1:`port` with a receive buffer of about `rcvbuf` bytes. */
  static async connect(port: number, rcvbuf: number): Promise<SlowTcpClient> {
    const lib = Deno.dlopen("libc.so.6", SYMBOLS);
    const s = lib.symbols;
    const fd = s.socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw new Error("socket() failed");
    const size = new Int32Array([rcvbuf]);
    if (s.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, new Uint8Array(size.buffer), 4) !== 0) {
      throw new Error("setsockopt(SO_RCVBUF) failed");
    }
    const addr = new Uint8Array(16); // struct sockaddr_in
    const v = new DataView(addr.buffer);
    v.setUint16(0, AF_INET, true);
    v.setUint16(2, port, false);
    addr.set([127, 0, 0, 1], 4);
    if (await s.connect(fd, addr, 16) !== 0) throw new Error(`connect to port ${port} failed`);
    return new SlowTcpClient(lib, fd);
  }

  async write(text: string): Promise<void> {
    const b = new TextEncoder().encode(text);
    for (let at = 0; at < b.length;) {
      const n = Number(
        await this.lib.symbols.send(this.fd, b.subarray(at), BigInt(b.length - at), 0),
      );
      if (n <= 0) throw new Error("send() failed");
      at += n;
    }
  }

  /** Reads until the server closes (or `limit` bytes); returns what came. */
  async readAll(limit = 64 << 20): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    const buf = new Uint8Array(1 << 16);
    while (total < limit) {
      const n = Number(await this.lib.symbols.recv(this.fd, buf, BigInt(buf.length), 0));
      if (n <= 0) break;
      parts.push(buf.slice(0, n));
      total += n;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) out.set(p, at), at += p.length;
    return out;
  }

  close(): void {
    this.lib.symbols.close(this.fd);
    this.lib.close();
  }
}
