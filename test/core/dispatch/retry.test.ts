import { expect } from 'chai';
import fc from 'fast-check';
import {
  backoffDelay, classifyError, DEFAULT_RETRY_POLICY, FatalError, FINAL_ERROR_CODES, nextAttemptDecision, resolveRetryPolicy,
  RetryableError, type RetryPolicy,
} from '../../../core/dispatch/retry';
import { DispatchErrorCode, RetryPolicyError } from '../../../core/dispatch/errors';
import { DecodeError, ErrorCode, SchemaNotFoundError, ValidationError, WeftError } from '../../../core/errors';
import { RemoteTaskError, RuntimeErrorCode } from '../../../core/runtime/errors';
import { TaskErrorCode } from '../../../core/tasks/errors';
import { EnvelopeError } from '../../../core/tasks/wire';
import { TransportError } from '../../../core/runtime/transport';

const fixed = (r: number) => () => r;

describe('retry', () => {
  describe('resolveRetryPolicy', () => {
    it('should fill in the documented defaults', () => {
      expect(resolveRetryPolicy()).to.deep.equal({ maxAttempts: 3, initialDelayMs: 200, multiplier: 2, maxDelayMs: 30_000, jitter: 'full' });
      expect(resolveRetryPolicy({ maxAttempts: 5, jitter: 'none' })).to.deep.include({ maxAttempts: 5, jitter: 'none', initialDelayMs: 200 });
    });

    it('should treat an explicit undefined as the default', () => {
      expect(resolveRetryPolicy({ maxAttempts: undefined } as unknown as Partial<RetryPolicy>).maxAttempts).to.equal(3);
    });

    const bad: [string, Record<string, unknown>][] = [
      ['maxAttempts', { maxAttempts: 0 }],
      ['maxAttempts', { maxAttempts: 1.5 }],
      ['initialDelayMs', { initialDelayMs: -1 }],
      ['initialDelayMs', { initialDelayMs: Number.NaN }],
      ['multiplier', { multiplier: 0.5 }],
      ['multiplier', { multiplier: Number.POSITIVE_INFINITY }],
      ['maxDelayMs', { maxDelayMs: 100, initialDelayMs: 200 }],
      ['jitter', { jitter: 'half' }],
      ['maxAttempt', { maxAttempt: 3 }],
    ];
    for (const [option, partial] of bad) {
      it(`should refuse ${JSON.stringify(partial)} with WEFT_RETRY_POLICY_INVALID naming ${option}`, () => {
        try {
          resolveRetryPolicy(partial as Partial<RetryPolicy>);
          expect.fail('should have thrown');
        } catch (e) {
          expect(e).to.be.instanceOf(RetryPolicyError);
          expect((e as RetryPolicyError).code).to.equal('WEFT_RETRY_POLICY_INVALID');
          expect((e as RetryPolicyError).option).to.equal(option);
          expect((e as Error).message).to.contain(option);
        }
      });
    }

    it('should say how to fix a cap below the first delay', () => {
      expect(() => resolveRetryPolicy({ maxDelayMs: 10, initialDelayMs: 20 })).to.throw(/raise maxDelayMs or lower initialDelayMs/);
    });
  });

  describe('backoffDelay', () => {
    const none = resolveRetryPolicy({ jitter: 'none', initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000 });

    it('should grow exponentially from initialDelayMs and stop at maxDelayMs without jitter', () => {
      expect([0, 1, 2, 3, 4, 5, 60, 5000].map((a) => backoffDelay(none, a))).to.deep.equal([100, 200, 400, 800, 1000, 1000, 1000, 1000]);
    });

    it('should give 0 for a zero initial delay at any attempt', () => {
      const zero = resolveRetryPolicy({ initialDelayMs: 0, jitter: 'none' });
      expect(backoffDelay(zero, 0)).to.equal(0);
      expect(backoffDelay(zero, 10_000)).to.equal(0);
    });

    it('should be deterministic for an injected random', () => {
      const full = resolveRetryPolicy({ jitter: 'full', initialDelayMs: 100, maxDelayMs: 1000 });
      const equal = resolveRetryPolicy({ jitter: 'equal', initialDelayMs: 100, maxDelayMs: 1000 });
      expect(backoffDelay(full, 2, fixed(0.5))).to.equal(200);
      expect(backoffDelay(full, 2, fixed(0))).to.equal(0);
      expect(backoffDelay(equal, 2, fixed(0))).to.equal(200);
      expect(backoffDelay(equal, 2, fixed(0.5))).to.equal(300);
      expect(backoffDelay(full, 3, fixed(0.25))).to.equal(200, '0.25 of min(1000, 100 * 2^3)');
    });

    it('should keep every jittered delay within its bounds', () => {
      fc.assert(fc.property(
        fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 50_000 }), fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 0, max: 200 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('full', 'equal', 'none'),
        (initialDelayMs, extra, multiplier, attempt, r, jitter) => {
          const p = resolveRetryPolicy({ initialDelayMs, maxDelayMs: initialDelayMs + extra, multiplier, jitter: jitter as RetryPolicy['jitter'] });
          const base = Math.min(p.maxDelayMs, initialDelayMs * multiplier ** attempt);
          const d = backoffDelay(p, attempt, fixed(r));
          expect(Number.isInteger(d)).to.equal(true);
          expect(d).to.be.at.most(p.maxDelayMs);
          if (jitter === 'none') expect(d).to.equal(Math.floor(base));
          if (jitter === 'full') expect(d).to.be.within(0, base);
          if (jitter === 'equal') expect(d).to.be.within(Math.floor(base / 2), base);
        }), { numRuns: 300 });
    });

    it('should clamp a random outside [0, 1]', () => {
      const full = resolveRetryPolicy({ jitter: 'full', initialDelayMs: 100 });
      expect(backoffDelay(full, 0, fixed(7))).to.equal(100);
      expect(backoffDelay(full, 0, fixed(-1))).to.equal(0);
    });

    it('should refuse a negative or fractional attempt', () => {
      expect(() => backoffDelay(none, -1)).to.throw(WeftError).with.property('code', 'WEFT_DISPATCH_ARGUMENT_INVALID');
      expect(() => backoffDelay(none, 0.5)).to.throw(WeftError).with.property('code', 'WEFT_DISPATCH_ARGUMENT_INVALID');
    });
  });

  describe('RetryableError', () => {
    it('should default its code to WEFT_TASK_RETRYABLE and accept a code of its own', () => {
      expect(new RetryableError('busy').code).to.equal('WEFT_TASK_RETRYABLE');
      const own = new RetryableError('down', { code: 'SHOP_DOWN', cause: new Error('503') });
      expect(own.code).to.equal('SHOP_DOWN');
      expect(own).to.be.instanceOf(WeftError);
      expect(own.name).to.equal('RetryableError');
      expect((own.cause as Error).message).to.equal('503');
    });
  });

  describe('FatalError', () => {
    it('should carry WEFT_TASK_FATAL', () => {
      const e = new FatalError('no customer');
      expect(e.code).to.equal(DispatchErrorCode.TASK_FATAL).and.equal('WEFT_TASK_FATAL');
      expect(e).to.be.instanceOf(WeftError);
      expect(e.name).to.equal('FatalError');
    });
  });

  describe('FINAL_ERROR_CODES', () => {
    it('should reuse the codes core defines', () => {
      expect(FINAL_ERROR_CODES).to.include.members([
        'WEFT_TASK_FATAL', ErrorCode.VALIDATION_FAILED, ErrorCode.DECODE_ERROR, ErrorCode.PAYLOAD_TOO_LARGE, 'WEFT_ENVELOPE_INVALID',
        ErrorCode.SCHEMA_NOT_FOUND, ErrorCode.SCHEMA_CORRUPT, RuntimeErrorCode.SCHEMA_TYPE_MISMATCH, RuntimeErrorCode.DEADLINE_EXCEEDED,
        TaskErrorCode.TASK_UNKNOWN, TaskErrorCode.MODULE_NOT_ALLOWED, TaskErrorCode.MODULE_NOT_FOUND, TaskErrorCode.STRATEGY_MISMATCH,
      ]);
      expect(new Set(FINAL_ERROR_CODES).size).to.equal(FINAL_ERROR_CODES.length);
      expect(Object.isFrozen(FINAL_ERROR_CODES)).to.equal(true);
    });
  });

  describe('classifyError', () => {
    const table: [string, unknown, 'retryable' | 'final'][] = [
      ['a FatalError', new FatalError('x'), 'final'],
      ['a RetryableError', new RetryableError('x'), 'retryable'],
      ['a RetryableError with its own code', new RetryableError('x', { code: 'MY_CODE' }), 'retryable'],
      ['a RetryableError with a final code', new RetryableError('x', { code: 'WEFT_DECODE_ERROR' }), 'final'],
      ['a ValidationError', new ValidationError('shop.Order', 'decode', []), 'final'],
      ['a DecodeError', new DecodeError('bad bytes'), 'final'],
      ['a payload over the limit', new DecodeError('big', { code: ErrorCode.PAYLOAD_TOO_LARGE }), 'final'],
      ['an EnvelopeError', new EnvelopeError('no schema_id'), 'final'],
      ['a SchemaNotFoundError', new SchemaNotFoundError('abcd'), 'final'],
      ['a deadline error', new WeftError(RuntimeErrorCode.DEADLINE_EXCEEDED, 'late'), 'final'],
      ['a module refusal', new WeftError(TaskErrorCode.MODULE_NOT_ALLOWED, 'no'), 'final'],
      ['a remote fatal error (code kept across the wire)', new RemoteTaskError('WEFT_TASK_FATAL', 'x', 't@1', 'e'), 'final'],
      ['a remote plain failure', new RemoteTaskError('', 'boom', 't@1', 'e'), 'retryable'],
      ['an error with retryable: false', Object.assign(new Error('x'), { retryable: false }), 'final'],
      ['an error with retryable: true', Object.assign(new Error('x'), { retryable: true }), 'retryable'],
      ['an error with a non-boolean retryable', Object.assign(new Error('x'), { retryable: 'no' }), 'retryable'],
      ['a final code with retryable: true', Object.assign(new Error('x'), { code: 'WEFT_SCHEMA_CORRUPT', retryable: true }), 'final'],
      ['a plain Error', new Error('boom'), 'retryable'],
      ['a TransportError', new TransportError('connection reset'), 'retryable'],
      ['a thrown string', 'boom', 'retryable'],
      ['undefined', undefined, 'retryable'],
      ['null', null, 'retryable'],
    ];
    for (const [what, error, expected] of table) {
      it(`should classify ${what} as ${expected}`, () => {
        expect(classifyError(error)).to.equal(expected);
      });
    }
  });

  describe('nextAttemptDecision', () => {
    const policy = resolveRetryPolicy({ maxAttempts: 3, initialDelayMs: 100, jitter: 'none' });
    const base = { policy, error: new Error('flaky'), nowMs: 1_000_000 };

    it('should retry a retryable error with attempt + 1 and the backoff delay', () => {
      expect(nextAttemptDecision({ ...base, attempt: 0 })).to.deep.equal({ action: 'retry', attempt: 1, delayMs: 100, notBeforeMs: 1_000_100 });
      expect(nextAttemptDecision({ ...base, attempt: 1 })).to.deep.equal({ action: 'retry', attempt: 2, delayMs: 200, notBeforeMs: 1_000_200 });
    });

    it('should pass the injected random to the backoff', () => {
      const full = resolveRetryPolicy({ initialDelayMs: 100, jitter: 'full' });
      expect(nextAttemptDecision({ ...base, policy: full, attempt: 0, random: fixed(0.5) })).to.include({ delayMs: 50, notBeforeMs: 1_000_050 });
    });

    it('should fail as exhausted once maxAttempts attempts have been made', () => {
      expect(nextAttemptDecision({ ...base, attempt: 2 })).to.deep.equal({ action: 'fail', reason: 'exhausted' });
      expect(nextAttemptDecision({ ...base, policy: resolveRetryPolicy({ maxAttempts: 1 }), attempt: 0 })).to.deep.equal({ action: 'fail', reason: 'exhausted' });
    });

    it('should fail as fatal for a final error, even with attempts left', () => {
      expect(nextAttemptDecision({ ...base, attempt: 0, error: new FatalError('x') })).to.deep.equal({ action: 'fail', reason: 'fatal' });
      expect(nextAttemptDecision({ ...base, attempt: 2, error: new DecodeError('x') })).to.deep.equal({ action: 'fail', reason: 'fatal' });
    });

    it('should fail as deadline when the error is WEFT_DEADLINE_EXCEEDED', () => {
      const late = new WeftError(RuntimeErrorCode.DEADLINE_EXCEEDED, 'late');
      expect(nextAttemptDecision({ ...base, attempt: 0, error: late })).to.deep.equal({ action: 'fail', reason: 'deadline' });
    });

    it('should retry only when the retry starts strictly before the deadline', () => {
      expect(nextAttemptDecision({ ...base, attempt: 0, deadlineMs: 1_000_101 })).to.include({ action: 'retry', notBeforeMs: 1_000_100 });
      expect(nextAttemptDecision({ ...base, attempt: 0, deadlineMs: 1_000_100 })).to.deep.equal({ action: 'fail', reason: 'deadline' });
      expect(nextAttemptDecision({ ...base, attempt: 0, deadlineMs: 999_000 })).to.deep.equal({ action: 'fail', reason: 'deadline' });
    });

    it('should use the default policy as given by resolveRetryPolicy', () => {
      const d = nextAttemptDecision({ policy: DEFAULT_RETRY_POLICY, attempt: 0, error: new Error('x'), nowMs: 0, random: fixed(1) });
      expect(d).to.deep.equal({ action: 'retry', attempt: 1, delayMs: 200, notBeforeMs: 200 });
    });

    it('should refuse a bad attempt or deadline', () => {
      expect(() => nextAttemptDecision({ ...base, attempt: -1 })).to.throw(WeftError);
      expect(() => nextAttemptDecision({ ...base, attempt: 0, deadlineMs: Number.NaN })).to.throw(WeftError);
    });
  });
});
