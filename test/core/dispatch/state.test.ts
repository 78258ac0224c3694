import { expect } from 'chai';
import {
  assertTransition, canTransition, DISPATCH_STATES, DISPATCH_TRANSITIONS, DispatchState, IllegalTransitionError,
  isDispatchState, isTerminalState, NON_TERMINAL_STATES, TERMINAL_STATES,
} from '../../../core/dispatch/state';
import { DispatchErrorCode } from '../../../core/dispatch/errors';

const ALLOWED = [
  'PENDING>SENT', 'SENT>ACKED', 'SENT>FAILED_RETRYABLE', 'SENT>FAILED_FINAL', 'FAILED_RETRYABLE>SENT',
  'PENDING>FAILED_FINAL', 'FAILED_RETRYABLE>FAILED_FINAL', 'FAILED_FINAL>SENT',
];

describe('dispatch state machine', () => {
  describe('DispatchState', () => {
    it('should list the five seed-002 states', () => {
      expect(DISPATCH_STATES).to.deep.equal(['PENDING', 'SENT', 'ACKED', 'FAILED_RETRYABLE', 'FAILED_FINAL']);
      expect(Object.values(DispatchState)).to.have.members([...DISPATCH_STATES]);
    });

    it('should split states into terminal and non-terminal', () => {
      expect(TERMINAL_STATES).to.deep.equal(['ACKED', 'FAILED_FINAL']);
      expect(NON_TERMINAL_STATES).to.deep.equal(['PENDING', 'SENT', 'FAILED_RETRYABLE']);
      for (const s of DISPATCH_STATES) expect(isTerminalState(s)).to.equal(TERMINAL_STATES.includes(s));
    });
  });

  describe('isDispatchState', () => {
    it('should accept only the state strings', () => {
      expect(isDispatchState('SENT')).to.equal(true);
      expect(isDispatchState('sent')).to.equal(false);
      expect(isDispatchState(undefined)).to.equal(false);
    });
  });

  describe('canTransition', () => {
    it('should allow exactly the documented edges', () => {
      for (const from of DISPATCH_STATES) {
        for (const to of DISPATCH_STATES) {
          expect(canTransition(from, to), `${from} -> ${to}`).to.equal(ALLOWED.includes(`${from}>${to}`));
        }
      }
      expect(DISPATCH_TRANSITIONS.map((r) => `${r.from}>${r.to}`)).to.have.members(ALLOWED);
    });

    it('should mark which edges come from seed 002', () => {
      const weft = DISPATCH_TRANSITIONS.filter((r) => r.source === 'weft').map((r) => `${r.from}>${r.to}`);
      expect(weft).to.have.members(['PENDING>FAILED_FINAL', 'FAILED_RETRYABLE>FAILED_FINAL', 'FAILED_FINAL>SENT']);
    });

    it('should never leave ACKED, and leave FAILED_FINAL only for a replay (to SENT)', () => {
      for (const from of TERMINAL_STATES) {
        for (const to of DISPATCH_STATES) expect(canTransition(from, to)).to.equal(from === 'FAILED_FINAL' && to === 'SENT');
      }
    });

    it('should refuse self loops and unknown states', () => {
      for (const s of DISPATCH_STATES) expect(canTransition(s, s)).to.equal(false);
      expect(canTransition('BOGUS' as DispatchState, 'SENT')).to.equal(false);
      expect(canTransition('PENDING', 'BOGUS' as DispatchState)).to.equal(false);
    });
  });

  describe('assertTransition', () => {
    it('should pass for an allowed edge', () => {
      expect(() => assertTransition('SENT', 'ACKED')).to.not.throw();
    });

    it('should throw a coded error naming the record, from and to', () => {
      const key = { executionId: 'exec-1', stepId: 'extract', idempotencyKey: 'k1' };
      let err: unknown;
      try { assertTransition('ACKED', 'SENT', key); } catch (e) { err = e; }
      expect(err).to.be.instanceOf(IllegalTransitionError);
      const e = err as IllegalTransitionError;
      expect(e.code).to.equal(DispatchErrorCode.ILLEGAL_TRANSITION).and.equal('WEFT_DISPATCH_ILLEGAL_TRANSITION');
      expect(e.name).to.equal('IllegalTransitionError');
      expect(e.from).to.equal('ACKED');
      expect(e.to).to.equal('SENT');
      expect(e.key).to.deep.equal(key);
      expect(e.message).to.contain('ACKED -> SENT').and.contain('"exec-1"').and.contain('"extract"').and.contain('"k1"');
    });

    it('should throw for PENDING -> ACKED (nothing was sent)', () => {
      expect(() => assertTransition('PENDING', 'ACKED')).to.throw(IllegalTransitionError, 'PENDING -> ACKED');
    });
  });
});
