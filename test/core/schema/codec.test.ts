import { expect } from 'chai';
import { Field, Output } from '../../../decorators';
import { DecodeError, EncodeError, ErrorCode, ValidationError } from '../../../core/errors';
import { codecFor, schemaOf } from '../../../core/schema/schema';
import { AllTypes, Color, Leaf, Mood, Ping, Pong, Sparse, Tree, VCart, VItem } from './fixtures/all-types';
import { allTypes, bytesOf, emptyAllTypes, leaf, lenDelim, make, record, tagOf, varint } from './fixtures/helpers';
import { Address, Channel, LineItem, Order, Priority } from '../../fixtures/shop';

const codec = schemaOf(AllTypes).codec;
const roundTrip = (v: AllTypes): AllTypes => codec.decode(codec.encode(v));
const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);
const U64_MAX = (1n << 64n) - 1n;

function expectThrow<E extends Error>(fn: () => unknown, type: new (...a: never[]) => E): E {
  try {
    fn();
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(type);
    return e as E;
  }
  expect.fail(`expected ${type.name}`);
}

describe('codec: scalars', () => {
  it('round-trips an empty message to all defaults', () => {
    const bytes = codec.encode(emptyAllTypes());
    expect(bytes.length).to.equal(0);
    expect(codec.decode(bytes)).to.deep.equal(emptyAllTypes());
    expect(codec.decode(new Uint8Array(0))).to.deep.equal(emptyAllTypes());
  });

  const cases: [keyof AllTypes, unknown[]][] = [
    ['double', [1.5, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity, 0.1 + 0.2]],
    ['float', [Math.fround(1.1), Math.fround(-3.4e38), Math.fround(1e-40), Infinity, -Infinity]],
    ['int32', [1, -1, 2147483647, -2147483648]],
    ['uint32', [1, 4294967295, 2147483648]],
    ['sint32', [1, -1, 2147483647, -2147483648]],
    ['fixed32', [1, 4294967295]],
    ['sfixed32', [-1, 2147483647, -2147483648]],
    ['int64', [1n, -1n, I64_MAX, -I64_MAX, I64_MIN, 1n << 32n, -(1n << 32n), 4294967295n]],
    ['sint64', [1n, -1n, I64_MAX, -I64_MAX, I64_MIN]],
    ['sfixed64', [1n, -1n, I64_MAX, -I64_MAX, I64_MIN]],
    ['uint64', [1n, U64_MAX, 1n << 63n, 4294967296n]],
    ['fixed64', [1n, U64_MAX, 1n << 63n]],
    ['bool', [true]],
    ['string', ['hello', 'ünï©ødé 🎉', '\u0000', 'x'.repeat(1000)]],
    ['bytes', [Uint8Array.from([0, 1, 255]), new Uint8Array(300).fill(7)]],
  ];
  for (const [field, values] of cases) {
    it(`round-trips ${field} at ${values.length} values incl. extremes`, () => {
      for (const value of values) {
        const back = roundTrip(allTypes({ [field]: value } as Partial<AllTypes>));
        expect(back[field], `${field}=${String(value)}`).to.deep.equal(value);
        expect(back).to.deep.equal(allTypes({ [field]: value } as Partial<AllTypes>));
      }
    });
  }

  it('keeps -0 and NaN for double and float', () => {
    const back = roundTrip(allTypes({ double: -0, float: -0 }));
    expect(Object.is(back.double, -0)).to.equal(true);
    expect(Object.is(back.float, -0)).to.equal(true);
    const nan = roundTrip(allTypes({ double: NaN, float: NaN }));
    expect(Number.isNaN(nan.double)).to.equal(true);
    expect(Number.isNaN(nan.float)).to.equal(true);
  });

  it('float loses precision exactly as Math.fround does', () => {
    expect(roundTrip(allTypes({ float: 0.1 })).float).to.equal(Math.fround(0.1));
  });

  it('accepts safe-integer numbers for 64-bit fields and decodes them as bigint', () => {
    const back = roundTrip(allTypes({ int64: -5 as unknown as bigint, uint64: 7 as unknown as bigint }));
    expect(back.int64).to.equal(-5n);
    expect(back.uint64).to.equal(7n);
  });

  it('decodes bytes as a Uint8Array that does not alias the payload', () => {
    const payload = codec.encode(allTypes({ bytes: Uint8Array.from([1, 2, 3]) }));
    const back = codec.decode(payload);
    expect(back.bytes).to.be.instanceOf(Uint8Array);
    payload.fill(0);
    expect([...back.bytes]).to.deep.equal([1, 2, 3]);
  });

  it('decodes from a Uint8Array view with an offset', () => {
    const inner = codec.encode(allTypes({ string: 'view', int32: 9 }));
    const big = new Uint8Array(inner.length + 10);
    big.set(inner, 5);
    expect(codec.decode(big.subarray(5, 5 + inner.length))).to.deep.equal(allTypes({ string: 'view', int32: 9 }));
  });
});

describe('codec: enums', () => {
  it('round-trips numeric enums, including 0', () => {
    for (const color of [Color.Red, Color.Green, Color.Blue]) expect(roundTrip(allTypes({ color })).color).to.equal(color);
  });

  it('round-trips an enum without a 0 member, including negative values', () => {
    for (const sparse of [Sparse.A, Sparse.B, Sparse.C]) expect(roundTrip(allTypes({ sparse })).sparse).to.equal(sparse);
    expect(roundTrip(allTypes({ sparse: undefined })).sparse).to.equal(undefined);
  });

  it('round-trips string enums, singular, repeated and as map values', () => {
    const v = allTypes({ mood: Mood.Sad, moods: [Mood.Meh, Mood.Happy, Mood.Sad], strToMood: { a: Mood.Happy, b: Mood.Meh } });
    expect(roundTrip(v)).to.deep.equal(v);
  });

  it('keeps unknown enum numbers as numbers (open enums)', () => {
    const bytes = bytesOf(tagOf(16, 0), varint(42), tagOf(17, 0), varint(77), tagOf(18, 0), varint(99));
    const back = codec.decode(bytes);
    expect(back.color).to.equal(42);
    expect(back.sparse).to.equal(77);
    expect(back.mood).to.equal(99);
  });

  it('rejects a string that is not a member of a string enum, and a non-number for a numeric enum', () => {
    expect(expectThrow(() => codec.encode(allTypes({ mood: 'angry' as Mood })), EncodeError).path).to.equal('mood');
    expect(expectThrow(() => codec.encode(allTypes({ color: 'red' as unknown as Color })), EncodeError).path).to.equal('color');
  });

  it('uses TS enum values of the shop fixture (registered numeric, unregistered string)', () => {
    const c = schemaOf(Order).codec;
    const o = make(Order, { id: 'o', priority: Priority.High, channel: Channel.Phone });
    const back = c.decode(c.encode(o));
    expect(back.priority).to.equal(Priority.High);
    expect(back.channel).to.equal(Channel.Phone);
  });
});

describe('codec: messages, lists and maps', () => {
  it('round-trips nested messages and repeated scalars and messages', () => {
    const v = allTypes({
      leaf: leaf('a', 1),
      doubles: [1.5, -0, NaN, Infinity], int64s: [I64_MIN, I64_MAX, 0n, -1n], uint64s: [U64_MAX, 0n, 1n],
      sint32s: [-2147483648, 0, 2147483647], bools: [true, false, true], strings: ['', 'x', 'é'],
      bytesList: [new Uint8Array(0), Uint8Array.from([9])], colors: [Color.Blue, Color.Red], leaves: [leaf('b', 2), leaf('', 0)],
      dates: [new Date(0), new Date(-1), new Date(1e12)], fixed32s: [0, 4294967295], sfixed64s: [I64_MIN, I64_MAX],
      floats: [Math.fround(1.5), -0],
    });
    expect(roundTrip(v)).to.deep.equal(v);
  });

  it('writes repeated scalars packed', () => {
    const bytes = codec.encode(allTypes({ sint32s: [1, 2, 3] }));
    expect([...bytes]).to.deep.equal([...tagOf(24, 2), 3, 2, 4, 6]);
  });

  it('decodes unpacked repeated scalars, and a mix of packed and unpacked runs', () => {
    const unpacked = bytesOf(tagOf(24, 0), varint(2), tagOf(24, 0), varint(4), tagOf(25, 0), 1, tagOf(25, 0), 0,
      tagOf(22, 0), varint(-1n), tagOf(32, 5), [1, 0, 0, 0], tagOf(34, 5), [0, 0, 0xc0, 0x3f], tagOf(28, 0), 2);
    const back = codec.decode(unpacked);
    expect(back.sint32s).to.deep.equal([1, 2]);
    expect(back.bools).to.deep.equal([true, false]);
    expect(back.int64s).to.deep.equal([-1n]);
    expect(back.fixed32s).to.deep.equal([1]);
    expect(back.floats).to.deep.equal([1.5]);
    expect(back.colors).to.deep.equal([Color.Blue]);
    const mixed = bytesOf(tagOf(24, 0), varint(2), lenDelim(24, [4, 6]), tagOf(24, 0), varint(8));
    expect(codec.decode(mixed).sint32s).to.deep.equal([1, 2, 3, 4]);
  });

  it('round-trips maps with string, int32, int64, uint64, bool, sint64 and uint32 keys', () => {
    const v = allTypes({
      strToInt: new Map([['a', 1], ['', -5], ['ü', 0]]),
      intToStr: { '-2147483648': 'min', '0': 'zero', '2147483647': 'max' },
      i64ToLeaf: new Map([[I64_MIN, leaf('min', 1)], [I64_MAX, leaf('max', 2)], [0n, leaf('', 0)]]),
      u64ToColor: new Map([[U64_MAX, Color.Blue], [0n, Color.Red]]),
      boolToDate: new Map([[true, new Date(1)], [false, new Date(-86400000)]]),
      s64ToBytes: new Map([[-1n, Uint8Array.from([1])], [I64_MIN, new Uint8Array(0)]]),
      u32ToDouble: new Map([[4294967295, -0.5], [0, NaN]]),
    });
    const back = roundTrip(v);
    expect(back).to.deep.equal(v);
    expect(back.strToInt).to.be.instanceOf(Map);
    expect(Object.getPrototypeOf(back.intToStr)).to.equal(Object.prototype);
  });

  it('accepts a Map for a record field and a record for a Map field on encode', () => {
    const v = allTypes({ intToStr: new Map([[3, 'x']]) as unknown as Record<string, string>,
      strToInt: { k: 4 } as unknown as Map<string, number> });
    const back = roundTrip(v);
    expect(back.intToStr).to.deep.equal({ 3: 'x' });
    expect(back.strToInt).to.deep.equal(new Map([['k', 4]]));
  });

  it('stores a "__proto__" record key as an own property without polluting prototypes', () => {
    const v = allTypes({
      strToLeafRecord: record([['__proto__', leaf('evil', 1)], ['constructor', leaf('c', 2)]]),
      strToMood: record([['__proto__', Mood.Sad]]),
      listRecord: record([['__proto__', [1n, 2n]]]),
    });
    const back = roundTrip(v);
    expect(Object.prototype.hasOwnProperty.call(back.strToLeafRecord, '__proto__')).to.equal(true);
    expect(Object.getPrototypeOf(back.strToLeafRecord)).to.equal(Object.prototype);
    expect(back.strToLeafRecord['__proto__']).to.deep.equal(leaf('evil', 1));
    expect(back.strToMood['__proto__']).to.equal(Mood.Sad);
    expect(back.listRecord['__proto__']).to.deep.equal([1n, 2n]);
    expect(({} as Record<string, unknown>).name).to.equal(undefined);
    expect(({} as Record<string, unknown>).n).to.equal(undefined);
    expect(back).to.deep.equal(v);
  });

  it('round-trips map-of-lists as Map<string, T[]> and Record<string, T[]>, including empty lists', () => {
    const v = allTypes({
      listMap: new Map([['eu', [leaf('a', 1), leaf('b', 2)]], ['us', []]]),
      listRecord: { x: [I64_MIN, 0n, I64_MAX], y: [] },
    });
    const back = roundTrip(v);
    expect(back).to.deep.equal(v);
    expect(back.listMap.get('eu')![1]).to.be.instanceOf(Leaf);
    expect(back.listMap.get('eu')![1].shout).to.equal('B!');
  });

  it('decodes a map entry with a missing key or value as the defaults', () => {
    // entry with only a value / only a key / empty entry
    const bytes = bytesOf(lenDelim(40, [...tagOf(2, 0), 7]), lenDelim(42, [...tagOf(1, 0), 5]), lenDelim(46, []),
      lenDelim(44, []));
    const back = codec.decode(bytes);
    expect(back.strToInt).to.deep.equal(new Map([['', 7]]));
    expect(back.i64ToLeaf).to.deep.equal(new Map([[5n, leaf('', 0)]]));
    expect(back.listMap).to.deep.equal(new Map([['', []]]));
    expect([...back.boolToDate.keys()]).to.deep.equal([false]);
  });

  it('rejects bad map keys with an EncodeError naming the field', () => {
    const bad: [Partial<AllTypes>, string][] = [
      [{ intToStr: { abc: 'x' } }, 'intToStr'],
      [{ i64ToLeaf: new Map([['x' as unknown as bigint, leaf('a', 1)]]) }, 'i64ToLeaf'],
      [{ u64ToColor: new Map([[-1n, Color.Red]]) }, 'u64ToColor'],
      [{ boolToDate: new Map([[1 as unknown as boolean, new Date()]]) }, 'boolToDate'],
      [{ strToInt: new Map([[5 as unknown as string, 1]]) }, 'strToInt'],
      [{ listRecord: { k: [1n, 2 ** 64 as unknown as bigint] } }, 'listRecord[k][1]'],
    ];
    for (const [b, path] of bad) {
      const err = expectThrow(() => codec.encode(allTypes(b)), EncodeError);
      expect(err.code).to.equal(ErrorCode.ENCODE_ERROR);
      expect(err.path).to.equal(path);
    }
  });

  it('int64-keyed record map with a non-integer key is an EncodeError, not a SyntaxError', () => {
    @Output('t.codec.I64Rec')
    class I64Rec {
      @Field(1, { map: ['int64', 'string'], container: 'record' }) m!: Record<string, string>;
    }
    const c = schemaOf(I64Rec).codec;
    expect(c.decode(c.encode(make(I64Rec, { m: { '-9223372036854775808': 'a', '5': 'b' } }))).m)
      .to.deep.equal({ '-9223372036854775808': 'a', '5': 'b' });
    for (const key of ['1.5', 'abc', '1e3']) {
      expect(expectThrow(() => c.encode(make(I64Rec, { m: { [key]: 'x' } })), EncodeError).path).to.equal('m');
    }
  });
});

describe('codec: optional presence', () => {
  it('keeps unset optional fields undefined', () => {
    const back = roundTrip(allTypes({}));
    for (const k of ['optInt', 'optStr', 'optLeaf', 'optColor', 'optBool', 'optInt64', 'optDate'] as const) {
      expect(back[k], k).to.equal(undefined);
    }
  });

  it('keeps optional fields set to their default value', () => {
    const v = allTypes({ optInt: 0, optStr: '', optLeaf: leaf('', 0), optColor: Color.Red, optBool: false, optInt64: 0n,
      optDate: new Date(0) });
    const bytes = codec.encode(v);
    expect(bytes.length).to.be.greaterThan(0);
    expect(codec.decode(bytes)).to.deep.equal(v);
  });

  it('keeps the shop Address.zip presence', () => {
    const c = schemaOf(Address).codec;
    expect(c.decode(c.encode(make(Address, { street: 's', city: 'c' }))).zip).to.equal(undefined);
    expect(c.decode(c.encode(make(Address, { street: 's', city: 'c', zip: '' }))).zip).to.equal('');
  });
});

describe('codec: Date as google.protobuf.Timestamp', () => {
  it('round-trips with millisecond precision, before and after 1970, at the Date limits', () => {
    for (const ms of [0, 1, -1, 999, -999, -1001, 1700000000123, -62135596800000, 8.64e15, -8.64e15]) {
      const d = new Date(ms);
      expect(roundTrip(allTypes({ date: d })).date!.getTime(), String(ms)).to.equal(ms);
    }
  });

  it('writes seconds and non-negative nanos as a Timestamp would', () => {
    const bytes = codec.encode(allTypes({ date: new Date(-1) }));
    // field 20, len, seconds = -1 (10-byte varint), nanos = 999000000
    expect([...bytes]).to.deep.equal([...lenDelim(20, [...tagOf(1, 0), ...varint(-1), ...tagOf(2, 0), ...varint(999000000)])]);
  });

  it('rejects an invalid Date and a non-Date with an EncodeError', () => {
    const e1 = expectThrow(() => codec.encode(allTypes({ date: new Date(NaN) })), EncodeError);
    expect(e1.path).to.equal('date');
    const e2 = expectThrow(() => codec.encode(allTypes({ dates: [new Date(0), new Date('nope')] })), EncodeError);
    expect(e2.path).to.equal('dates[1]');
    expectThrow(() => codec.encode(allTypes({ date: '2020-01-01' as unknown as Date })), EncodeError);
  });
});

describe('codec: recursion and class instances', () => {
  it('round-trips a self-referential tree and keeps its methods', () => {
    const t = make(Tree, { value: 1, left: make(Tree, { value: 2, children: [], left: undefined }), children: [
      make(Tree, { value: 3, children: [make(Tree, { value: 4, children: [], left: undefined })], left: undefined }),
    ] });
    const c = schemaOf(Tree).codec;
    const back = c.decode(c.encode(t));
    expect(back).to.deep.equal(t);
    expect(back).to.be.instanceOf(Tree);
    expect(back.children[0].children[0]).to.be.instanceOf(Tree);
    expect(back.size()).to.equal(4);
  });

  it('round-trips mutually recursive messages', () => {
    const p = make(Ping, { n: 1, pong: make(Pong, { s: 'a', ping: make(Ping, { n: 2, pong: make(Pong, { s: 'b', ping: undefined }) }) }) });
    const c = schemaOf(Ping).codec;
    const back = c.decode(c.encode(p));
    expect(back).to.deep.equal(p);
    expect(back.pong!.ping!.pong).to.be.instanceOf(Pong);
  });

  it('rejects a cyclic object graph on encode with an EncodeError, not a stack overflow', () => {
    const t = make(Tree, { value: 1, children: [] });
    t.left = t;
    const err = expectThrow(() => schemaOf(Tree).codec.encode(t), EncodeError);
    expect(err.path).to.match(/^left(\.left)*$/);
    expect(err.path.split('.').length).to.equal(64);
  });

  it('decodes instances of the user class with working getters and methods (shop fixture)', () => {
    const c = schemaOf(Order).codec;
    const li = (sku: string, quantity: number, priceCents: bigint): LineItem => make(LineItem, { sku, quantity, priceCents });
    const o = make(Order, {
      id: 'o-1', total: 1234n, items: [li('a', 2, 100n), li('b', 3, 10n)],
      byWarehouse: new Map([['eu', [li('c', 1, 5n)]]]), placedAt: new Date(Date.UTC(2024, 1, 29, 12)),
      note: undefined, priority: Priority.Normal, channel: Channel.Web, shipTo: make(Address, { street: 's', city: 'c', zip: undefined }),
      tags: ['x'], counters: { a: 1 },
    });
    const back = c.decode(c.encode(o));
    expect(back).to.deep.equal(o);
    expect(back).to.be.instanceOf(Order);
    expect(back.itemCount()).to.equal(5);
    expect(back.items[0]).to.be.instanceOf(LineItem);
    expect(back.items[0].totalCents).to.equal(200n);
    expect(back.byWarehouse.get('eu')![0].totalCents).to.equal(5n);
    expect(back.shipTo).to.be.instanceOf(Address);
  });

  it('encodes plain objects of the right shape too', () => {
    const c = schemaOf(Leaf).codec;
    const back = c.decode(c.encode({ name: 'p', n: 3 } as Leaf));
    expect(back).to.be.instanceOf(Leaf);
    expect(back.twice()).to.equal(6);
  });
});

describe('codec: wrong JS types on encode', () => {
  const bad: [Partial<AllTypes>, string][] = [
    [{ int32: 1.5 }, 'int32'], [{ int32: 2147483648 }, 'int32'], [{ uint32: -1 }, 'uint32'], [{ fixed32: 2 ** 32 }, 'fixed32'],
    [{ int64: I64_MAX + 1n }, 'int64'], [{ int64: I64_MIN - 1n }, 'int64'], [{ uint64: -1n }, 'uint64'], [{ fixed64: U64_MAX + 1n }, 'fixed64'],
    [{ int64: 2 ** 60 as unknown as bigint }, 'int64'], [{ int64: '5' as unknown as bigint }, 'int64'],
    [{ double: '1' as unknown as number }, 'double'], [{ bool: 1 as unknown as boolean }, 'bool'], [{ string: 5 as unknown as string }, 'string'],
    [{ bytes: [1, 2] as unknown as Uint8Array }, 'bytes'], [{ leaf: 5 as unknown as Leaf }, 'leaf'],
    [{ doubles: 5 as unknown as number[] }, 'doubles'], [{ int64s: [1n, 'x' as unknown as bigint] }, 'int64s[1]'],
    [{ strToInt: 5 as unknown as Map<string, number> }, 'strToInt'], [{ leaves: [leaf('a', 1), make(Leaf, { name: 'b', n: 0.5 })] }, 'leaves[1].n'],
    [{ strToInt: new Map([['a', 1.5]]) }, 'strToInt[a]'], [{ tree: make(Tree, { value: 1, children: [make(Tree, { value: 'x' as unknown as number, children: [] })] }) }, 'tree.children[0].value'],
    [{ listMap: new Map([['eu', [leaf('a', 1), make(Leaf, { name: 7 as unknown as string, n: 1 })]]]) }, 'listMap[eu][1].name'],
    [{ optInt: 1.5 }, 'optInt'], [{ u32ToDouble: new Map([[1, null as unknown as number]]) }, 'u32ToDouble[1]'],
  ];
  for (const [value, path] of bad) {
    it(`${path}: ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Map ? [...v] : v))}`, () => {
      const err = expectThrow(() => codec.encode(allTypes(value)), EncodeError);
      expect(err.code).to.equal(ErrorCode.ENCODE_ERROR);
      expect(err.path).to.equal(path);
      expect(err.message).to.contain(path);
    });
  }

  it('rejects a non-object root', () => {
    expectThrow(() => codec.encode(null as unknown as AllTypes), EncodeError);
    expectThrow(() => codec.encode(5 as unknown as AllTypes), EncodeError);
  });

  it('treats null and undefined fields as unset', () => {
    const v = allTypes({ string: null as unknown as string, doubles: undefined as unknown as number[], leaf: null as unknown as Leaf });
    expect(codec.decode(codec.encode(v))).to.deep.equal(emptyAllTypes());
  });
});

describe('codec: class-validator', () => {
  const c = schemaOf(VCart).codec;
  const item = (sku: string, quantity: number): VItem => make(VItem, { sku, quantity });
  const cart = (p: Partial<VCart>): VCart => make(VCart, { owner: 'me', items: [], byShelf: new Map(), byCode: {}, main: undefined, ...p });

  it('accepts valid values', () => {
    const v = cart({ items: [item('a', 1)], main: item('m', 100), byShelf: new Map([['s', [item('b', 2)]]]), byCode: { x: item('c', 3) } });
    expect(c.decode(c.encode(v))).to.deep.equal(v);
  });

  it('collects every violation of the graph, with paths, into one ValidationError on encode', () => {
    const v = cart({
      owner: '', items: [item('a', 1), item('b', 0), item('', 101)], main: item('', 5),
      byShelf: new Map([['s1', [item('ok', 1), item('x', 0)]]]), byCode: { k: item('', 1) },
    });
    const err = expectThrow(() => c.encode(v), ValidationError);
    expect(err.code).to.equal('WEFT_VALIDATION_FAILED');
    expect(err.code).to.equal(ErrorCode.VALIDATION_FAILED);
    const got = err.violations.map((x) => `${x.path}:${x.constraint}`).sort();
    expect(got).to.deep.equal([
      'byCode[k].sku:isNotEmpty', 'byShelf[s1][1].quantity:min', 'items[1].quantity:min', 'items[2].quantity:max',
      'items[2].sku:isNotEmpty', 'main.sku:isNotEmpty', 'owner:isNotEmpty',
    ]);
    expect(err.message).to.contain('items[1].quantity');
  });

  it('runs the constraints on decode too', () => {
    const bytes = schemaOf(VCart).codec;
    const raw = codecFor(VCart, { validate: false });
    const payload = raw.encode(cart({ items: [item('a', 1), item('b', 0)] }));
    const err = expectThrow(() => bytes.decode(payload), ValidationError);
    expect(err.message).to.contain('decode');
    expect(err.violations.map((x) => x.path)).to.deep.equal(['items[1].quantity']);
    // with validation off the value decodes as is
    expect(raw.decode(payload).items[1].quantity).to.equal(0);
  });

  it('validates plain objects by their declared class', () => {
    const err = expectThrow(() => c.encode({ owner: 'o', items: [{ sku: '', quantity: 1 }], byShelf: new Map(), byCode: {} } as VCart),
      ValidationError);
    expect(err.violations.map((x) => x.path)).to.deep.equal(['items[0].sku']);
  });

  it('validates the shop fixture (LineItem.quantity @Min(1))', () => {
    const o = make(Order, { id: 'o', items: [make(LineItem, { sku: 'a', quantity: 1, priceCents: 1n }),
      make(LineItem, { sku: 'b', quantity: 0, priceCents: 1n })] });
    const err = expectThrow(() => schemaOf(Order).codec.encode(o), ValidationError);
    expect(err.violations.map((x) => x.path)).to.deep.equal(['items[1].quantity']);
  });
});

describe('codec: tolerant decoding', () => {
  it('skips unknown fields of every wire type, including groups', () => {
    const known = codec.encode(allTypes({ int32: 5, string: 's' }));
    const unknown = bytesOf(
      tagOf(1000, 0), varint(123456789012n), tagOf(1001, 1), [1, 2, 3, 4, 5, 6, 7, 8], lenDelim(1002, [1, 2, 3]),
      tagOf(1003, 5), [1, 2, 3, 4], tagOf(1004, 3), tagOf(1, 0), 1, tagOf(2, 3), tagOf(2, 4), tagOf(1004, 4),
    );
    const back = codec.decode(bytesOf([...unknown], [...known], [...unknown]));
    expect(back).to.deep.equal(allTypes({ int32: 5, string: 's' }));
  });

  it('skips a known field number sent with the wrong wire type', () => {
    const bytes = bytesOf(tagOf(3, 2), varint(2), [1, 2], tagOf(14, 0), 5, tagOf(19, 0), 1, tagOf(20, 5), [0, 0, 0, 0],
      tagOf(13, 1), [1, 0, 0, 0, 0, 0, 0, 0], tagOf(3, 0), 7);
    expect(codec.decode(bytes)).to.deep.equal(allTypes({ int32: 7 }));
  });

  it('takes the last value of a repeated singular scalar', () => {
    expect(codec.decode(bytesOf(tagOf(3, 0), 1, tagOf(3, 0), 2)).int32).to.equal(2);
  });

  it('only ever throws DecodeError for garbage', () => {
    const err = expectThrow(() => codec.decode(Uint8Array.from([0xff, 0xff])), DecodeError);
    expect(err.code).to.equal(ErrorCode.DECODE_ERROR);
    expectThrow(() => codec.decode('abc' as unknown as Uint8Array), DecodeError);
  });
});
