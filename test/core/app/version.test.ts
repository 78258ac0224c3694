import { expect } from 'chai';
import { isValidRange, satisfies } from '../../../core/app/version';

describe('satisfies', () => {
  describe('satisfies', () => {
    const cases: [string, string, boolean][] = [
      ['1.2.3', '1.2.3', true], ['1.2.4', '1.2.3', false], ['1.9.0', '1', true], ['2.0.0', '1.x', false],
      ['1.4.0', '^1.2.0', true], ['2.0.0', '^1.2.0', false], ['0.2.5', '^0.2.1', true], ['0.3.0', '^0.2.1', false],
      ['1.2.9', '~1.2.0', true], ['1.3.0', '~1.2.0', false], ['1.2.0', '>=1.2 <2', true], ['2.0.0', '>=1.2 <2', false],
      ['3.1.0', '1.x || >=3', true], ['5.0.0', '*', true], ['1.2.3-beta.1', '1.2.3', true], ['2.0.0', '>1', true],
      ['1.9.9', '>1', false], ['2.1.5', '<=2.1', true], ['2.2.0', '<=2.1', false],
    ];
    for (const [version, range, want] of cases) {
      it(`should say ${version} ${want ? 'satisfies' : 'does not satisfy'} ${range}`, () => {
        expect(satisfies(version, range)).to.equal(want);
      });
    }

    it('should tell valid ranges from invalid ones', () => {
      expect(isValidRange('^1.2 || 3.x')).to.equal(true);
      expect(isValidRange('latest')).to.equal(false);
    });
  });
});
