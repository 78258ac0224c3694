import { Reader, Writer } from 'protobufjs/minimal';
import type { ScalarType } from '../../decorators/types';
import { DecodeError, EncodeError } from '../errors';
import { collectTypes, ElementModel, EnumModel, FieldModel, MessageModel } from './model';

/**
 * Compiles a message graph into specialised encode/decode functions (one pair per message), the
 * way protobufjs does for its own types, but writing straight from and into the user's classes:
 * `bigint` for 64-bit integers, `Date` for Timestamps, `Map`/records for maps, unwrapped
 * map-of-list values, and instances created from the class prototype.
 *
 * @remarks
 * Hostile input is bounded: every length is checked against the enclosing message, nesting
 * (including unknown groups) is limited by `maxDepth`, and no allocation exceeds the payload's own
 * size by more than a constant factor. A value with the wrong wire type for a known field number
 * is treated as an unknown field and skipped, as protobuf's reference implementation does.
 * @internal
 */

export type EncodeFn = (m: unknown, w: Writer, d: number) => void;
export type DecodeFn = (r: Reader, end: number, d: number) => unknown;

const WIRE: Record<ScalarType, number> = {
  double: 1, float: 5, int32: 0, int64: 0, uint32: 0, uint64: 0, sint32: 0, sint64: 0,
  fixed32: 5, fixed64: 1, sfixed32: 5, sfixed64: 1, bool: 0, string: 2, bytes: 2,
};
const IS64: Partial<Record<ScalarType, true>> = { int64: true, uint64: true, sint64: true, fixed64: true, sfixed64: true };
const UNSIGNED64: Partial<Record<ScalarType, true>> = { uint64: true, fixed64: true };
const PACKABLE = (s: ScalarType): boolean => s !== 'string' && s !== 'bytes';

/** JS-side check for a scalar value held in `v`. */
const CHECK: Record<ScalarType, string> = {
  double: 'typeof v==="number"', float: 'typeof v==="number"',
  int32: 'typeof v==="number"&&(v|0)===v', sint32: 'typeof v==="number"&&(v|0)===v', sfixed32: 'typeof v==="number"&&(v|0)===v',
  uint32: 'typeof v==="number"&&(v>>>0)===v', fixed32: 'typeof v==="number"&&(v>>>0)===v',
  int64: '(b=H.s64(v))!==null', sint64: '(b=H.s64(v))!==null', sfixed64: '(b=H.s64(v))!==null',
  uint64: '(b=H.u64(v))!==null', fixed64: '(b=H.u64(v))!==null',
  bool: 'typeof v==="boolean"', string: 'typeof v==="string"', bytes: 'v instanceof Uint8Array',
};
const EXPECT: Record<ScalarType, string> = {
  double: 'a number', float: 'a number', int32: 'a 32-bit integer', sint32: 'a 32-bit integer', sfixed32: 'a 32-bit integer',
  uint32: 'an unsigned 32-bit integer', fixed32: 'an unsigned 32-bit integer',
  int64: 'a bigint (or safe integer) in the int64 range', sint64: 'a bigint (or safe integer) in the int64 range',
  sfixed64: 'a bigint (or safe integer) in the int64 range',
  uint64: 'a bigint (or safe integer) in the uint64 range', fixed64: 'a bigint (or safe integer) in the uint64 range',
  bool: 'a boolean', string: 'a string', bytes: 'a Uint8Array',
};
/** Expression that is true when a (checked) scalar is not its proto3 default. */
const NON_DEFAULT: Record<ScalarType, string> = {
  double: '(v!==0||1/v<0)', float: '(v!==0||1/v<0)', int32: 'v!==0', sint32: 'v!==0', sfixed32: 'v!==0', uint32: 'v!==0',
  fixed32: 'v!==0', int64: '(b.low|b.high)!==0', sint64: '(b.low|b.high)!==0', sfixed64: '(b.low|b.high)!==0',
  uint64: '(b.low|b.high)!==0', fixed64: '(b.low|b.high)!==0', bool: 'v', string: 'v.length!==0', bytes: 'v.length!==0',
};
/** Default decoded value of a scalar, as code. */
const DEFAULT: Record<ScalarType, string> = {
  double: '0', float: '0', int32: '0', sint32: '0', sfixed32: '0', uint32: '0', fixed32: '0',
  int64: '0n', sint64: '0n', sfixed64: '0n', uint64: '0n', fixed64: '0n', bool: 'false', string: '""', bytes: 'H.EMPTY',
};

function writeScalar(s: ScalarType, val: string): string {
  return IS64[s] ? `w.${s}(b)` : `w.${s}(${val})`;
}
function readScalar(s: ScalarType): string {
  if (IS64[s]) return `H.big(r.${s}(),${UNSIGNED64[s] ? 'true' : 'false'})`;
  if (s === 'bytes') return 'H.bytes(r)';
  return `r.${s}()`;
}
const tag = (n: number, wt: number): number => ((n << 3) | wt) >>> 0;

function toBigIntKey(k: string): bigint | string {
  return /^-?\d+$/.test(k) ? BigInt(k) : k;
}

/** Runtime helpers referenced by generated code as `H`. */
function helpers(maxDepth: number) {
  const U64 = (1n << 64n) - 1n;
  const I64MIN = -(1n << 63n);
  const I64MAX = (1n << 63n) - 1n;
  // The writer copies low/high at once, so one scratch object serves every call (no allocation).
  const scratch = { low: 0, high: 0 };
  const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
  const fromNumber = (n: number): { low: number; high: number } => {
    scratch.low = n >>> 0;
    scratch.high = Math.floor(n / 4294967296) | 0;
    return scratch;
  };
  const bits = (v: bigint): { low: number; high: number } => {
    if (v >= -MAX_SAFE && v <= MAX_SAFE) return fromNumber(Number(v));
    scratch.low = Number(v & 0xffffffffn) | 0;
    scratch.high = Number((v >> 32n) & 0xffffffffn) | 0;
    return scratch;
  };
  const trunc = (): DecodeError => new DecodeError('truncated or malformed message: a length runs past the end of its enclosing message');
  const skip = (r: Reader, wt: number, d: number, field: number): void => {
    switch (wt) {
      case 0:
        // At most 10 bytes, as in every other protobuf reader (Reader.skip() would accept any length).
        for (let n = 0; ; n++) {
          if (n === 10 || r.pos >= r.len) throw new DecodeError('malformed varint: more than 10 bytes, or truncated');
          if ((r.buf[r.pos++] & 128) === 0) return;
        }
      case 1: r.skip(8); return;
      case 2: r.skip(r.uint32()); return;
      case 5: r.skip(4); return;
      case 3: {
        if (d >= maxDepth) throw new DecodeError(`nesting deeper than maxDepth ${maxDepth}`);
        for (;;) {
          const t = r.uint32();
          const w2 = t & 7;
          if (w2 === 4) {
            if (t >>> 3 !== field) throw new DecodeError('mismatched end-group tag');
            return;
          }
          if (t >>> 3 === 0) throw new DecodeError('invalid field number 0');
          skip(r, w2, d + 1, t >>> 3);
        }
      }
      default:
        throw new DecodeError(`invalid wire type ${wt}`);
    }
  };
  const TS_MAX_S = 8_640_000_000_000n;
  const big = (l: { low: number; high: number }, unsigned: boolean): bigint => {
    const hi = l.high | 0;
    const lo = l.low >>> 0;
    if (hi === 0) return BigInt(lo);
    const u = (BigInt(hi >>> 0) << 32n) | BigInt(lo);
    return unsigned ? u : BigInt.asIntN(64, u);
  };
  return {
    MAXD: maxDepth,
    EMPTY: new Uint8Array(0),
    big,
    /** Reads a google.protobuf.Timestamp body that ends at `e`. */
    tsd(r: Reader, e: number, d: number): Date {
      let sec = 0n;
      let nanos = 0;
      while (r.pos < e) {
        const t = r.uint32();
        if (t === 8) sec = big(r.int64() as unknown as { low: number; high: number }, false);
        else if (t === 16) nanos = r.int32();
        else this.skip(r, t, d);
      }
      if (r.pos !== e) throw trunc();
      if (sec > TS_MAX_S || sec < -TS_MAX_S) throw new DecodeError('timestamp out of the range a Date can hold');
      const date = new Date(Number(sec) * 1000 + Math.floor(nanos / 1_000_000));
      if (Number.isNaN(date.getTime())) throw new DecodeError('timestamp out of the range a Date can hold');
      return date;
    },
    s64(v: unknown): { low: number; high: number } | null {
      if (typeof v === 'bigint') return v >= I64MIN && v <= I64MAX ? bits(v) : null;
      if (typeof v === 'number' && Number.isSafeInteger(v)) return fromNumber(v);
      return null;
    },
    u64(v: unknown): { low: number; high: number } | null {
      if (typeof v === 'bigint') return v >= 0n && v <= U64 ? bits(v) : null;
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return fromNumber(v);
      return null;
    },
    bytes(r: Reader): Uint8Array {
      return new Uint8Array(r.bytes());
    },
    skip(r: Reader, t: number, d: number): void {
      if (t >>> 3 === 0) throw new DecodeError('invalid field number 0');
      skip(r, t & 7, d, t >>> 3);
    },
    trunc,
    end(r: Reader, end: number): void {
      if (r.pos !== end) throw trunc();
    },
    sub(r: Reader, end: number): number {
      const e = r.uint32() + r.pos;
      if (e > end) throw trunc();
      return e;
    },
    depth(): DecodeError {
      return new DecodeError(`nesting deeper than maxDepth ${maxDepth}; raise the codec's maxDepth if this is legitimate`);
    },
    setRecord(o: Record<string, unknown>, k: string, v: unknown): void {
      if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      else o[k] = v;
    },
    fail(path: string, msg: string): never {
      throw new EncodeError(path, msg);
    },
    nest(e: unknown, path: string): unknown {
      if (e instanceof EncodeError) return new EncodeError(path + (e.path === '' || e.path.startsWith('[') ? '' : '.') + e.path,
        e.message.slice(e.message.indexOf(': ') + 2));
      return e;
    },
    /** Like `nest`, for errors from a map-of-lists wrapper: its hidden `values` field is not part of the user's path. */
    nestList(e: unknown, path: string): unknown {
      if (e instanceof EncodeError && e.path.startsWith('values')) {
        return new EncodeError(path + e.path.slice('values'.length), e.message.slice(e.message.indexOf(': ') + 2));
      }
      return this.nest(e, path);
    },
    tooDeep(path: string): never {
      throw new EncodeError(path, `nesting deeper than maxDepth ${maxDepth} (is the object graph cyclic?)`);
    },
    keyFromRecord: {
      int32: Number, sint32: Number, sfixed32: Number, uint32: Number, fixed32: Number,
      // A key that is not an integer stays a string, so the key check rejects it with an EncodeError
      // (BigInt('1.5') would throw a SyntaxError instead).
      int64: toBigIntKey, sint64: toBigIntKey, sfixed64: toBigIntKey, uint64: toBigIntKey, fixed64: toBigIntKey,
      bool: (k: string) => k === 'true', string: (k: string) => k,
    } as Record<string, (k: string) => unknown>,
  };
}

/** The compiled functions of a graph; index 0 is the root. */
export interface CompiledGraph {
  readonly encode: EncodeFn;
  readonly decode: DecodeFn;
  readonly messages: readonly MessageModel[];
}

/** Compiles a root message and every message it reaches. */
export function compileGraph(root: MessageModel, maxDepth: number): CompiledGraph {
  const { messages } = collectTypes(root);
  const index = new Map(messages.map((m, i) => [m, i]));
  const enums: EnumModel[] = [];
  const enumIndex = (e: EnumModel): number => {
    let i = enums.indexOf(e);
    if (i < 0) i = enums.push(e) - 1;
    return i;
  };
  const H = helpers(maxDepth);
  const E: EncodeFn[] = [];
  const D: DecodeFn[] = [];
  const K: (new () => object)[] = [];
  const sources = messages.map((m) => ({ enc: genEncode(m, index, enumIndex), dec: genDecode(m, index, enumIndex) }));
  // Enum lookup tables: EN[i] maps JS value -> number, DE[i] maps number -> JS value.
  const EN = enums.map((e) => {
    const o = new Map<unknown, number>();
    for (const v of e.values) if (v.jsValue !== undefined) o.set(v.jsValue, v.number);
    return o;
  });
  const DE = enums.map((e) => {
    const o = new Map<number, unknown>();
    for (const v of e.values) o.set(v.number, v.jsValue);
    return o;
  });
  messages.forEach((m) => {
    const k = function WeftMessage(this: object) { /* instances get their fields from the decoder */ } as unknown as new () => object;
    k.prototype = m.ctor ? m.ctor.prototype : Object.prototype;
    K.push(k);
  });
  sources.forEach((s, i) => {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    E[i] = new Function('E', 'H', 'EN', `return function enc_${i}(m,w,d){${s.enc}}`)(E, H, EN) as EncodeFn;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    D[i] = new Function('D', 'H', 'DE', 'K', 'Ki', `return function dec_${i}(r,end,d){${s.dec}}`)(D, H, DE, K, K[i]) as DecodeFn;
  });
  return { encode: E[0], decode: D[0], messages };
}

/** Code that writes one element held in `v` with field tag bits for `num`; `path` is a JS expression. */
function encElement(e: ElementModel, num: number, path: string, index: Map<MessageModel, number>, enumIndex: (e: EnumModel) => number,
  skipDefault: boolean): string {
  switch (e.kind) {
    case 'scalar': {
      const s = e.scalar;
      const write = `w.uint32(${tag(num, WIRE[s])}).${writeScalar(s, 'v').slice(2)};`;
      return `if(!(${CHECK[s]}))H.fail(${path},"expected ${EXPECT[s]}, got "+(typeof v));` +
        (skipDefault ? `if(${NON_DEFAULT[s]})${write}` : write);
    }
    case 'enum': {
      const i = enumIndex(e.enum);
      const lookup = e.enum.stringValued
        ? `n=EN[${i}].get(v);if(n===undefined){if(typeof v==="number"&&(v|0)===v)n=v;else H.fail(${path},"not a member of enum ${e.enum.fullName}: "+String(v));}`
        : `n=v;if(typeof n!=="number"||(n|0)!==n)H.fail(${path},"expected a member of enum ${e.enum.fullName}, got "+String(v));`;
      const write = `w.uint32(${tag(num, 0)}).int32(n);`;
      return lookup + (skipDefault ? `if(n!==0)${write}` : write);
    }
    case 'message': {
      const i = index.get(e.message)!;
      return `if(typeof v!=="object")H.fail(${path},"expected an object, got "+(typeof v));` +
        `w.uint32(${tag(num, 2)}).fork();try{E[${i}](v,w,d+1);}catch(x){throw H.nest(x,${path});}w.ldelim();`;
    }
    case 'timestamp':
      return `if(!(v instanceof Date))H.fail(${path},"expected a Date");ms=v.getTime();` +
        `if(ms!==ms)H.fail(${path},"invalid Date");s=Math.floor(ms/1000);n=(ms-s*1000)*1000000;` +
        `w.uint32(${tag(num, 2)}).fork();if(s!==0)w.uint32(8).int64(s);if(n!==0)w.uint32(16).int32(n);w.ldelim();`;
  }
}

function genEncode(m: MessageModel, index: Map<MessageModel, number>, enumIndex: (e: EnumModel) => number): string {
  let c = 'var v,b,n,s,ms,a,i,k,x,vv;';
  for (const f of m.fields) {
    const p = JSON.stringify(f.property);
    c += `v=m[${p}];`;
    if (f.map) {
      c += encMap(f, index, enumIndex);
    } else if (f.repeated) {
      c += `if(v!=null){if(!Array.isArray(v))H.fail(${p},"expected an array");a=v;`;
      const el = f.element;
      if (el.kind === 'scalar' && PACKABLE(el.scalar)) {
        c += `if(a.length!==0){w.uint32(${tag(f.number, 2)}).fork();for(i=0;i<a.length;i++){v=a[i];` +
          `if(!(${CHECK[el.scalar]}))H.fail(${p}+"["+i+"]","expected ${EXPECT[el.scalar]}");w.${writeScalar(el.scalar, 'v').slice(2)};}w.ldelim();}`;
      } else if (el.kind === 'enum') {
        c += `if(a.length!==0){w.uint32(${tag(f.number, 2)}).fork();for(i=0;i<a.length;i++){v=a[i];` +
          encElement(el, f.number, `${p}+"["+i+"]"`, index, enumIndex, false).replace(/w\.uint32\(\d+\)\.int32\(n\);$/, 'w.int32(n);') +
          '}w.ldelim();}';
      } else {
        c += `for(i=0;i<a.length;i++){v=a[i];${encElement(el, f.number, `${p}+"["+i+"]"`, index, enumIndex, false)}}`;
      }
      c += '}';
    } else {
      c += `if(v!=null){${encElement(f.element, f.number, p, index, enumIndex, !f.optional)}}`;
    }
  }
  return `if(d>=H.MAXD)H.tooDeep("");${c}`;
}

function encMap(f: FieldModel, index: Map<MessageModel, number>, enumIndex: (e: EnumModel) => number): string {
  const map = f.map!;
  const p = JSON.stringify(f.property);
  const key = map.key;
  const keyCheck = CHECK[key].replace(/\bv\b/g, 'k');
  const keyWrite = IS64[key] ? `w.${key}(b)` : `w.${key}(k)`;
  const valuePath = `${p}+"["+String(k)+"]"`;
  let value: string;
  if (map.listWrapper) {
    const wi = index.get(map.listWrapper)!;
    value = `if(v==null)v=[];if(!Array.isArray(v))H.fail(${valuePath},"expected an array");` +
      `w.uint32(18).fork();try{E[${wi}]({values:v},w,d+1);}catch(x){throw H.nestList(x,${valuePath});}w.ldelim();`;
  } else if (map.value.kind === 'message') {
    value = `if(v==null)v={};${encElement(map.value, 2, valuePath, index, enumIndex, false)}`;
  } else {
    value = `if(v==null)H.fail(${valuePath},"map values cannot be null or undefined");${encElement(map.value, 2, valuePath, index, enumIndex, false)}`;
  }
  const entry = (kExpr: string): string =>
    `k=${kExpr};if(!(${keyCheck}))H.fail(${p},"map key "+String(k)+" is not ${EXPECT[key]}");` +
    `w.uint32(${tag(f.number, 2)}).fork().uint32(${tag(1, WIRE[key])});${keyWrite};${value}w.ldelim();`;
  return `if(v!=null){vv=v;if(vv instanceof Map){for(x of vv){v=x[1];${entry('x[0]')}}}` +
    `else if(typeof vv==="object"){for(x in vv){if(!Object.prototype.hasOwnProperty.call(vv,x))continue;v=vv[x];${entry(`H.keyFromRecord.${key}(x)`)}}}` +
    `else H.fail(${p},"expected a Map or a plain object");}`;
}

/**
 * An expression that reads one element. `endVar` names the enclosing message's end, `ev` a free
 * variable to hold a nested message's end.
 */
function decElement(e: ElementModel, index: Map<MessageModel, number>, enumIndex: (e: EnumModel) => number,
  endVar: string, ev: string): string {
  switch (e.kind) {
    case 'scalar': return readScalar(e.scalar);
    case 'enum': {
      const hasZeroMember = e.enum.values.some((v) => v.number === 0 && v.jsValue !== undefined);
      if (!e.enum.stringValued) return hasZeroMember ? 'r.int32()' : '((n=r.int32())===0?undefined:n)';
      // String enums: known numbers map back to strings, 0 (unspecified) to undefined, unknown numbers stay numbers.
      return `((x=DE[${enumIndex(e.enum)}].get(n=r.int32()))!==undefined?x:(n===0?undefined:n))`;
    }
    case 'message': return `(${ev}=H.sub(r,${endVar}),x=D[${index.get(e.message)!}](r,${ev},d+1),H.end(r,${ev}),x)`;
    case 'timestamp': return `(${ev}=H.sub(r,${endVar}),H.tsd(r,${ev},d+1))`;
  }
}

function elementWire(e: ElementModel): number {
  return e.kind === 'scalar' ? WIRE[e.scalar] : e.kind === 'enum' ? 0 : 2;
}

function defaultOf(f: FieldModel): string {
  if (f.map) return f.map.container === 'map' ? 'new Map()' : '{}';
  if (f.repeated) return '[]';
  if (f.optional) return 'undefined';
  const e = f.element;
  if (e.kind === 'scalar') return DEFAULT[e.scalar];
  if (e.kind === 'enum') {
    const zero = e.enum.values.find((v) => v.number === 0);
    return zero?.jsValue === undefined ? 'undefined' : JSON.stringify(zero.jsValue);
  }
  return 'undefined';
}

function genDecode(m: MessageModel, index: Map<MessageModel, number>, enumIndex: (e: EnumModel) => number): string {
  let init = '';
  let cases = '';
  for (const f of m.fields) {
    const p = `m[${JSON.stringify(f.property)}]`;
    init += `${p}=${defaultOf(f)};`;
    const el = f.element;
    if (f.map) {
      const map = f.map;
      const keyDefault = DEFAULT[map.key];
      let valueRead: string;
      let valueDefault: string;
      if (map.listWrapper) {
        valueRead = `(e2=H.sub(r,e),x=D[${index.get(map.listWrapper)!}](r,e2,d+1),H.end(r,e2),x.values)`;
        valueDefault = '[]';
      } else if (map.value.kind === 'message') {
        valueRead = decElement(map.value, index, enumIndex, 'e', 'e2');
        valueDefault = `D[${index.get(map.value.message)!}](r,r.pos,d+1)`;
      } else if (map.value.kind === 'timestamp') {
        valueRead = decElement(map.value, index, enumIndex, 'e', 'e2');
        valueDefault = 'undefined';
      } else {
        valueRead = decElement(map.value, index, enumIndex, 'e', 'e2');
        valueDefault = map.value.kind === 'scalar' ? DEFAULT[map.value.scalar] : '0';
      }
      const set = map.container === 'map' ? `${p}.set(k,v)` : `H.setRecord(${p},String(k),v)`;
      cases += `case ${tag(f.number, 2)}:{e=H.sub(r,end);k=${keyDefault};v=undefined;while(r.pos<e){t2=r.uint32();` +
        `switch(t2){case ${tag(1, WIRE[map.key])}:k=${readScalar(map.key)};break;` +
        `case ${tag(2, elementWire(map.value))}:v=${valueRead};break;default:H.skip(r,t2,d);}}H.end(r,e);` +
        `if(v===undefined)v=${valueDefault};${set};break;}`;
      continue;
    }
    const read = decElement(el, index, enumIndex, 'end', 'e');
    const wt = elementWire(el);
    if (f.repeated) {
      cases += `case ${tag(f.number, wt)}:${p}.push(${read});break;`;
      if (wt !== 2) {
        cases += `case ${tag(f.number, 2)}:{e=H.sub(r,end);a=${p};while(r.pos<e)a.push(${read});H.end(r,e);break;}`;
      }
    } else {
      cases += `case ${tag(f.number, wt)}:${p}=${read};break;`;
    }
  }
  return `if(d>=H.MAXD)throw H.depth();var m=new Ki(),t,t2,e,e2,k,v,x,n,a;${init}` +
    `while(r.pos<end){t=r.uint32();switch(t){${cases}default:H.skip(r,t,d);}}return m;`;
}
