/** Thrown by `throwIfRequested` between start-up steps once Ctrl-C was pressed. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

/**
 * npm forwards the terminal's SIGINT to the script, which gets it from the terminal too: one
 * Ctrl-C arrives twice within milliseconds. A signal this soon after the first is the same press.
 */
const SAME_PRESS_MS = 500;

/**
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP for `npm start`, handled for the whole life of the process:
 * a signal never ends it before the dev server is stopped. The first one calls the `onStop`
 * callbacks (stop the worker; a step in progress ends, then the start-up stops); a later one
 * calls the `onHurry` callback (stop the dev server now and exit).
 */
export class Interrupts {
  private firstAt: number | undefined;
  private hurried = false;
  private readonly stopCallbacks: (() => void)[] = [];
  private hurryCallback: (() => void) | undefined;
  private resolveStopped!: () => void;
  /** Resolves at the first signal. */
  readonly stopped = new Promise<void>((resolve) => (this.resolveStopped = resolve));

  constructor(
    private readonly say: { stopping: () => string; hurrying: string },
    signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'],
  ) {
    for (const signal of signals) process.on(signal, () => this.received());
  }

  get requested(): boolean {
    return this.firstAt !== undefined;
  }

  /** Runs `fn` at the first signal, or now if it came already. */
  onStop(fn: () => void): void {
    if (this.requested) fn();
    else this.stopCallbacks.push(fn);
  }

  /** What a second Ctrl-C does (the last one set wins). */
  onHurry(fn: () => void): void {
    this.hurryCallback = fn;
  }

  throwIfRequested(): void {
    if (this.requested) throw new Interrupted();
  }

  private received(): void {
    const now = performance.now();
    if (this.firstAt === undefined) {
      this.firstAt = now;
      console.log(this.say.stopping());
      for (const fn of this.stopCallbacks.splice(0)) fn();
      this.resolveStopped();
    } else if (now - this.firstAt >= SAME_PRESS_MS && !this.hurried && this.hurryCallback) {
      this.hurried = true;
      console.log(this.say.hurrying);
      this.hurryCallback();
    }
  }
}
