import { expect } from 'chai';
import { RespWriter } from '../../../plugins/redis/resp';

/** The RESP encoding of a command, written the obvious way, as the reference. */
function reference(args: (string | Buffer | number)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function encode(args: (string | Buffer | number)[], sizeHint?: number): Buffer {
  const w = new RespWriter(args.length, sizeHint);
  for (const a of args) w.bulk(a);
  return w.finish();
}

describe('RespWriter', () => {
  describe('bulk', () => {
    it('should encode ASCII strings, numbers and Buffers exactly as RESP', () => {
      const args = ['XADD', 'weft:{q}:stream', 'MAXLEN', '~', 1000000, '*', 'payload', Buffer.from([0, 1, 0xff, 13, 10]), 'n', 0, 7, 42, 999, 1234567];
      expect(encode(args).equals(reference(args))).to.equal(true);
    });

    it('should encode non-ASCII strings as UTF-8, short and long', () => {
      const args = ['héllo ✓', 'ü'.repeat(200), '日本語のキー', `${'a'.repeat(63)}é`, '😀'];
      expect(encode(args).equals(reference(args))).to.equal(true);
    });

    it('should encode empty strings and empty Buffers', () => {
      const args = ['', Buffer.alloc(0), 'x'];
      expect(encode(args).equals(reference(args))).to.equal(true);
    });

    it('should grow past its size hint and keep every byte', () => {
      const big = Buffer.alloc(100_000, 7);
      const args: (string | Buffer)[] = ['EVALSHA', 'f'.repeat(40)];
      for (let i = 0; i < 2000; i++) args.push(`value-${i}`, i % 100 === 0 ? big : Buffer.from([i & 0xff]));
      expect(encode(args, 64).equals(reference(args))).to.equal(true);
    });

    it('should keep every byte when the buffer grows at any point, for every size hint', () => {
      // Regression: a short string written right where the buffer had to grow for its length header
      // was copied into the old buffer and lost.
      let seed = 7;
      const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
      for (let hint = 1; hint <= 300; hint++) {
        const args: (string | Buffer | number)[] = [];
        for (let i = 0; i < 60; i++) {
          const kind = rnd(4);
          args.push(kind === 0 ? String(rnd(10)) : kind === 1 ? 'k'.repeat(rnd(70)) : kind === 2 ? Buffer.alloc(rnd(80), rnd(256)) : rnd(100000));
        }
        expect(encode(args, hint).equals(reference(args)), `size hint ${hint}`).to.equal(true);
      }
    });

    it('should write lengths of every size of decimal', () => {
      const args = [9, 10, 99, 100, 999, 1000].map((n) => 'z'.repeat(n));
      expect(encode(args).equals(reference(args))).to.equal(true);
    });
  });
});
