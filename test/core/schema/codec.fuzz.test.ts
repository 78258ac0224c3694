import fc from 'fast-check';
import { expect } from 'chai';
import { DecodeError, EncodeError, ErrorCode } from '../../../core/errors';
import { MessageCodec } from '../../../core/schema/codec';
import { codecFor, schemaOf } from '../../../core/schema/schema';
import { AllTypes, Color, Mood, Sparse, Tree, VCart, VItem } from './fixtures/all-types';
import { allTypes, bytesOf, lenDelim, leaf, make, prng, record, tagOf, varint } from './fixtures/helpers';
import { LineItem, Order, Priority } from '../../fixtures/shop';

const MAX_CASE_MS = 200;
const ALLOWED = new Set<string>([ErrorCode.DECODE_ERROR, ErrorCode.PAYLOAD_TOO_LARGE]);

/** Decodes one hostile payload: it either decodes or throws a coded DecodeError, quickly. */
function probe(codec: MessageCodec<unknown>, bytes: Uint8Array, label: string): 'ok' | 'error' {
  const t0 = process.hrtime.bigint();
  let outcome: 'ok' | 'error' = 'ok';
  try {
    codec.decode(bytes);
  } catch (e) {
    if (!(e instanceof DecodeError) || !ALLOWED.has(e.code)) {
      throw new Error(`${label}: expected a DecodeError, got ${String(e)} for bytes ${Buffer.from(bytes).toString('hex').slice(0, 200)}`);
    }
    outcome = 'error';
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (ms > MAX_CASE_MS) throw new Error(`${label}: decode took ${ms.toFixed(1)} ms (> ${MAX_CASE_MS})`);
  return outcome;
}

// Codecs under attack. Validation is off where a class has constraints: a ValidationError on well-formed
// bytes is a legitimate outcome, and the fuzz targets the decoder itself (validation is covered in codec.test.ts).
const targets: [string, MessageCodec<unknown>][] = [
  ['AllTypes', schemaOf(AllTypes).codec as MessageCodec<unknown>],
  ['Order', codecFor(Order, { validate: false }) as MessageCodec<unknown>],
  ['Tree', schemaOf(Tree).codec as MessageCodec<unknown>],
  ['VCart', codecFor(VCart, { validate: false }) as MessageCodec<unknown>],
];

/** Valid payloads to truncate and mutate. */
function seeds(): [string, MessageCodec<unknown>, Uint8Array][] {
  const deepTree = (n: number): Tree => make(Tree, { value: n, children: n > 0 ? [deepTree(n - 1), deepTree(n - 2)] : [], left: n > 1 ? deepTree(n - 1) : undefined });
  const at = allTypes({
    double: -1.5, float: 2.5, int32: -7, int64: -(1n << 63n), uint32: 4294967295, uint64: (1n << 64n) - 1n, sint32: -99, sint64: -5n,
    fixed32: 7, fixed64: 8n, sfixed32: -9, sfixed64: -10n, bool: true, string: 'héllo', bytes: Uint8Array.from([1, 2, 3]),
    color: Color.Blue, sparse: Sparse.C, mood: Mood.Meh, leaf: leaf('l', 1), date: new Date(-123456),
    doubles: [1, 2], int64s: [-1n, 5n], uint64s: [3n], sint32s: [-1, 1], bools: [true, false], strings: ['a', ''],
    bytesList: [Uint8Array.from([9])], colors: [Color.Green, 77 as Color], moods: [Mood.Sad], leaves: [leaf('a', 2), leaf('', 0)],
    dates: [new Date(1), new Date(-1)], fixed32s: [1], sfixed64s: [-2n], floats: [0.5],
    strToInt: new Map([['k', 1]]), intToStr: { 5: 'five' }, i64ToLeaf: new Map([[-1n, leaf('m', 3)]]),
    u64ToColor: new Map([[1n, Color.Green]]), boolToDate: new Map([[true, new Date(5)]]),
    strToLeafRecord: record([['__proto__', leaf('p', 4)]]), listMap: new Map([['eu', [leaf('x', 1), leaf('y', 2)]]]),
    listRecord: { r: [1n, -1n] }, s64ToBytes: new Map([[-7n, Uint8Array.from([7])]]), strToMood: { z: Mood.Happy },
    u32ToDouble: new Map([[3, 0.25]]), optInt: 0, optStr: '', optLeaf: leaf('o', 0), optColor: Color.Red, optBool: false,
    optInt64: 0n, optDate: new Date(0), tree: deepTree(3),
  });
  const order = make(Order, {
    id: 'o', total: 5n, items: [make(LineItem, { sku: 's', quantity: 2, priceCents: 3n })],
    byWarehouse: new Map([['w', [make(LineItem, { sku: 't', quantity: 1, priceCents: 1n })]]]), placedAt: new Date(1e12),
    note: 'n', priority: Priority.High, tags: ['a', 'b'], counters: { c: 1 },
  });
  const cart = make(VCart, { owner: 'me', items: [make(VItem, { sku: 'a', quantity: 1 })], main: make(VItem, { sku: 'm', quantity: 2 }),
    byShelf: new Map([['s', [make(VItem, { sku: 'b', quantity: 3 })]]]), byCode: { c: make(VItem, { sku: 'c', quantity: 4 }) } });
  return [
    ['AllTypes', targets[0][1], targets[0][1].encode(at)],
    ['Order', targets[1][1], targets[1][1].encode(order)],
    ['Tree', targets[2][1], targets[2][1].encode(deepTree(5))],
    ['VCart', targets[3][1], targets[3][1].encode(cart)],
  ];
}

let total = 0;

describe('codec fuzz: hostile bytes only ever give a coded DecodeError', function () {
  this.timeout(60_000);
  const valid = seeds();

  after(() => {
    expect(total).to.be.at.least(10_000);
    // eslint-disable-next-line no-console
    console.log(`      (${total} fuzzed decode cases)`);
  });

  it('truncations of valid payloads at every length', () => {
    let errors = 0;
    for (const [name, codec, bytes] of valid) {
      expect(probe(codec, bytes, `${name} full`)).to.equal('ok');
      for (let len = 0; len < bytes.length; len++) {
        if (probe(codec, bytes.subarray(0, len), `${name} truncated to ${len}`) === 'error') errors++;
        total++;
      }
    }
    expect(errors).to.be.greaterThan(0);
  });

  it('random byte strings (seeded)', () => {
    const rnd = prng(0xbadc0de);
    for (let i = 0; i < 4000; i++) {
      const len = Math.floor(rnd() * (i % 10 === 0 ? 600 : 40));
      const bytes = new Uint8Array(len);
      for (let j = 0; j < len; j++) bytes[j] = Math.floor(rnd() * 256);
      const [name, codec] = targets[i % targets.length];
      probe(codec, bytes, `${name} random #${i}`);
      total++;
    }
  });

  it('bit flips, byte overwrites, insertions and deletions in valid payloads (seeded)', () => {
    const rnd = prng(0x5eed);
    const pick = (n: number): number => Math.floor(rnd() * n);
    for (let i = 0; i < 4000; i++) {
      const [name, codec, orig] = valid[i % valid.length];
      const b = Array.from(orig);
      const edits = 1 + pick(3);
      for (let e = 0; e < edits; e++) {
        const at = pick(b.length);
        switch (pick(5)) {
          case 0: b[at] ^= 1 << pick(8); break;
          case 1: b[at] = pick(256); break;
          case 2: b.splice(at, 0, pick(256)); break;
          case 3: b.splice(at, 1); break;
          default: b[at] = [0x00, 0x7f, 0x80, 0xff][pick(4)]; break;
        }
      }
      probe(codec, Uint8Array.from(b), `${name} mutation #${i}`);
      total++;
    }
  });

  it('fast-check generated byte arrays and splices (fixed seed)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: targets.length - 1 }), (bytes, t) => {
      probe(targets[t][1], bytes, `fc ${targets[t][0]}`);
      total++;
    }), { numRuns: 1000, seed: 1234 });
    fc.assert(fc.property(fc.nat({ max: valid.length - 1 }), fc.nat(), fc.uint8Array({ maxLength: 12 }), (v, at, junk) => {
      const [name, codec, orig] = valid[v];
      const i = at % (orig.length + 1);
      probe(codec, bytesOf(Array.from(orig.subarray(0, i)), Array.from(junk), Array.from(orig.subarray(i))), `fc splice ${name}`);
      total++;
    }), { numRuns: 1000, seed: 4321 });
  });

  describe('crafted payloads', () => {
    const at = targets[0][1];
    const tree = targets[2][1];
    const expectDecodeError = (codec: MessageCodec<unknown>, bytes: Uint8Array, re?: RegExp): DecodeError => {
      total++;
      expect(probe(codec, bytes, 'crafted')).to.equal('error');
      try {
        codec.decode(bytes);
      } catch (e) {
        if (re) expect((e as Error).message).to.match(re);
        return e as DecodeError;
      }
      throw new Error('unreachable');
    };

    it('huge length prefixes for bytes, string, message, packed and map fields, without allocating', () => {
      const before = process.memoryUsage();
      for (const field of [14, 15, 19, 20, 21, 22, 27, 30, 40, 46, 70]) {
        for (const len of [0x7fffffff, 0xffffffff, 2 ** 28, 1000]) {
          expectDecodeError(at, bytesOf(tagOf(field, 2), varint(len), [1, 2, 3]));
        }
      }
      // Length of 2^64-1 (does not fit uint32) in a skipped unknown field.
      expectDecodeError(at, bytesOf(tagOf(999, 2), varint((1n << 64n) - 1n), [1, 2, 3]));
      const after = process.memoryUsage();
      expect(after.arrayBuffers - before.arrayBuffers).to.be.lessThan(8 * 1024 * 1024);
      expect(after.heapUsed - before.heapUsed).to.be.lessThan(32 * 1024 * 1024);
    });

    it('a nested length that overruns its parent but not the buffer', () => {
      // leaf (field 19) says 2 bytes, but its string says 5
      expectDecodeError(at, bytesOf(lenDelim(19, [...tagOf(1, 2), 5]), [0x61, 0x62, 0x63, 0x64, 0x65]));
      // packed field whose length runs past the end
      expectDecodeError(at, bytesOf(tagOf(24, 2), varint(100), [1, 2, 3]));
      expectDecodeError(at, bytesOf(tagOf(21, 2), varint(9), [0, 0, 0, 0, 0, 0, 0, 0]));
      // packed fixed32 with a length that is not a multiple of 4
      expectDecodeError(at, bytesOf(lenDelim(32, [1, 2, 3])));
    });

    it('varints longer than 10 bytes, and a truncated varint', () => {
      for (const field of [3, 4, 6, 8, 13, 16, 999]) {
        expectDecodeError(at, bytesOf(tagOf(field, 0), new Array(11).fill(0xff), [0x01]));
        expectDecodeError(at, bytesOf(tagOf(field, 0), new Array(30).fill(0x80)));
        expectDecodeError(at, bytesOf(tagOf(field, 0), [0xff]));
      }
      expectDecodeError(at, bytesOf(new Array(11).fill(0xff), [0x01])); // the tag itself
    });

    it('wire types 6 and 7, field number 0, an end-group without a start', () => {
      for (const wt of [6, 7]) expectDecodeError(at, bytesOf(tagOf(3, wt), [0]), /wire type/);
      expectDecodeError(at, bytesOf([0x00, 0x01]), /field number 0/);
      expectDecodeError(at, bytesOf([0x02, 0x00]), /field number 0/);
      expectDecodeError(at, bytesOf(tagOf(5, 4)), /wire type 4/);
      expectDecodeError(at, bytesOf(tagOf(5, 3), tagOf(6, 4)), /end-group/);
      expectDecodeError(at, bytesOf(tagOf(5, 3), tagOf(1, 0), 1)); // group never closed
      expectDecodeError(at, bytesOf(lenDelim(19, [...tagOf(9, 4)]))); // end-group inside a nested message
    });

    it('self-referential messages nested beyond maxDepth (64 by default), shallow and very deep', () => {
      const nest = (n: number, field = 3): number[] => (n === 0 ? [] : lenDelim(field, nest(n - 1, field)));
      expect(probe(tree, bytesOf(nest(63)), 'depth 63')).to.equal('ok');
      total++;
      expectDecodeError(tree, bytesOf(nest(64)), /maxDepth/);
      expectDecodeError(tree, bytesOf(nest(5000)), /maxDepth/);
      expectDecodeError(tree, bytesOf(nest(5000, 2)), /maxDepth/); // through the repeated field
      // A length-less descent: every level's length claims "the rest", which the parent cannot hold.
      expectDecodeError(tree, bytesOf(new Array(20000).fill([...tagOf(3, 2), 0x7f]).flat()));
    });

    it('deeply nested unknown groups (wire type 3)', () => {
      const n = 100_000;
      const open = new Array(n).fill(tagOf(9, 3)).flat();
      const close = new Array(n).fill(tagOf(9, 4)).flat();
      expectDecodeError(at, bytesOf(open, close), /maxDepth/);
      expectDecodeError(tree, bytesOf(open), /maxDepth/);
      // within the limit, groups are skipped
      expect(probe(at, bytesOf(new Array(10).fill(tagOf(9, 3)).flat(), new Array(10).fill(tagOf(9, 4)).flat()), 'groups')).to.equal('ok');
      // even with an absurd maxDepth, recursion cannot escape as a RangeError
      const loose = codecFor(AllTypes, { maxDepth: 10_000_000 }) as MessageCodec<unknown>;
      expectDecodeError(loose, bytesOf(open, close));
      const looseTree = codecFor(Tree, { maxDepth: 10_000_000 }) as MessageCodec<unknown>;
      const nest = (k: number): number[] => (k === 0 ? [] : lenDelim(3, nest(k - 1)));
      const deep = bytesOf(nest(3000));
      try {
        looseTree.decode(deep);
      } catch (e) {
        expect(e).to.be.instanceOf(DecodeError);
      }
      total += 2;
    });

    it('timestamps with absurd seconds or nanos', () => {
      const ts = (body: number[]): Uint8Array => bytesOf(lenDelim(20, body));
      for (const s of [1n << 62n, -(1n << 62n), 8_640_000_000_001n, -8_640_000_000_001n, (1n << 63n) - 1n, -(1n << 63n)]) {
        expectDecodeError(at, ts([...tagOf(1, 0), ...varint(s)]), /timestamp/);
      }
      expectDecodeError(at, ts([...tagOf(1, 0), ...varint(8_640_000_000_000n), ...tagOf(2, 0), ...varint(999_999_999)]), /timestamp/);
      // in range: decodes (nanos out of the proto range are tolerated, like other readers do)
      expect(probe(at, ts([...tagOf(1, 0), ...varint(-1), ...tagOf(2, 0), ...varint(-5)]), 'ts')).to.equal('ok');
      expect(probe(at, ts([...tagOf(1, 0), ...varint(8_640_000_000_000n)]), 'ts max')).to.equal('ok');
      expectDecodeError(at, ts([...tagOf(1, 2), 1]));
      total += 2;
    });

    it('a large but well-formed payload decodes well under the time budget', () => {
      const many = bytesOf(lenDelim(24, new Array(200_000).fill(1)));
      expect(probe(at, many, 'packed 200k')).to.equal('ok');
      const groups = bytesOf(new Array(100_000).fill([...tagOf(9, 3), ...tagOf(9, 4)]).flat());
      expect(probe(at, groups, '100k groups')).to.equal('ok');
      const emptyMsgs = bytesOf(new Array(100_000).fill(lenDelim(30, [])).flat());
      expect(probe(at, emptyMsgs, '100k empty messages')).to.equal('ok');
      total += 3;
    });

    it('non-Uint8Array input', () => {
      for (const x of [null, undefined, 'abc', [1, 2], 5, {}]) {
        total++;
        expect(() => at.decode(x as unknown as Uint8Array)).to.throw(DecodeError);
      }
    });
  });
});

describe('codec limits are configurable and enforced both ways', () => {
  it('maxPayloadBytes: decode refuses bigger payloads with WEFT_PAYLOAD_TOO_LARGE before parsing', () => {
    const c = codecFor(AllTypes, { maxPayloadBytes: 16 });
    expect(c.limits.maxPayloadBytes).to.equal(16);
    const small = c.encode(allTypes({ int32: 1 }));
    expect(c.decode(small).int32).to.equal(1);
    const big = schemaOf(AllTypes).codec.encode(allTypes({ string: 'x'.repeat(20) }));
    expect(() => c.decode(big)).to.throw(DecodeError).with.property('code', ErrorCode.PAYLOAD_TOO_LARGE);
    // even garbage is refused for its size, not parsed
    expect(() => c.decode(new Uint8Array(17).fill(0xff))).to.throw(DecodeError).with.property('code', ErrorCode.PAYLOAD_TOO_LARGE);
    expect(() => c.decode(new Uint8Array(16).fill(0xff))).to.throw(DecodeError).with.property('code', ErrorCode.DECODE_ERROR);
  });

  it('maxPayloadBytes: encode refuses to produce a bigger payload', () => {
    const c = codecFor(AllTypes, { maxPayloadBytes: 16 });
    expect(() => c.encode(allTypes({ string: 'x'.repeat(20) }))).to.throw(EncodeError, /maxPayloadBytes/);
    expect(c.encode(allTypes({ string: 'x'.repeat(10) })).length).to.be.at.most(16);
  });

  it('the default limits are 4 MiB and depth 64', () => {
    const c = schemaOf(AllTypes).codec;
    expect(c.limits).to.deep.equal({ maxPayloadBytes: 4 * 1024 * 1024, maxDepth: 64 });
    const over = bytesOf(lenDelim(15, new Array(4 * 1024 * 1024).fill(0)));
    expect(() => c.decode(over)).to.throw(DecodeError).with.property('code', ErrorCode.PAYLOAD_TOO_LARGE);
  });

  it('maxDepth: decode and encode both enforce it', () => {
    const c = codecFor(Tree, { maxDepth: 3 });
    const chain = (n: number): Tree => make(Tree, { value: n, children: [], left: n > 1 ? chain(n - 1) : undefined });
    const full = schemaOf(Tree).codec;
    expect(c.decode(full.encode(chain(3))).left!.left!.value).to.equal(1);
    expect(() => c.decode(full.encode(chain(4)))).to.throw(DecodeError, /maxDepth 3/);
    expect(c.encode(chain(3)).length).to.be.greaterThan(0);
    expect(() => c.encode(chain(4))).to.throw(EncodeError, /maxDepth 3/);
    // unknown groups count towards the depth too
    const groups = (n: number): Uint8Array => bytesOf(new Array(n).fill(tagOf(9, 3)).flat(), new Array(n).fill(tagOf(9, 4)).flat());
    expect(c.decode(groups(3)).value).to.equal(0);
    expect(() => c.decode(groups(4))).to.throw(DecodeError, /maxDepth/);
  });
});
