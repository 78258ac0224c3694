import { Field, MetadataStorage, Output, getMetadataStorage } from '../../../decorators';
import type { Ctor } from '../../../decorators';
import { SchemaCorruptError, SchemaIncompatibleError } from '../../../core/errors';
import { checkCompatibility, CompatibilityMode, CompatRule, SubjectVersion } from '../../../core/schema/compat';
import { schemaOf } from '../../../core/schema/schema';

import { expect } from 'chai';

/*
 * Every version of a subject has the same full name (that is what makes it a version), but one
 * process cannot hold two @Output classes with one name. Each version is therefore declared and
 * built inside its own, temporary metadata storage: exactly what happens when the next deploy of
 * a service declares the edited class.
 */
const STORAGE_KEY = Symbol.for('weft.metadata-storage');

function isolated<T>(fn: () => T): T {
  getMetadataStorage(); // make sure the process-wide storage exists before it is swapped out
  const g = globalThis as unknown as Record<symbol, MetadataStorage | undefined>;
  const saved = g[STORAGE_KEY];
  g[STORAGE_KEY] = new MetadataStorage();
  try {
    return fn();
  } finally {
    g[STORAGE_KEY] = saved;
  }
}

/** Declares one version (inside `define`) and returns its canonical schema bytes. */
function bytesOf(define: () => Ctor): Uint8Array {
  return isolated(() => schemaOf(define()).bytes);
}

function historyOf(defs: readonly (() => Ctor)[]): SubjectVersion[] {
  return defs.map((d, i) => {
    const s = isolated(() => schemaOf(d()));
    return { version: i + 1, id: s.id, bytes: s.bytes };
  });
}

enum StatusV1 { Unknown = 0, Active = 1, Closed = 2 }
enum StatusV2 { Unknown = 0, Active = 1, Closed = 2, Archived = 3 }
enum StatusV3 { Unknown = 0, Active = 1 }
enum ChannelV1 { Web = 'web', Store = 'store' }
enum ChannelV2 { Store = 'store', Web = 'web' }

interface Case {
  readonly name: string;
  /** Subject, the root's full name in every version. */
  readonly subject: string;
  readonly mode: CompatibilityMode;
  /** Registered versions, oldest first. */
  readonly old: readonly (() => Ctor)[];
  /** The candidate. */
  readonly next: () => Ctor;
  /** 'compatible', or the distinct rule ids expected (any order). */
  readonly expect: 'compatible' | readonly string[];
}

const R = CompatRule;
const OK = 'compatible' as const;

const cases: Case[] = [
  {
    name: 'add a field', subject: 'compat.c01.Msg', mode: 'BACKWARD', expect: OK,
    old: [() => { @Output('compat.c01.Msg') class M { @Field(1) a!: string; } return M; }],
    next: () => { @Output('compat.c01.Msg') class M { @Field(1) a!: string; @Field(2, 'int32') b!: number; } return M; },
  },
  {
    name: 'add a field (FULL)', subject: 'compat.c02.Msg', mode: 'FULL', expect: OK,
    old: [() => { @Output('compat.c02.Msg') class M { @Field(1) a!: string; } return M; }],
    next: () => { @Output('compat.c02.Msg') class M { @Field(1) a!: string; @Field(2, 'int32') b!: number; } return M; },
  },
  {
    name: 'remove a field', subject: 'compat.c03.Msg', mode: 'BACKWARD', expect: OK,
    old: [() => { @Output('compat.c03.Msg') class M { @Field(1) a!: string; @Field(2, 'int32') b!: number; } return M; }],
    next: () => { @Output('compat.c03.Msg') class M { @Field(1) a!: string; } return M; },
  },
  {
    name: 'remove a field (FORWARD)', subject: 'compat.c04.Msg', mode: 'FORWARD', expect: OK,
    old: [() => { @Output('compat.c04.Msg') class M { @Field(1) a!: string; @Field(2, 'int32') b!: number; } return M; }],
    next: () => { @Output('compat.c04.Msg') class M { @Field(1) a!: string; } return M; },
  },
  {
    name: 'rename a field', subject: 'compat.c05.Msg', mode: 'FULL', expect: OK,
    old: [() => { @Output('compat.c05.Msg') class M { @Field(1) name!: string; } return M; }],
    next: () => { @Output('compat.c05.Msg') class M { @Field(1) title!: string; } return M; },
  },
  {
    name: 'renumber a field to a fresh number (remove + add)', subject: 'compat.c06.Msg', mode: 'FULL', expect: OK,
    old: [() => { @Output('compat.c06.Msg') class M { @Field(1) a!: string; @Field(2, 'int32') b!: number; } return M; }],
    next: () => { @Output('compat.c06.Msg') class M { @Field(1) a!: string; @Field(3, 'int32') b!: number; } return M; },
  },
  {
    name: 'renumber by swapping two numbers of different types', subject: 'compat.c07.Msg', mode: 'FULL',
    expect: [R.FIELD_TYPE_CHANGED],
    old: [() => { @Output('compat.c07.Msg') class M { @Field(1) a!: string; @Field(2, 'int32') b!: number; } return M; }],
    next: () => { @Output('compat.c07.Msg') class M { @Field(2) a!: string; @Field(1, 'int32') b!: number; } return M; },
  },
  {
    name: 'int32 -> int64', subject: 'compat.c08.Msg', mode: 'FULL', expect: OK,
    old: [() => { @Output('compat.c08.Msg') class M { @Field(1, 'int32') n!: number; } return M; }],
    next: () => { @Output('compat.c08.Msg') class M { @Field(1, 'int64') n!: bigint; } return M; },
  },
  {
    name: 'changes within one wire family: uint32->bool, int64->uint64, sint32->sint64, fixed32->sfixed32, fixed64->sfixed64',
    subject: 'compat.c09.Msg', mode: 'FULL', expect: OK,
    old: [() => {
      @Output('compat.c09.Msg') class M {
        @Field(1, 'uint32') a!: number; @Field(2, 'int64') b!: bigint; @Field(3, 'sint32') c!: number;
        @Field(4, 'fixed32') d!: number; @Field(5, 'fixed64') e!: bigint;
      }
      return M;
    }],
    next: () => {
      @Output('compat.c09.Msg') class M {
        @Field(1, 'bool') a!: boolean; @Field(2, 'uint64') b!: bigint; @Field(3, 'sint64') c!: bigint;
        @Field(4, 'sfixed32') d!: number; @Field(5, 'sfixed64') e!: bigint;
      }
      return M;
    },
  },
  {
    name: 'int32 -> sint32 (varint vs zigzag)', subject: 'compat.c10.Msg', mode: 'BACKWARD', expect: [R.FIELD_TYPE_CHANGED],
    old: [() => { @Output('compat.c10.Msg') class M { @Field(1, 'int32') n!: number; } return M; }],
    next: () => { @Output('compat.c10.Msg') class M { @Field(1, 'sint32') n!: number; } return M; },
  },
  {
    name: 'float -> double', subject: 'compat.c11.Msg', mode: 'BACKWARD', expect: [R.FIELD_TYPE_CHANGED],
    old: [() => { @Output('compat.c11.Msg') class M { @Field(1, 'float') x!: number; } return M; }],
    next: () => { @Output('compat.c11.Msg') class M { @Field(1, 'double') x!: number; } return M; },
  },
  {
    name: 'string -> bytes under BACKWARD (new reader gets the UTF-8 bytes)', subject: 'compat.c12.Msg', mode: 'BACKWARD', expect: OK,
    old: [() => { @Output('compat.c12.Msg') class M { @Field(1) s!: string; } return M; }],
    next: () => { @Output('compat.c12.Msg') class M { @Field(1, 'bytes') s!: Uint8Array; } return M; },
  },
  {
    name: 'string -> bytes under FORWARD (old reader may get invalid UTF-8)', subject: 'compat.c13.Msg', mode: 'FORWARD',
    expect: [R.STRING_BYTES_CHANGED],
    old: [() => { @Output('compat.c13.Msg') class M { @Field(1) s!: string; } return M; }],
    next: () => { @Output('compat.c13.Msg') class M { @Field(1, 'bytes') s!: Uint8Array; } return M; },
  },
  {
    name: 'bytes -> string under BACKWARD', subject: 'compat.c14.Msg', mode: 'BACKWARD', expect: [R.STRING_BYTES_CHANGED],
    old: [() => { @Output('compat.c14.Msg') class M { @Field(1, 'bytes') s!: Uint8Array; } return M; }],
    next: () => { @Output('compat.c14.Msg') class M { @Field(1) s!: string; } return M; },
  },
  {
    name: 'bytes -> string under FORWARD', subject: 'compat.c15.Msg', mode: 'FORWARD', expect: OK,
    old: [() => { @Output('compat.c15.Msg') class M { @Field(1, 'bytes') s!: Uint8Array; } return M; }],
    next: () => { @Output('compat.c15.Msg') class M { @Field(1) s!: string; } return M; },
  },
  {
    name: 'message -> scalar', subject: 'compat.c16.Msg', mode: 'BACKWARD', expect: [R.FIELD_TYPE_CHANGED],
    old: [() => {
      @Output('compat.c16.Addr') class Addr { @Field(1) city!: string; }
      @Output('compat.c16.Msg') class M { @Field(1, () => Addr) addr!: Addr; }
      return M;
    }],
    next: () => { @Output('compat.c16.Msg') class M { @Field(1) addr!: string; } return M; },
  },
  {
    name: 'message -> bytes under BACKWARD (an encoded message is valid bytes)', subject: 'compat.c17.Msg', mode: 'BACKWARD', expect: OK,
    old: [() => {
      @Output('compat.c17.Addr') class Addr { @Field(1) city!: string; }
      @Output('compat.c17.Msg') class M { @Field(1, () => Addr) addr!: Addr; }
      return M;
    }],
    next: () => { @Output('compat.c17.Msg') class M { @Field(1, 'bytes') addr!: Uint8Array; } return M; },
  },
  {
    name: 'message -> bytes under FORWARD (arbitrary bytes need not parse)', subject: 'compat.c18.Msg', mode: 'FORWARD',
    expect: [R.MESSAGE_BYTES_CHANGED],
    old: [() => {
      @Output('compat.c18.Addr') class Addr { @Field(1) city!: string; }
      @Output('compat.c18.Msg') class M { @Field(1, () => Addr) addr!: Addr; }
      return M;
    }],
    next: () => { @Output('compat.c18.Msg') class M { @Field(1, 'bytes') addr!: Uint8Array; } return M; },
  },
  {
    name: 'string -> int32', subject: 'compat.c19.Msg', mode: 'FORWARD', expect: [R.FIELD_TYPE_CHANGED],
    old: [() => { @Output('compat.c19.Msg') class M { @Field(1) v!: string; } return M; }],
    next: () => { @Output('compat.c19.Msg') class M { @Field(1, 'int32') v!: number; } return M; },
  },
  {
    name: 'singular -> repeated int32 under BACKWARD (unpacked elements are accepted)', subject: 'compat.c20.Msg', mode: 'BACKWARD',
    expect: OK,
    old: [() => { @Output('compat.c20.Msg') class M { @Field(1, 'int32') n!: number; } return M; }],
    next: () => { @Output('compat.c20.Msg') class M { @Field(1, ['int32']) n!: number[]; } return M; },
  },
  {
    name: 'singular -> repeated int32 under FORWARD (packed data breaks a singular reader)', subject: 'compat.c21.Msg',
    mode: 'FORWARD', expect: [R.FIELD_LABEL_CHANGED],
    old: [() => { @Output('compat.c21.Msg') class M { @Field(1, 'int32') n!: number; } return M; }],
    next: () => { @Output('compat.c21.Msg') class M { @Field(1, ['int32']) n!: number[]; } return M; },
  },
  {
    name: 'repeated -> singular string under BACKWARD (keeps only the last element)', subject: 'compat.c22.Msg', mode: 'BACKWARD',
    expect: [R.FIELD_LABEL_CHANGED],
    old: [() => { @Output('compat.c22.Msg') class M { @Field(1, ['string']) tags!: string[]; } return M; }],
    next: () => { @Output('compat.c22.Msg') class M { @Field(1) tags!: string; } return M; },
  },
  {
    name: 'repeated -> singular message under FORWARD (old repeated reader, new singular writer)', subject: 'compat.c23.Msg',
    mode: 'FORWARD', expect: OK,
    old: [() => {
      @Output('compat.c23.Item') class Item { @Field(1) sku!: string; }
      @Output('compat.c23.Msg') class M { @Field(1, () => [Item]) items!: Item[]; }
      return M;
    }],
    next: () => {
      @Output('compat.c23.Item') class Item { @Field(1) sku!: string; }
      @Output('compat.c23.Msg') class M { @Field(1, () => Item) items!: Item; }
      return M;
    },
  },
  {
    name: 'enum value added under BACKWARD', subject: 'compat.c24.Msg', mode: 'BACKWARD', expect: OK,
    old: [() => { @Output('compat.c24.Msg') class M { @Field(1, () => StatusV1) status!: StatusV1; } return M; }],
    next: () => { @Output('compat.c24.Msg') class M { @Field(1, () => StatusV2) status!: StatusV2; } return M; },
  },
  {
    name: 'enum value added under FORWARD', subject: 'compat.c25.Msg', mode: 'FORWARD', expect: [R.ENUM_VALUE_ADDED],
    old: [() => { @Output('compat.c25.Msg') class M { @Field(1, () => StatusV1) status!: StatusV1; } return M; }],
    next: () => { @Output('compat.c25.Msg') class M { @Field(1, () => StatusV2) status!: StatusV2; } return M; },
  },
  {
    name: 'enum value removed under BACKWARD', subject: 'compat.c26.Msg', mode: 'BACKWARD', expect: [R.ENUM_VALUE_REMOVED],
    old: [() => { @Output('compat.c26.Msg') class M { @Field(1, () => StatusV1) status!: StatusV1; } return M; }],
    next: () => { @Output('compat.c26.Msg') class M { @Field(1, () => StatusV3) status!: StatusV3; } return M; },
  },
  {
    name: 'enum value removed under FORWARD', subject: 'compat.c27.Msg', mode: 'FORWARD', expect: OK,
    old: [() => { @Output('compat.c27.Msg') class M { @Field(1, () => StatusV1) status!: StatusV1; } return M; }],
    next: () => { @Output('compat.c27.Msg') class M { @Field(1, () => StatusV3) status!: StatusV3; } return M; },
  },
  {
    name: 'string enum members reordered (numbers follow declaration order)', subject: 'compat.c28.Msg', mode: 'BACKWARD',
    expect: [R.ENUM_VALUE_RENUMBERED],
    old: [() => { @Output('compat.c28.Msg') class M { @Field(1, () => ChannelV1) channel!: ChannelV1; } return M; }],
    next: () => { @Output('compat.c28.Msg') class M { @Field(1, () => ChannelV2) channel!: ChannelV2; } return M; },
  },
  {
    name: 'enum -> int32', subject: 'compat.c29.Msg', mode: 'FULL', expect: OK,
    old: [() => { @Output('compat.c29.Msg') class M { @Field(1, () => StatusV1) status!: StatusV1; } return M; }],
    next: () => { @Output('compat.c29.Msg') class M { @Field(1, 'int32') status!: number; } return M; },
  },
  {
    name: 'enum -> string', subject: 'compat.c30.Msg', mode: 'BACKWARD', expect: [R.FIELD_TYPE_CHANGED],
    old: [() => { @Output('compat.c30.Msg') class M { @Field(1, () => StatusV1) status!: StatusV1; } return M; }],
    next: () => { @Output('compat.c30.Msg') class M { @Field(1) status!: string; } return M; },
  },
  {
    name: 'map key string -> int32', subject: 'compat.c31.Msg', mode: 'BACKWARD', expect: [R.MAP_KEY_CHANGED],
    old: [() => { @Output('compat.c31.Msg') class M { @Field(1, { map: ['string', 'int32'] }) counts!: Map<string, number>; } return M; }],
    next: () => { @Output('compat.c31.Msg') class M { @Field(1, { map: ['int32', 'int32'] }) counts!: Map<number, number>; } return M; },
  },
  {
    name: 'map key int32 -> int64', subject: 'compat.c32.Msg', mode: 'FULL', expect: OK,
    old: [() => { @Output('compat.c32.Msg') class M { @Field(1, { map: ['int32', 'string'] }) names!: Map<number, string>; } return M; }],
    next: () => { @Output('compat.c32.Msg') class M { @Field(1, { map: ['int64', 'string'] }) names!: Map<bigint, string>; } return M; },
  },
  {
    name: 'map value int32 -> string', subject: 'compat.c33.Msg', mode: 'BACKWARD', expect: [R.MAP_VALUE_CHANGED],
    old: [() => { @Output('compat.c33.Msg') class M { @Field(1, { map: ['string', 'int32'] }) counts!: Map<string, number>; } return M; }],
    next: () => { @Output('compat.c33.Msg') class M { @Field(1, { map: ['string', 'string'] }) counts!: Map<string, string>; } return M; },
  },
  {
    name: 'map value T -> T[] (map of lists)', subject: 'compat.c34.Msg', mode: 'BACKWARD', expect: [R.MAP_VALUE_CHANGED],
    old: [() => { @Output('compat.c34.Msg') class M { @Field(1, { map: ['string', 'int32'] }) counts!: Map<string, number>; } return M; }],
    next: () => { @Output('compat.c34.Msg') class M { @Field(1, { map: ['string', ['int32']] }) counts!: Map<string, number[]>; } return M; },
  },
  {
    name: 'map<string,int32> -> repeated entry-shaped message (same wire)', subject: 'compat.c35.Msg', mode: 'FULL', expect: OK,
    old: [() => { @Output('compat.c35.Msg') class M { @Field(1, { map: ['string', 'int32'] }) counts!: Map<string, number>; } return M; }],
    next: () => {
      @Output('compat.c35.Pair') class Pair { @Field(1) key!: string; @Field(2, 'int32') value!: number; }
      @Output('compat.c35.Msg') class M { @Field(1, () => [Pair]) counts!: Pair[]; }
      return M;
    },
  },
  {
    name: 'type change inside a nested message', subject: 'compat.c36.Msg', mode: 'BACKWARD', expect: [R.FIELD_TYPE_CHANGED],
    old: [() => {
      @Output('compat.c36.Addr') class Addr { @Field(1) zip!: string; }
      @Output('compat.c36.Msg') class M { @Field(1, () => Addr) addr!: Addr; }
      return M;
    }],
    next: () => {
      @Output('compat.c36.Addr') class Addr { @Field(1, 'int32') zip!: number; }
      @Output('compat.c36.Msg') class M { @Field(1, () => Addr) addr!: Addr; }
      return M;
    },
  },
  {
    name: 'referenced message replaced by a differently named, wire-identical one', subject: 'compat.c37.Msg', mode: 'FULL', expect: OK,
    old: [() => {
      @Output('compat.c37.Addr') class Addr { @Field(1) city!: string; @Field(2, 'int32') zip!: number; }
      @Output('compat.c37.Msg') class M { @Field(1, () => Addr) addr!: Addr; }
      return M;
    }],
    next: () => {
      @Output('compat.c37.Location') class Location { @Field(1) town!: string; @Field(2, 'int64') postcode!: bigint; }
      @Output('compat.c37.Msg') class M { @Field(1, () => Location) addr!: Location; }
      return M;
    },
  },
  {
    name: 'self-referential message with a type change (recursion terminates)', subject: 'compat.c38.Node', mode: 'FULL',
    expect: [R.FIELD_TYPE_CHANGED],
    old: [() => {
      @Output('compat.c38.Node') class Node { @Field(1, 'int32') value!: number; @Field(2, () => [Node]) children!: Node[]; }
      return Node;
    }],
    next: () => {
      @Output('compat.c38.Node') class Node { @Field(1) value!: string; @Field(2, () => [Node]) children!: Node[]; }
      return Node;
    },
  },
  {
    name: 'optional added', subject: 'compat.c39.Msg', mode: 'FULL', expect: OK,
    old: [() => { @Output('compat.c39.Msg') class M { @Field(1) note!: string; } return M; }],
    next: () => { @Output('compat.c39.Msg') class M { @Field(1, { optional: true }) note?: string; } return M; },
  },
  {
    name: 'optional removed', subject: 'compat.c40.Msg', mode: 'FULL', expect: OK,
    old: [() => { @Output('compat.c40.Msg') class M { @Field(1, 'int32', { optional: true }) n?: number; } return M; }],
    next: () => { @Output('compat.c40.Msg') class M { @Field(1, 'int32') n!: number; } return M; },
  },
  {
    name: 'Date -> int64', subject: 'compat.c41.Msg', mode: 'BACKWARD', expect: [R.FIELD_TYPE_CHANGED],
    old: [() => { @Output('compat.c41.Msg') class M { @Field(1) at!: Date; } return M; }],
    next: () => { @Output('compat.c41.Msg') class M { @Field(1, 'int64') at!: bigint; } return M; },
  },
  {
    name: 'Date -> a message shaped like Timestamp', subject: 'compat.c42.Msg', mode: 'FULL', expect: OK,
    old: [() => { @Output('compat.c42.Msg') class M { @Field(1) at!: Date; } return M; }],
    next: () => {
      @Output('compat.c42.Instant') class Instant { @Field(1, 'int64') seconds!: bigint; @Field(2, 'int32') nanos!: number; }
      @Output('compat.c42.Msg') class M { @Field(1, () => Instant) at!: Instant; }
      return M;
    },
  },
  ...reuseCases(),
  {
    name: 'enum value removed, checked against every version', subject: 'compat.c47.Msg', mode: 'BACKWARD_TRANSITIVE',
    expect: [R.ENUM_VALUE_REMOVED],
    old: [
      () => { @Output('compat.c47.Msg') class M { @Field(1, () => StatusV1) status!: StatusV1; } return M; },
      () => { @Output('compat.c47.Msg') class M { @Field(1, () => StatusV2) status!: StatusV2; } return M; },
    ],
    next: () => { @Output('compat.c47.Msg') class M { @Field(1, () => StatusV3) status!: StatusV3; } return M; },
  },
  {
    name: 'NONE accepts anything', subject: 'compat.c48.Msg', mode: 'NONE', expect: OK,
    old: [() => { @Output('compat.c48.Msg') class M { @Field(1) a!: string; @Field(2, ['int32']) b!: number[]; } return M; }],
    next: () => { @Output('compat.c48.Msg') class M { @Field(1, 'double') a!: number; @Field(2, 'sint32') b!: number; } return M; },
  },
  {
    name: 'FULL fails on the direction that breaks (string -> bytes)', subject: 'compat.c49.Msg', mode: 'FULL',
    expect: [R.STRING_BYTES_CHANGED],
    old: [() => { @Output('compat.c49.Msg') class M { @Field(1) s!: string; } return M; }],
    next: () => { @Output('compat.c49.Msg') class M { @Field(1, 'bytes') s!: Uint8Array; } return M; },
  },
  {
    name: 'several offending fields at once', subject: 'compat.c50.Msg', mode: 'BACKWARD',
    expect: [R.FIELD_TYPE_CHANGED, R.MAP_KEY_CHANGED, R.FIELD_LABEL_CHANGED],
    old: [() => {
      @Output('compat.c50.Msg') class M {
        @Field(1, 'int32') a!: number; @Field(2, { map: ['string', 'int32'] }) m!: Map<string, number>;
        @Field(3, ['string']) tags!: string[]; @Field(4) same!: string;
      }
      return M;
    }],
    next: () => {
      @Output('compat.c50.Msg') class M {
        @Field(1) a!: string; @Field(2, { map: ['bool', 'int32'] }) m!: Map<boolean, number>;
        @Field(3) tags!: string; @Field(4) same!: string;
      }
      return M;
    },
  },
];

/** A number removed in v2 and reused with another type in v3 (the candidate). */
function reuseCases(): Case[] {
  const mk = (id: string, mode: CompatibilityMode, expect: Case['expect']): Case => {
    const subject = `compat.${id}.Msg`;
    return {
      name: `number removed in v2, reused with another type in v3, ${mode}`, subject, mode, expect,
      old: [
        () => { @Output(subject) class M { @Field(1) a!: string; @Field(2) b!: string; } return M; },
        () => { @Output(subject) class M { @Field(1) a!: string; } return M; },
      ],
      next: () => { @Output(subject) class M { @Field(1) a!: string; @Field(2, 'int32') c!: number; } return M; },
    };
  };
  return [
    mk('c43', 'BACKWARD', OK),
    mk('c44', 'BACKWARD_TRANSITIVE', [CompatRule.FIELD_NUMBER_REUSED]),
    mk('c45', 'FORWARD_TRANSITIVE', [CompatRule.FIELD_NUMBER_REUSED]),
    mk('c46', 'FULL_TRANSITIVE', [CompatRule.FIELD_NUMBER_REUSED]),
  ];
}

describe('compat', () => {
  describe('checkCompatibility', () => {
    for (const c of cases) {
      const label = c.expect === OK ? 'compatible' : c.expect.join(', ');
      it(`should judge "${c.name}" under ${c.mode}: ${label}`, () => {
        const history = historyOf(c.old);
        const issues = checkCompatibility(c.subject, bytesOf(c.next), history, c.mode);
        const rules = [...new Set(issues.map((i) => i.rule))].sort();
        if (c.expect === OK) {
          expect(issues, JSON.stringify(issues, null, 2)).to.deep.equal([]);
        } else {
          expect(rules, JSON.stringify(issues, null, 2)).to.deep.equal([...c.expect].sort());
        }
        for (const i of issues) {
          expect(i.field).to.match(/^\w+ \(\d+\)$/);
          expect(i.detail).to.be.a('string').and.not.equal('');
          expect(history.map((h) => h.version)).to.include(i.againstVersion);
        }
      });
    }

    it('should have at least 25 evolution cases, with both directions and NONE covered', () => {
      expect(cases.length).to.be.at.least(25);
      const modes = new Set(cases.map((c) => c.mode));
      for (const m of ['BACKWARD', 'FORWARD', 'FULL', 'NONE', 'BACKWARD_TRANSITIVE', 'FORWARD_TRANSITIVE', 'FULL_TRANSITIVE']) {
        expect(modes, m).to.include(m);
      }
    });

    it('should name the nested message, the field and the version in an issue', () => {
      const c = cases.find((x) => x.subject === 'compat.c36.Msg')!;
      const [issue] = checkCompatibility(c.subject, bytesOf(c.next), historyOf(c.old), c.mode);
      expect(issue).to.include({ message: 'compat.c36.Addr', field: 'zip (1)', rule: R.FIELD_TYPE_CHANGED, againstVersion: 1 });
      expect(issue.detail).to.contain('string').and.contain('int32');
    });

    it('should report a reused number against the version that used it, naming the version that removed it', () => {
      const c = cases.find((x) => x.subject === 'compat.c44.Msg')!;
      const issues = checkCompatibility(c.subject, bytesOf(c.next), historyOf(c.old), c.mode);
      expect(issues).to.have.length(1);
      expect(issues[0]).to.include({ message: 'compat.c44.Msg', field: 'c (2)', againstVersion: 1 });
      expect(issues[0].detail).to.contain('removed in version 2');
    });

    it('should report a type change against an older version as FIELD_TYPE_CHANGED when the number never went away', () => {
      const v1 = () => { @Output('compat.c51.Msg') class M { @Field(1) a!: string; } return M; };
      const v2 = () => { @Output('compat.c51.Msg') class M { @Field(1, 'bytes') a!: Uint8Array; } return M; };
      const v3 = () => { @Output('compat.c51.Msg') class M { @Field(1, 'int32') a!: number; } return M; };
      const issues = checkCompatibility('compat.c51.Msg', bytesOf(v3), historyOf([v1, v2]), 'BACKWARD_TRANSITIVE');
      expect(issues.map((i) => [i.rule, i.againstVersion])).to.deep.equal([
        [R.FIELD_TYPE_CHANGED, 1], [R.FIELD_TYPE_CHANGED, 2],
      ]);
    });

    it('should accept anything when there is no history', () => {
      const next = () => { @Output('compat.c52.Msg') class M { @Field(1) a!: string; } return M; };
      expect(checkCompatibility('compat.c52.Msg', bytesOf(next), [], 'FULL_TRANSITIVE')).to.deep.equal([]);
    });

    it('should report ROOT_MESSAGE_MISSING when the candidate does not define the subject', () => {
      const v = () => { @Output('compat.c53.Msg') class M { @Field(1) a!: string; } return M; };
      const issues = checkCompatibility('compat.c53.Other', bytesOf(v), historyOf([v]), 'BACKWARD');
      expect(issues.map((i) => i.rule)).to.deep.equal([R.ROOT_MESSAGE_MISSING]);
    });

    it('should throw SchemaCorruptError when a stored version does not define the subject', () => {
      const v = () => { @Output('compat.c54.Msg') class M { @Field(1) a!: string; } return M; };
      const w = () => { @Output('compat.c54.Other') class M { @Field(1) a!: string; } return M; };
      const history = historyOf([w]);
      expect(() => checkCompatibility('compat.c54.Msg', bytesOf(v), history, 'BACKWARD')).to.throw(SchemaCorruptError);
    });
  });

  describe('SchemaIncompatibleError', () => {
    it('should list every offending field and its rule in its message', () => {
      const c = cases.find((x) => x.subject === 'compat.c50.Msg')!;
      const issues = checkCompatibility(c.subject, bytesOf(c.next), historyOf(c.old), c.mode);
      expect(issues).to.have.length(3);
      const err = new SchemaIncompatibleError(c.subject, c.mode, issues);
      expect(err.code).to.equal('WEFT_SCHEMA_INCOMPATIBLE');
      for (const [field, rule] of [['a (1)', R.FIELD_TYPE_CHANGED], ['m (2)', R.MAP_KEY_CHANGED], ['tags (3)', R.FIELD_LABEL_CHANGED]]) {
        expect(err.message).to.contain(`compat.c50.Msg.${field} [${rule}]`);
      }
      expect(err.message).not.to.contain('same (4)');
      expect(err.message).to.contain('(vs version 1)');
    });
  });
});
