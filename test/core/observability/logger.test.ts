import { expect } from 'chai';
import { Writable } from 'node:stream';
import { AppErrorCode } from '../../../core/app/errors';
import { WeftError } from '../../../core/errors';
import { createLogger, resolveLogLevel } from '../../../core/observability/logger';

describe('createLogger', () => {
  describe('resolveLogLevel', () => {
    it('should prefer the explicit level, then WEFT_LOG_LEVEL, then silent under NODE_ENV=test, then info', () => {
      expect(resolveLogLevel({ level: 'warn', env: { WEFT_LOG_LEVEL: 'debug' } })).to.equal('warn');
      expect(resolveLogLevel({ env: { WEFT_LOG_LEVEL: 'DEBUG', NODE_ENV: 'test' } })).to.equal('debug');
      expect(resolveLogLevel({ env: { NODE_ENV: 'test' } })).to.equal('silent');
      expect(resolveLogLevel({ env: {} })).to.equal('info');
    });

    it('should refuse an unknown level with WEFT_CONFIG_INVALID', () => {
      expect(() => resolveLogLevel({ env: { WEFT_LOG_LEVEL: 'loud' } })).to.throw(WeftError)
        .with.property('code', AppErrorCode.CONFIG_INVALID);
    });
  });

  describe('createLogger', () => {
    it('should write JSON lines with the name at the chosen level', () => {
      const lines: string[] = [];
      const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
      const log = createLogger({ name: 'etl', env: { WEFT_LOG_LEVEL: 'warn' }, destination: sink });
      log.info('hidden');
      log.warn({ queue: 'q' }, 'shown');
      expect(lines).to.have.length(1);
      expect(JSON.parse(lines[0])).to.include({ name: 'etl', msg: 'shown', queue: 'q' });
    });
  });
});
