/**
 * UDP datagrams to 127.0.0.1 for the live-capture tests (the test task may send to loopback
 * only: --allow-net=127.0.0.1, so the socket is bound there too).
 */

import dgram from "node:dgram";

/**
 * Sends one datagram per entry of `sizes` (payload bytes) to 127.0.0.1:`port`, each after the
 * one before was handed to the kernel, pausing `pauseMs` after every `pauseEvery`; returns the
 * payload bytes sent.
 */
export async function sendUdp(
  port: number,
  sizes: readonly number[],
  pause: { every: number; ms: number } | null = null,
): Promise<number> {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((ok) => sock.bind(0, "127.0.0.1", ok));
  let bytes = 0;
  try {
    for (let i = 0; i < sizes.length; i++) {
      await new Promise<void>((ok, no) =>
        sock.send(new Uint8Array(sizes[i]!), port, "127.0.0.1", (e) => e ? no(e) : ok())
      );
      bytes += sizes[i]!;
      if (pause !== null && i % pause.every === pause.every - 1) {
        await new Promise((ok) => setTimeout(ok, pause.ms));
      }
    }
  } finally {
    sock.close();
  }
  return bytes;
}
