/**
 * A progress bar on stderr, only when stderr is a terminal and the input is large enough
 * for a person to wait on it.
 *
 * @module
 */

/** Inputs smaller than this finish before a bar would be useful. */
export const PROGRESS_MIN_BYTES = 8 * 1024 * 1024;
const REDRAW_MS = 100;
const WIDTH = 30;

export class ProgressBar {
  private lastDraw = 0;
  private drawn = false;
  private readonly enc = new TextEncoder();

  constructor(private readonly enabled: boolean) {}

  static forStderr(totalBytes: number): ProgressBar {
    return new ProgressBar(Deno.stderr.isTerminal() && totalBytes >= PROGRESS_MIN_BYTES);
  }

  update(label: string, done: number, total: number): void {
    if (!this.enabled || total <= 0) return;
    const now = performance.now();
    if (now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const frac = Math.min(1, done / total);
    const fill = Math.round(frac * WIDTH);
    const bar = "#".repeat(fill) + "-".repeat(WIDTH - fill);
    const line = `\r[${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${label}`;
    Deno.stderr.writeSync(this.enc.encode(line.slice(0, 100)));
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) Deno.stderr.writeSync(this.enc.encode("\r\x1b[K"));
  }
}
