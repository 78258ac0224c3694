import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { schemaOf } from '../../core/schema/schema';
import { Everything, sampleEverything } from '../fixtures/everything';
import { connectTestRedis, deletePrefix, uniquePrefix } from '../helpers/redis';
import { makeTmpDir, removeTmpDir, requirePythonProtobuf, run, SYSTEM_PYTHON } from './tools';
import { writeAndReadBack } from './wire';

const DECODE_PY = join(__dirname, 'decode.py');

/**
 * What Python's json_format prints for sampleEverything(): proto field names, 64-bit integers as
 * strings, enums by name, bytes as base64, map keys as strings, Timestamp as RFC 3339, and
 * fields at their default value (including the unset optional) left out.
 */
const EXPECTED = {
  a_double: 2.5,
  a_float: -0.75,
  an_int32: -2147483648,
  an_int64: '9223372036854775807',
  a_uint32: 4294967295,
  a_uint64: '18446744073709551615',
  a_sint32: -123456,
  a_sint64: '-9223372036854775807',
  a_fixed32: 4000000000,
  a_fixed64: '18446744073709551615',
  a_sfixed32: -7,
  a_sfixed64: '-9223372036854775807',
  a_bool: true,
  a_string: 'héllo wörld',
  some_bytes: Buffer.from([0x77, 0x65, 0x66, 0x74, 0x00, 0xff]).toString('base64'),
  priority: 'PRIORITY_HIGH',
  color: 'COLOR_GREEN',
  inner: { label: 'solo', weight: 42, price: { currency: 'EUR', units: '-5' } },
  int64_list: ['9223372036854775807', '-9223372036854775807', '0'],
  string_list: ['a', 'b c'],
  inner_list: [{ label: 'first', weight: 1 }, { label: 'second', weight: 2, price: { currency: 'EUR', units: '300' } }],
  priority_list: ['PRIORITY_NORMAL', 'PRIORITY_HIGH'],
  counts_by_name: { apples: '9223372036854775807', pears: '-3' },
  inner_by_id: { '7': { label: 'seven', weight: 7 }, '-1': { label: 'minus-one', weight: -1 } },
  label_by_flag: { true: 'yes', false: 'no' },
  inners_by_group: {
    north: { values: [{ label: 'n1', weight: 10 }, { label: 'n2', weight: 20 }] },
    south: { values: [{ label: 's1', weight: 30 }] },
  },
  priority_by_key: { '18446744073709551615': 'PRIORITY_HIGH' },
  scores: { alice: 1.5 },
  note_set: 'present',
  zero_but_set: 0,
  placed_at: '2024-02-29T12:34:56.789Z',
  child: { a_string: 'child-of-root', color: 'COLOR_BLUE', placed_at: '1970-01-01T00:00:00Z' },
  total: { currency: 'USD', units: '-9223372036854775807' },
  tree: { name: 'root', leaves: [{ id: 1, branch: { name: 'twig', leaves: [{ id: 2 }] } }] },
};

describe("interop: Python's google.protobuf decodes with only the schema bytes stored in Redis", () => {
  let redis: Redis;
  let prefix: string;
  let dir: string;
  let decoded: Record<string, unknown>;

  before(async () => {
    requirePythonProtobuf();
    redis = await connectTestRedis();
    prefix = uniquePrefix('interop-python');
    dir = makeTmpDir('python');

    const schema = schemaOf(Everything);
    const back = await writeAndReadBack(redis, prefix, schema, schema.codec.encode(sampleEverything()));
    const schemaPath = join(dir, 'schema.bin');
    const payloadPath = join(dir, 'payload.bin');
    writeFileSync(schemaPath, back.schemaBytes);
    writeFileSync(payloadPath, back.payload);
    const { stdout } = run(SYSTEM_PYTHON, [DECODE_PY, back.type, payloadPath, schemaPath]);
    decoded = JSON.parse(stdout) as Record<string, unknown>;
  });

  after(async () => {
    removeTmpDir(dir);
    if (redis) {
      await deletePrefix(redis, prefix);
      await redis.quit();
    }
  });

  it('decodes every field to the expected value', () => {
    expect(decoded).to.deep.equal(EXPECTED);
  });

  it('keeps int64 and uint64 extremes exact', () => {
    expect(decoded.an_int64).to.equal((2n ** 63n - 1n).toString());
    expect(decoded.a_sint64).to.equal((-(2n ** 63n - 1n)).toString());
    expect(decoded.a_sfixed64).to.equal((-(2n ** 63n - 1n)).toString());
    expect(decoded.a_uint64).to.equal((2n ** 64n - 1n).toString());
    expect(decoded.a_fixed64).to.equal((2n ** 64n - 1n).toString());
  });

  it('decodes the Date as a Timestamp at millisecond precision', () => {
    expect(decoded.placed_at).to.equal(sampleEverything().placedAt.toISOString());
  });

  it('tracks presence: an optional set to zero is there, an unset one is absent', () => {
    expect(decoded).to.have.property('zero_but_set', 0);
    expect(decoded).not.to.have.property('note_unset');
  });
});
