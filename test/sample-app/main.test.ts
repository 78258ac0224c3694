import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');

describe('sample-app', () => {
  describe('main', () => {
    it('should register, round-trip an order and refuse bad data, with no services', async () => {
      const { stdout } = await run(process.execPath, ['-r', 'ts-node/register', 'sample-app/main.ts'], {
        cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', WEFT_TRANSPORT: 'memory' }, timeout: 60_000,
      });
      expect(stdout).to.match(/registered shop\.Order v1 as schema [0-9a-f]{32}/);
      expect(stdout).to.contain('decoded: an Order instance, total 12597, 2 items, first line 9998 cents');
      expect(stdout).to.contain('placed 2026-11-25T09:30:00.250Z, note undefined');
      expect(stdout).to.contain('refused on encode [WEFT_VALIDATION_FAILED]: items[0].sku, items[0].quantity');
      expect(stdout).to.contain('refused on decode [WEFT_DECODE_ERROR]');
      expect(stdout).to.match(/task shop\.priceOrder on memory\S*: invoice for ord-1001, 2 lines, 12597 cents \(progress seen: \{"pricing":2\}\)/);
    });
  });
});
