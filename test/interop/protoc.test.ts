import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { descriptorSetFromStored } from '../../core/schema/export';
import { schemaOf } from '../../core/schema/schema';
import { Everything, sampleEverything } from '../fixtures/everything';
import { connectTestRedis, deletePrefix, uniquePrefix } from '../helpers/redis';
import { makeTmpDir, protocDecode, removeTmpDir, requireProtoc } from './tools';
import { ReadBack, writeAndReadBack } from './wire';

/** Text-format strings: protoc 3.x escapes non-ASCII bytes as octal, newer releases print UTF-8. */
const UTF8_STRING = /a_string: "(h\\303\\251llo w\\303\\266rld|héllo wörld)"/;

describe('interop: protoc --decode reads what Weft stores in Redis', () => {
  let redis: Redis;
  let prefix: string;
  let dir: string;
  let readBack: ReadBack;
  let text: string;

  before(async () => {
    requireProtoc();
    redis = await connectTestRedis();
    prefix = uniquePrefix('interop-protoc');
    dir = makeTmpDir('protoc');

    const schema = schemaOf(Everything);
    readBack = await writeAndReadBack(redis, prefix, schema, schema.codec.encode(sampleEverything()));
    // Only the bytes read back from <prefix>:schemas go into the descriptor set.
    const setPath = join(dir, 'stored.binpb');
    writeFileSync(setPath, descriptorSetFromStored([readBack.schemaBytes]));
    // A leading newline lets every assertion anchor a whole line with '\n…\n'.
    text = `\n${protocDecode(setPath, readBack.type, readBack.payload)}`;
  });

  after(async () => {
    removeTmpDir(dir);
    if (redis) {
      await deletePrefix(redis, prefix);
      await redis.quit();
    }
  });

  it('reads the type name from the stream entry', () => {
    expect(readBack.type).to.equal('interop.Everything');
  });

  it('prints all 15 scalars, with 64-bit extremes intact', () => {
    for (const line of [
      'a_double: 2.5',
      'a_float: -0.75',
      'an_int32: -2147483648',
      'an_int64: 9223372036854775807',
      'a_uint32: 4294967295',
      'a_uint64: 18446744073709551615',
      'a_sint32: -123456',
      'a_sint64: -9223372036854775807',
      'a_fixed32: 4000000000',
      'a_fixed64: 18446744073709551615',
      'a_sfixed32: -7',
      'a_sfixed64: -9223372036854775807',
      'a_bool: true',
      'some_bytes: "weft\\000\\377"',
    ]) expect(text).to.include(`\n${line}\n`);
    expect(text).to.match(UTF8_STRING);
  });

  it('prints numeric and string enums by value name', () => {
    expect(text).to.include('\npriority: PRIORITY_HIGH\n');
    expect(text).to.include('\ncolor: COLOR_GREEN\n');
    expect(text).to.include('\npriority_list: PRIORITY_NORMAL\npriority_list: PRIORITY_HIGH\n');
  });

  it('prints nested messages, including one from another package', () => {
    expect(text).to.include('\ninner {\n  label: "solo"\n  weight: 42\n  price {\n    currency: "EUR"\n    units: -5\n  }\n}\n');
    expect(text).to.include('\ntotal {\n  currency: "USD"\n  units: -9223372036854775807\n}\n');
  });

  it('prints repeated scalars and messages in order', () => {
    expect(text).to.include(
      '\nint64_list: 9223372036854775807\nint64_list: -9223372036854775807\nint64_list: 0\n');
    expect(text).to.include('\nstring_list: "a"\nstring_list: "b c"\n');
    expect(text).to.include('\ninner_list {\n  label: "first"\n  weight: 1\n}\ninner_list {\n  label: "second"\n');
  });

  it('prints maps with string, integer and bool keys and scalar, enum and message values', () => {
    expect(text).to.include('counts_by_name {\n  key: "apples"\n  value: 9223372036854775807\n}');
    expect(text).to.include('counts_by_name {\n  key: "pears"\n  value: -3\n}');
    expect(text).to.include('inner_by_id {\n  key: 7\n  value {\n    label: "seven"\n    weight: 7\n  }\n}');
    expect(text).to.include('inner_by_id {\n  key: -1\n  value {\n    label: "minus-one"\n    weight: -1\n  }\n}');
    expect(text).to.include('label_by_flag {\n  key: true\n  value: "yes"\n}');
    expect(text).to.include('label_by_flag {\n  key: false\n  value: "no"\n}');
    expect(text).to.include('priority_by_key {\n  key: 18446744073709551615\n  value: PRIORITY_HIGH\n}');
    expect(text).to.include('scores {\n  key: "alice"\n  value: 1.5\n}');
  });

  it('prints a map of lists through its wrapper message', () => {
    expect(text).to.include(
      'inners_by_group {\n  key: "north"\n  value {\n' +
      '    values {\n      label: "n1"\n      weight: 10\n    }\n' +
      '    values {\n      label: "n2"\n      weight: 20\n    }\n  }\n}');
    expect(text).to.include(
      'inners_by_group {\n  key: "south"\n  value {\n    values {\n      label: "s1"\n      weight: 30\n    }\n  }\n}');
  });

  it('keeps presence: set optionals print (even a zero), unset ones do not', () => {
    expect(text).to.include('\nnote_set: "present"\n');
    expect(text).to.include('\nzero_but_set: 0\n');
    expect(text).not.to.include('note_unset');
  });

  it('prints a Date as google.protobuf.Timestamp', () => {
    // 2024-02-29T12:34:56.789Z
    expect(text).to.include('\nplaced_at {\n  seconds: 1709210096\n  nanos: 789000000\n}\n');
  });

  it('prints self-referential and mutually recursive messages', () => {
    expect(text).to.include('\nchild {\n  a_string: "child-of-root"\n  color: COLOR_BLUE\n  placed_at {\n  }\n}\n');
    expect(text).to.include(
      '\ntree {\n  name: "root"\n  leaves {\n    id: 1\n    branch {\n      name: "twig"\n' +
      '      leaves {\n        id: 2\n      }\n    }\n  }\n}\n');
  });
});
