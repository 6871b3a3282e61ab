/** Test helper process: holds a store open (and locked) until its stdin closes. */
import { Store } from "../../storage/mod.ts";

const store = await Store.open(Deno.args[0]!);
console.log("locked");
for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
await store.close();
