import fc from 'fast-check';
import { expect } from 'chai';
import { schemaOf } from '../../../core/schema/schema';
import { AllTypes, Color, Leaf, Mood, Ping, Pong, Sparse, Tree } from './fixtures/all-types';
import { make, record } from './fixtures/helpers';

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const U64_MAX = (1n << 64n) - 1n;

const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const i64 = fc.bigInt({ min: I64_MIN, max: I64_MAX });
const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Lone surrogates cannot survive UTF-8 (in protobuf or anywhere else), so strings are well-formed Unicode.
const str = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }).filter((s) => !LONE_SURROGATE.test(s)));
const bytes = fc.uint8Array({ maxLength: 40 });
const date = fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true });
const color = fc.oneof(fc.constantFrom(Color.Red, Color.Green, Color.Blue), i32) as fc.Arbitrary<Color>;
const sparse = fc.oneof(fc.constantFrom(Sparse.A, Sparse.B, Sparse.C, undefined), i32.filter((n) => n !== 0)) as fc.Arbitrary<Sparse | undefined>;
const mood = fc.constantFrom(Mood.Happy, Mood.Sad, Mood.Meh);
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const list = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.array(a, { maxLength: 5 });

const leaf = fc.record({ name: str, n: i32 }).map((p) => make(Leaf, p));

const tree = (depth: number): fc.Arbitrary<Tree> => fc.record({
  value: i32,
  children: depth > 0 ? fc.array(tree(depth - 1), { maxLength: 2 }) : fc.constant([]),
  left: depth > 0 ? opt(tree(depth - 1)) : fc.constant(undefined),
}).map((p) => make(Tree, { ...p, children: [...p.children] }));

const ping = (depth: number): fc.Arbitrary<Ping> => fc.record({
  n: i32,
  pong: depth > 0 ? opt(fc.record({ s: str, ping: opt(ping(depth - 1)) }).map((p) => make(Pong, p))) : fc.constant(undefined),
}).map((p) => make(Ping, p));

const mapOf = <K, V>(k: fc.Arbitrary<K>, v: fc.Arbitrary<V>): fc.Arbitrary<Map<K, V>> =>
  fc.uniqueArray(fc.tuple(k, v), { selector: (t) => t[0], maxLength: 4 }).map((e) => new Map(e));
const recordKey = fc.oneof(str, fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty'));
const recordOf = <V>(k: fc.Arbitrary<string>, v: fc.Arbitrary<V>): fc.Arbitrary<Record<string, V>> =>
  fc.uniqueArray(fc.tuple(k, v), { selector: (t) => t[0], maxLength: 4 }).map((e) => record(e));

const allTypes: fc.Arbitrary<AllTypes> = fc.record({
  double: fc.double(), float: fc.float(), int32: i32, int64: i64, uint32: u32, uint64: u64, sint32: i32, sint64: i64,
  fixed32: u32, fixed64: u64, sfixed32: i32, sfixed64: i64, bool: fc.boolean(), string: str, bytes,
  color, sparse, mood: opt(mood), leaf: opt(leaf), date: opt(date),
  doubles: list(fc.double()), int64s: list(i64), uint64s: list(u64), sint32s: list(i32), bools: list(fc.boolean()),
  strings: list(str), bytesList: list(bytes), colors: list(color), moods: list(mood), leaves: list(leaf), dates: list(date),
  fixed32s: list(u32), sfixed64s: list(i64), floats: list(fc.float()),
  strToInt: mapOf(str, i32),
  intToStr: recordOf(i32.map(String), str),
  i64ToLeaf: mapOf(i64, leaf),
  u64ToColor: mapOf(u64, color),
  boolToDate: mapOf(fc.boolean(), date),
  strToLeafRecord: recordOf(recordKey, leaf),
  listMap: mapOf(str, list(leaf)),
  listRecord: recordOf(recordKey, list(i64)),
  s64ToBytes: mapOf(i64, bytes),
  strToMood: recordOf(recordKey, mood),
  u32ToDouble: mapOf(u32, fc.double()),
  optInt: opt(i32), optStr: opt(str), optLeaf: opt(leaf), optColor: opt(color), optBool: opt(fc.boolean()),
  optInt64: opt(i64), optDate: opt(date),
  tree: opt(tree(3)), ping: opt(ping(3)),
}).map((p) => make(AllTypes, p));

describe('codec property: every supported type round-trips', () => {
  const codec = schemaOf(AllTypes).codec;

  it('decode(encode(x)) deep-equals x (400 runs, fixed seed)', () => {
    fc.assert(fc.property(allTypes, (value) => {
      const back = codec.decode(codec.encode(value));
      expect(back).to.deep.equal(value);
      expect(back).to.be.instanceOf(AllTypes);
      if (value.leaf) expect(back.leaf!.shout).to.equal(`${value.leaf.name.toUpperCase()}!`);
      if (value.tree) expect(back.tree!.size()).to.equal(value.tree.size());
      for (const [, leaves] of back.listMap) for (const l of leaves) expect(l).to.be.instanceOf(Leaf);
      expect(Object.getPrototypeOf(back.strToLeafRecord)).to.equal(Object.prototype);
    }), { numRuns: 400, seed: 0x5eed });
  });

  it('encoding is deterministic: re-encoding a decoded value gives the same bytes (200 runs)', () => {
    fc.assert(fc.property(allTypes, (value) => {
      const bytes = codec.encode(value);
      expect(Buffer.from(codec.encode(codec.decode(bytes))).equals(Buffer.from(bytes))).to.equal(true);
    }), { numRuns: 200, seed: 0xc0de });
  });

  it('each 64-bit type is exact over its whole range, extremes included (1000 runs each)', () => {
    const c = codec;
    const check = (field: 'int64' | 'sint64' | 'sfixed64' | 'uint64' | 'fixed64', arb: fc.Arbitrary<bigint>): void => {
      fc.assert(fc.property(arb, (v) => {
        expect(c.decode(c.encode(make(AllTypes, { [field]: v })))[field]).to.equal(v);
      }), { numRuns: 1000, seed: 64, examples: [[0n], [-1n], [1n]].filter(([x]) => field.startsWith('u') || field.startsWith('f') ? x >= 0n : true) as [bigint][] });
    };
    for (const f of ['int64', 'sint64', 'sfixed64'] as const) check(f, fc.oneof(i64, fc.constantFrom(I64_MIN, I64_MAX, -I64_MAX)));
    for (const f of ['uint64', 'fixed64'] as const) check(f, fc.oneof(u64, fc.constantFrom(U64_MAX, 1n << 63n)));
  });
});
