import { expect } from 'chai';
import { childDeadline, isExpired, remainingMs } from '../../../core/dispatch/deadline';
import { DispatchArgumentError } from '../../../core/dispatch/errors';

describe('deadline', () => {
  describe('childDeadline', () => {
    it('should take the earlier of the parent deadline and the requested one', () => {
      expect(childDeadline(1000, 2000)).to.equal(1000);
      expect(childDeadline(2000, 1000)).to.equal(1000);
    });

    it('should never extend the parent deadline', () => {
      for (const requested of [0, 999, 1000, 1001, 10_000_000]) expect(childDeadline(1000, requested)).to.be.at.most(1000);
    });

    it('should use whichever one exists, and none when neither does', () => {
      expect(childDeadline(undefined, 500)).to.equal(500);
      expect(childDeadline(500, undefined)).to.equal(500);
      expect(childDeadline()).to.equal(undefined);
    });

    it('should refuse a value that is not an absolute epoch-ms integer', () => {
      expect(() => childDeadline(-1, 5)).to.throw(DispatchArgumentError).with.property('code', 'WEFT_DISPATCH_ARGUMENT_INVALID');
      expect(() => childDeadline(5, 1.5)).to.throw(DispatchArgumentError);
      expect(() => childDeadline('5' as unknown as number)).to.throw(DispatchArgumentError);
    });
  });

  describe('isExpired', () => {
    it('should be expired from the deadline on', () => {
      expect(isExpired(1000, 999)).to.equal(false);
      expect(isExpired(1000, 1000)).to.equal(true);
      expect(isExpired(1000, 1001)).to.equal(true);
    });

    it('should never expire without a deadline', () => {
      expect(isExpired(undefined, Number.MAX_SAFE_INTEGER)).to.equal(false);
    });

    it('should refuse a non-finite now', () => {
      expect(() => isExpired(1000, Number.NaN)).to.throw(DispatchArgumentError);
    });
  });

  describe('remainingMs', () => {
    it('should count down to 0 and never go negative', () => {
      expect(remainingMs(1000, 400)).to.equal(600);
      expect(remainingMs(1000, 1000)).to.equal(0);
      expect(remainingMs(1000, 5000)).to.equal(0);
    });

    it('should be Infinity without a deadline', () => {
      expect(remainingMs(undefined, 0)).to.equal(Number.POSITIVE_INFINITY);
    });
  });
});
