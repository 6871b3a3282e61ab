/**
 * A capture filter (tcpdump's expression language) compiled to classic BPF by libpcap, in the
 * form the kernel takes with SO_ATTACH_FILTER: `struct sock_filter` instructions (u16 code, u8
 * jt, u8 jf, u32 k — the same layout as libpcap's `struct bpf_insn`).
 *
 * @module
 */

import { UserError } from "../user_error.ts";
import { pcapSymbols } from "./_ffi.ts";

/** Longest filter expression taken (a filter, not a program). */
export const FILTER_CHARS_MAX = 4096;
/** The kernel's limit on classic BPF instructions (BPF_MAXINSNS). */
const INSNS_MAX = 4096;
const PCAP_NETMASK_UNKNOWN = 0xffffffff;

/** Compiles `expression` for frames of `linkType` captured at `snaplen`; a bad one is a UserError. */
export function compileFilter(expression: string, linkType: number, snaplen: number): Uint8Array {
  if (expression.length > FILTER_CHARS_MAX) {
    throw new UserError(`The capture filter is longer than ${FILTER_CHARS_MAX} characters.`);
  }
  if (expression.includes("\0")) throw new UserError("The capture filter holds a NUL character.");
  const p = pcapSymbols();
  const handle = p.pcap_open_dead(linkType, snaplen);
  if (handle === null) throw new Error(`pcap_open_dead(${linkType}) failed`);
  // struct bpf_program { u_int bf_len; struct bpf_insn *bf_insns; }: 16 bytes on 64-bit Linux.
  const prog = new Uint8Array(16);
  try {
    const text = new TextEncoder().encode(expression + "\0");
    if (p.pcap_compile(handle, prog, text, 1, PCAP_NETMASK_UNKNOWN) !== 0) {
      const err = p.pcap_geterr(handle);
      const why = err === null ? "syntax error" : Deno.UnsafePointerView.getCString(err);
      throw new UserError(`Invalid capture filter "${expression}": ${why}.`);
    }
    const view = new DataView(prog.buffer);
    const count = view.getUint32(0, true);
    const insns = Deno.UnsafePointer.create(view.getBigUint64(8, true));
    if (count < 1 || count > INSNS_MAX || insns === null) {
      throw new UserError(`The capture filter "${expression}" compiles to ${count} instructions.`);
    }
    const out = new Uint8Array(count * 8);
    out.set(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(insns, count * 8)));
    p.pcap_freecode(prog);
    return out;
  } finally {
    p.pcap_close(handle);
  }
}

/** A filter that takes nothing: attached first so no frame from before the real filter gets in. */
export const DROP_ALL: Uint8Array = new Uint8Array([6, 0, 0, 0, 0, 0, 0, 0]); // BPF_RET|BPF_K, 0
/** A filter that takes every frame whole (BPF_RET|BPF_K, 2^32 - 1): no filter. */
export const TAKE_ALL: Uint8Array = new Uint8Array([6, 0, 0, 0, 255, 255, 255, 255]);
