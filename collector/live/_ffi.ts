/**
 * The C functions live capture needs, opened once on first use: libc for the AF_PACKET socket,
 * its ring and `poll`; libpcap only to compile a filter expression into classic BPF.
 *
 * Per-packet calls into C are what this design avoids: on this VM a plain FFI call with buffer
 * arguments costs ~20 ns, a system call through it ~1.2 µs and a C → JS callback ~0.8 µs, while
 * walking the mapped ring from JS costs ~12 ns a packet (spike/ring.ts on the spike branch).
 *
 * @module
 */

import { UserError } from "../user_error.ts";

const LIBC_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  // Waits on a thread of Deno's pool: the event loop never blocks.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

const PCAP_SYMBOLS = {
  pcap_open_dead: { parameters: ["i32", "i32"], result: "pointer" },
  pcap_compile: { parameters: ["pointer", "buffer", "buffer", "i32", "u32"], result: "i32" },
  pcap_geterr: { parameters: ["pointer"], result: "pointer" },
  pcap_freecode: { parameters: ["buffer"], result: "void" },
  pcap_close: { parameters: ["pointer"], result: "void" },
} as const;

type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];
type Pcap = Deno.DynamicLibrary<typeof PCAP_SYMBOLS>["symbols"];

let libc: Libc | null = null;
let pcap: Pcap | null = null;

export function libcSymbols(): Libc {
  libc ??= Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  return libc;
}

/** libpcap (Debian: libpcap0.8), for `pcap_compile` only. */
export function pcapSymbols(): Pcap {
  if (pcap !== null) return pcap;
  try {
    pcap = Deno.dlopen("libpcap.so.0.8", PCAP_SYMBOLS).symbols;
  } catch {
    throw new UserError(
      "A capture filter needs libpcap (libpcap.so.0.8; Debian: apt install libpcap0.8).",
    );
  }
  return pcap;
}

/** The calling thread's errno, as its number and libc's text. */
export function lastError(): { code: number; text: string } {
  const c = libcSymbols();
  const code = new Deno.UnsafePointerView(c.__errno_location()!).getInt32();
  return { code, text: errnoText(code) };
}

/** libc's text for error number `code`. */
export function errnoText(code: number): string {
  const p = libcSymbols().strerror(code);
  return p === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(p);
}

export const EPERM = 1;
export const ENODEV = 19;
export const ENOMEM = 12;
