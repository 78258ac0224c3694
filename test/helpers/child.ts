import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/**
 * A child process a test started, speaking a line protocol: it prints marker lines on stdout and
 * reads commands on stdin. Every child is added to the `registry` given to {@link Child.start}, so
 * that the test's `afterEach` can kill whatever is left, even when the test failed.
 */
export class Child {
  readonly pid: number;
  /** Complete stdout lines so far. */
  readonly lines: string[] = [];
  /** Everything printed (stdout and stderr), for a failure report. */
  readonly output: string[] = [];
  private partial = '';
  private waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  private readonly exit: Promise<void>;
  private exitInfo?: string;
  /** Whether {@link kill} was called (a child that ended otherwise exited or crashed by itself). */
  killed = false;

  private constructor(readonly name: string, readonly process: ChildProcess) {
    this.pid = process.pid!;
    // 'close', not 'exit': by then every byte it printed has been read.
    this.exit = once(process, 'close').then(([code, signal]) => {
      this.exitInfo = signal ? `killed by ${String(signal)}` : `exited with ${String(code)}`;
    });
    process.stdout!.setEncoding('utf8');
    process.stdout!.on('data', (chunk: string) => {
      this.output.push(chunk);
      this.partial += chunk;
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        const line = this.partial.slice(0, nl);
        this.partial = this.partial.slice(nl + 1);
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => {
          const m = w.re.exec(line);
          if (m) w.resolve(m);
          return !m;
        });
      }
    });
    process.stderr!.setEncoding('utf8');
    process.stderr!.on('data', (chunk: string) => this.output.push(chunk));
    // A child that is killed while the test writes to it must not crash the test with EPIPE.
    process.stdin!.on('error', () => undefined);
    process.on('error', (e) => this.output.push(`[child process error] ${e.message}\n`));
  }

  /** Starts `node <args>` with exactly `env` (plus `PATH`), and registers it. */
  static start(name: string, args: readonly string[], options: { cwd: string; env: Record<string, string> }, registry: Set<Child>): Child {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd, env: { PATH: process.env.PATH ?? '', ...options.env }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    const c = new Child(name, child);
    registry.add(c);
    return c;
  }

  /** Whether the process has ended. */
  get exited(): boolean {
    return this.exitInfo !== undefined;
  }

  /**
   * The first stdout line (printed so far or later) matching `re`. Rejects when the process ends
   * first or after `timeoutMs`, with the process's output in the message.
   */
  waitFor(re: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    for (const line of this.lines) {
      const m = re.exec(line);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const waiter = { re, resolve: (m: RegExpExecArray) => { clearTimeout(timer); resolve(m); } };
      const fail = (why: string): void => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name} (pid ${this.pid}) ${why} before printing ${String(re)}:\n${this.tail()}`));
      };
      const timer = setTimeout(() => fail(`took more than ${timeoutMs} ms`), timeoutMs);
      this.waiters.push(waiter);
      void this.exit.then(() => {
        if (this.waiters.includes(waiter)) {
          clearTimeout(timer);
          fail(this.exitInfo ?? 'exited');
        }
      });
    });
  }

  /** Writes a command line to its stdin. */
  send(line: string): void {
    if (!this.exited) this.process.stdin!.write(`${line}\n`);
  }

  /** Sends `signal` (default SIGKILL) and waits for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return;
    this.killed = true;
    this.process.kill(signal);
    await this.exit;
  }

  /** Waits for the process to end by itself. */
  async ended(): Promise<void> {
    await this.exit;
  }

  /** The last `chars` characters of what it printed, each line cut to 300 characters. */
  tail(chars = 3000): string {
    return this.output.join('').split('\n').map((l) => (l.length > 300 ? `${l.slice(0, 300)}... (${l.length} chars)` : l)).join('\n').slice(-chars);
  }
}
