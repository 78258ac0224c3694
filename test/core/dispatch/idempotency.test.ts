import { expect } from 'chai';
import fc from 'fast-check';
import { DispatchErrorCode, DispatchKeyError } from '../../../core/dispatch/errors';
import { idempotencyKey, isIdempotencyKey, IDEMPOTENCY_KEY_HEX_LENGTH } from '../../../core/dispatch/idempotency';

function thrown(fn: () => unknown): unknown {
  try { fn(); } catch (e) { return e; }
  throw new Error('expected a throw');
}

// Golden values computed outside Node, with `printf '<bytes>' | sha256sum | cut -c1-32`, from the
// documented rule: sha256("weft.idempotency.v1\n" + "<len>:<utf8>" for each part), first 32 hex.
const GOLDEN = [
  { input: { pipeline: 'shop.orders', step: 'extract', businessKey: 'order-1', lineageIndex: 0 }, key: '6f1952e433075101bc493749d8f4cff9' },
  { input: { pipeline: 'a', step: 'bc', businessKey: 'x', lineageIndex: 0 }, key: '828e6a02f19d20eb21f5040c80c5f07a' },
  { input: { pipeline: 'ab', step: 'c', businessKey: 'x', lineageIndex: 0 }, key: 'a3e3e08eb4fee8a1d870a98f371098ad' },
  { input: { pipeline: 'pé', step: '€', businessKey: 'ké', lineageIndex: 12 }, key: 'f01129b76a624226cd4defbbf5887516' },
];

describe('idempotencyKey', () => {
  describe('idempotencyKey', () => {
    it('should match the documented rule on golden inputs', () => {
      for (const g of GOLDEN) expect(idempotencyKey(g.input), JSON.stringify(g.input)).to.equal(g.key);
    });

    it('should be deterministic and 32 lowercase hex digits', () => {
      const input = { pipeline: 'p', step: 's', businessKey: 'b', lineageIndex: 3 };
      const a = idempotencyKey(input);
      expect(a).to.match(/^[0-9a-f]{32}$/).and.have.length(IDEMPOTENCY_KEY_HEX_LENGTH);
      expect(idempotencyKey({ ...input })).to.equal(a);
      expect(isIdempotencyKey(a)).to.equal(true);
    });

    it('should not confuse parts whose concatenations are equal', () => {
      const keys = new Set([
        idempotencyKey({ pipeline: 'a', step: 'bc', businessKey: 'd', lineageIndex: 1 }),
        idempotencyKey({ pipeline: 'ab', step: 'c', businessKey: 'd', lineageIndex: 1 }),
        idempotencyKey({ pipeline: 'a', step: 'b', businessKey: 'cd', lineageIndex: 1 }),
        idempotencyKey({ pipeline: 'a', step: 'b', businessKey: 'c', lineageIndex: 11 }),
        idempotencyKey({ pipeline: 'a', step: 'b', businessKey: 'c1', lineageIndex: 1 }),
        idempotencyKey({ pipeline: '1:a', step: 'b', businessKey: 'c', lineageIndex: 1 }),
      ]);
      expect(keys.size).to.equal(6);
    });

    it('should give different keys to different tuples whose parts concatenate to the same text', () => {
      const part = fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' });
      fc.assert(fc.property(part, part, part, fc.nat({ max: 1000 }), (a, b, c, n) => {
        const joined = a + b + c;
        // Re-split the same text at other points: every distinct split must give a distinct key.
        const seen = new Map<string, string>();
        for (let i = 1; i < joined.length - 1; i++) {
          for (let j = i + 1; j < joined.length; j++) {
            const parts = [joined.slice(0, i), joined.slice(i, j), joined.slice(j)];
            if (parts.some((p) => /[\uD800-\uDFFF]/u.test(p))) continue; // a split inside a surrogate pair
            const k = idempotencyKey({ pipeline: parts[0]!, step: parts[1]!, businessKey: parts[2]!, lineageIndex: n });
            const id = JSON.stringify(parts);
            expect(seen.has(k) ? seen.get(k) : id).to.equal(id);
            seen.set(k, id);
          }
        }
      }), { numRuns: 200 });
    });

    it('should change with every part', () => {
      const base = { pipeline: 'p', step: 's', businessKey: 'b', lineageIndex: 0 };
      const k = idempotencyKey(base);
      expect(idempotencyKey({ ...base, pipeline: 'q' })).to.not.equal(k);
      expect(idempotencyKey({ ...base, step: 't' })).to.not.equal(k);
      expect(idempotencyKey({ ...base, businessKey: 'c' })).to.not.equal(k);
      expect(idempotencyKey({ ...base, lineageIndex: 1 })).to.not.equal(k);
    });

    it('should hash strings exactly as given, without normalizing them', () => {
      const base = { pipeline: 'p', step: 's', lineageIndex: 0 };
      expect(idempotencyKey({ ...base, businessKey: 'é' })).to.not.equal(idempotencyKey({ ...base, businessKey: 'e\u0301' }));
      expect(idempotencyKey({ ...base, businessKey: 'A' })).to.not.equal(idempotencyKey({ ...base, businessKey: 'a' }));
      expect(idempotencyKey({ ...base, businessKey: ' a' })).to.not.equal(idempotencyKey({ ...base, businessKey: 'a' }));
    });

    it('should accept the largest safe lineage index', () => {
      expect(isIdempotencyKey(idempotencyKey({ pipeline: 'p', step: 's', businessKey: 'b', lineageIndex: Number.MAX_SAFE_INTEGER }))).to.equal(true);
    });

    it('should refuse empty or non-string parts with a coded error naming the part', () => {
      const base = { pipeline: 'p', step: 's', businessKey: 'b', lineageIndex: 0 };
      for (const [part, value] of [['pipeline', ''], ['step', 7], ['businessKey', undefined], ['businessKey', null]] as const) {
        const err = thrown(() => idempotencyKey({ ...base, [part]: value } as never));
        expect(err).to.be.instanceOf(DispatchKeyError);
        expect((err as DispatchKeyError).code).to.equal(DispatchErrorCode.KEY_INVALID).and.equal('WEFT_DISPATCH_KEY_INVALID');
        expect((err as DispatchKeyError).part).to.equal(part);
      }
    });

    it('should refuse a lineage index that is not a non-negative safe integer', () => {
      const base = { pipeline: 'p', step: 's', businessKey: 'b' };
      for (const bad of [-1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1, '0', undefined]) {
        const err = thrown(() => idempotencyKey({ ...base, lineageIndex: bad } as never));
        expect(err, String(bad)).to.be.instanceOf(DispatchKeyError);
        expect((err as DispatchKeyError).part).to.equal('lineageIndex');
      }
    });

    it('should refuse strings with an unpaired surrogate, which UTF-8 cannot carry', () => {
      const err = thrown(() => idempotencyKey({ pipeline: 'p', step: 's', businessKey: 'a\uD800b', lineageIndex: 0 }));
      expect((err as DispatchKeyError).code).to.equal('WEFT_DISPATCH_KEY_INVALID');
      // A proper pair is fine.
      expect(isIdempotencyKey(idempotencyKey({ pipeline: 'p', step: 's', businessKey: '\uD83D\uDE00', lineageIndex: 0 }))).to.equal(true);
    });

    it('should refuse a missing input object', () => {
      expect(thrown(() => idempotencyKey(undefined as never))).to.be.instanceOf(DispatchKeyError);
    });
  });

  describe('isIdempotencyKey', () => {
    it('should only accept 32 lowercase hex digits', () => {
      expect(isIdempotencyKey('0'.repeat(32))).to.equal(true);
      expect(isIdempotencyKey('A'.repeat(32))).to.equal(false);
      expect(isIdempotencyKey('0'.repeat(31))).to.equal(false);
      expect(isIdempotencyKey(42)).to.equal(false);
    });
  });
});
