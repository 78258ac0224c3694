/**
 * Hand-encoded Redis commands for the hot path.
 *
 * ioredis encodes a command with a Buffer argument by measuring and copying every argument twice
 * and flattening the argument list; for a batch of a thousand 15-field messages that is most of
 * the client's publishing cost. {@link RespWriter} writes the RESP bytes of one command straight
 * into one Buffer, and {@link EncodedCommand} hands those bytes to ioredis, which still does the
 * rest: queueing, pipelining, reply matching, reconnection, Cluster slot routing.
 *
 * @packageDocumentation
 */
import { Command } from 'ioredis';

/** A command whose RESP bytes were written beforehand; its reply comes back as Buffers. */
export class EncodedCommand extends Command {
  /**
   * @param name the command name (for ioredis's key lookup and error messages)
   * @param head the arguments up to and including the keys, as ioredis would see them (so a Cluster
   *   routes the command by its key), e.g. `[sha, '1', key]` for `EVALSHA`
   * @param bytes the whole command, RESP-encoded
   */
  constructor(name: string, head: (string | Buffer)[], private readonly bytes: Buffer) {
    super(name, head, { replyEncoding: null });
  }

  /** @internal ioredis writes these bytes to the socket. */
  override toWritable(): Buffer {
    return this.bytes;
  }
}

const CR = 13;
const LF = 10;
/** Strings and Buffers up to this length are copied byte by byte in JS. */
const SHORT = 64;

/**
 * Writes one RESP command (an array of bulk strings) into a growing Buffer.
 *
 * @example
 * ```ts
 * const w = new RespWriter(2);
 * w.bulk('PING'); w.bulk('hello');
 * client.sendCommand(new EncodedCommand('ping', [], w.finish()));
 * ```
 */
export class RespWriter {
  private buf: Buffer;
  private o = 0;

  /** @param count the number of bulk strings the command will have */
  constructor(count: number, sizeHint = 4096) {
    this.buf = Buffer.allocUnsafe(Math.max(64, sizeHint));
    this.buf[this.o++] = 0x2a; // '*'
    this.int(count);
  }

  /** Appends one argument. Numbers are written in decimal; strings as UTF-8. */
  bulk(v: string | Buffer | number): void {
    if (typeof v === 'number') v = String(v);
    if (typeof v === 'string') {
      const len = v.length;
      if (len <= SHORT) {
        // Short strings (names, ids, numbers): copy ASCII characters in JS, cheaper than two
        // native calls; the first non-ASCII character sends the string down the general path.
        this.room(len + 32); // int() below then never needs to grow the buffer
        const buf = this.buf;
        const start = this.o;
        buf[this.o++] = 0x24; // '$'
        this.int(len);
        let o = this.o;
        let i = 0;
        for (; i < len; i++) {
          const c = v.charCodeAt(i);
          if (c > 0x7f) break;
          buf[o++] = c;
        }
        if (i === len) {
          buf[o++] = CR;
          buf[o++] = LF;
          this.o = o;
          return;
        }
        this.o = start;
      }
      const n = Buffer.byteLength(v);
      this.room(n + 32);
      this.buf[this.o++] = 0x24; // '$'
      this.int(n);
      this.o += this.buf.write(v, this.o, n === len ? 'latin1' : 'utf8');
    } else {
      const n = v.length;
      this.room(n + 32);
      this.buf[this.o++] = 0x24;
      this.int(n);
      if (n <= SHORT) {
        const buf = this.buf;
        let o = this.o;
        for (let i = 0; i < n; i++) buf[o++] = v[i]!;
      } else {
        v.copy(this.buf, this.o);
      }
      this.o += n;
    }
    this.buf[this.o++] = CR;
    this.buf[this.o++] = LF;
  }

  /** The encoded command. The writer must not be used afterwards. */
  finish(): Buffer {
    return this.buf.subarray(0, this.o);
  }

  /** Writes a non-negative integer and CRLF. */
  private int(n: number): void {
    this.room(24);
    const buf = this.buf;
    if (n < 10) {
      buf[this.o++] = 0x30 + n;
    } else if (n < 100) {
      buf[this.o++] = 0x30 + ((n / 10) | 0);
      buf[this.o++] = 0x30 + (n % 10);
    } else if (n < 1000) {
      buf[this.o++] = 0x30 + ((n / 100) | 0);
      buf[this.o++] = 0x30 + (((n / 10) | 0) % 10);
      buf[this.o++] = 0x30 + (n % 10);
    } else {
      this.o += buf.write(String(n), this.o, 'latin1');
    }
    buf[this.o++] = CR;
    buf[this.o++] = LF;
  }

  private room(n: number): void {
    if (this.o + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.o + n));
    this.buf.copy(next, 0, 0, this.o);
    this.buf = next;
  }
}
