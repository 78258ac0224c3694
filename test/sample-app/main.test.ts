import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type Redis from 'ioredis';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');

/** `npm start`'s program, as `npm start` runs it (transpile-only), with `env` on top of ours. */
function start(env: Record<string, string | undefined>): Promise<{ stdout: string; stderr: string }> {
  const merged: NodeJS.ProcessEnv = { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return run(process.execPath, ['-r', 'ts-node/register', 'sample-app/main.ts'], { cwd: ROOT, env: merged, timeout: 60_000 });
}

/** The numbers after `pid ` in a line. */
function pids(line: string | undefined): number[] {
  return [...(line ?? '').matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function lineStarting(stdout: string, prefix: string): string | undefined {
  return stdout.split('\n').find((l) => l.startsWith(prefix));
}

describe('sample-app', function () {
  this.timeout(60_000);

  describe('main, embedded', () => {
    it('should register, round-trip an order and refuse bad data, with no services', async () => {
      const { stdout } = await start({ WEFT_TRANSPORT: 'memory', SAMPLE_ORDERS: '8' });
      expect(stdout).to.match(/registered demo\.Order v1 as schema [0-9a-f]{32}/);
      expect(stdout).to.contain('decoded: an Order instance, total 12597, 2 items, first line 9998 cents');
      expect(stdout).to.contain('placed 2026-11-25T09:30:00.250Z, note undefined');
      expect(stdout).to.contain('refused on encode [WEFT_VALIDATION_FAILED]: items[0].sku, items[0].quantity');
      expect(stdout).to.contain('refused on decode [WEFT_DECODE_ERROR]');
      expect(stdout).to.match(/task demo\.priceOrder on memory\S*: invoice for ord-1001, 2 lines, 12597 cents \(progress seen: \{"percent":50,"message":"pricing 2 items"\}\)/);

      // The flow ran in this one process (worker and orchestrator), its events became progress
      // lines, and the summary came after the flow's end.
      const mainPid = pids(lineStarting(stdout, 'mode: embedded'))[0];
      expect(mainPid).to.be.a('number');
      expect(stdout).to.contain('flow orders: batch ');
      expect(stdout).to.match(/^ {2}ingest +started$/m);
      expect(stdout).to.match(/ingest +0% reading batch/);
      expect(stdout).to.match(/^ {2}enrich #7 +started$/m);
      expect(stdout).to.match(/enrich #7 +50% \S+-008: priced \d lines? in [A-Z]{3}$/m);
      expect(stdout).to.match(/^ {2}enrich #7 +done$/m);
      expect(stdout).to.match(/report +100% report ready/);
      expect(stdout.indexOf('  flow orders completed')).to.be.greaterThan(stdout.indexOf('  report     done'));
      expect(stdout.indexOf('== report for batch')).to.be.greaterThan(stdout.indexOf('  flow orders completed'));
      expect(stdout).to.match(/^orders: 8, lines: \d+, units: \d+$/m);
      expect(stdout).to.match(/^revenue by currency: [A-Z]{3} [\d,]+\.\d\d/m);
      expect(stdout).to.match(/^top SKUs: 1\. \S+ /m);
      expect(stdout).to.match(/^orders by country: [A-Z]{2} \d/m);
      expect(pids(lineStarting(stdout, 'enriched by:'))).to.deep.equal([mainPid]);
      expect(pids(lineStarting(stdout, 'ingested by'))).to.deep.equal([mainPid]);
      expect(stdout).to.contain('(8 orders)');
    });
  });

  describe('main, distributed over Redis', () => {
    let redis: Redis;
    let prefix: string;

    before(async () => {
      redis = await connectTestRedis();
    });
    beforeEach(() => {
      prefix = uniquePrefix(`sample:${process.pid}`);
    });
    afterEach(async () => {
      await deletePrefix(redis, prefix);
    });
    after(async () => {
      await redis.quit();
    });

    it('should spawn its own worker processes, have them do the work, stop them and exit 0', async () => {
      const { stdout } = await start({ REDIS_URL, WEFT_PREFIX: prefix, WEFT_TRANSPORT: undefined, SAMPLE_ORDERS: '6', SAMPLE_WORKERS: '2' });
      const mainPid = pids(lineStarting(stdout, 'mode: distributed'))[0];
      const spawned = pids(lineStarting(stdout, 'spawned 2 worker processes'));
      expect(spawned).to.have.length(2);
      expect(spawned).not.to.include(mainPid);

      // Every step ran in a spawned worker, none in this process; this one printed the flow's events.
      expect(stdout).to.match(/^ {2}enrich #5 +done$/m);
      expect(stdout).to.contain('  flow orders completed');
      const enrichers = pids(lineStarting(stdout, 'enriched by:'));
      expect(enrichers.length).to.be.within(1, 2);
      for (const pid of enrichers) expect(spawned).to.include(pid);
      expect(spawned).to.include(pids(lineStarting(stdout, 'ingested by'))[0]);
      expect(spawned).to.include(pids(lineStarting(stdout, 'report built by'))[0]);
      expect(stdout).to.match(/^orders: 6, /m);
      expect(stdout).to.contain('stopped the spawned workers (exit codes 0, 0)');

      // The queue streams keep what went through (not deleted), and their consumers are the workers.
      const enrichStream = `${prefix}:{orders.enrich}:stream`;
      expect(stdout).to.contain(`${enrichStream} 6`);
      expect(stdout).to.contain(`XRANGE '${enrichStream}'`);
      expect(await redis.xlen(enrichStream)).to.equal(6);
      expect(await redis.xlen(`${prefix}:{orders.ingest}:stream`)).to.equal(1);
      expect(await redis.xlen(`${prefix}:{orders.report}:stream`)).to.equal(1);
      const consumers = (await redis.xinfo('CONSUMERS', enrichStream, 'weft')) as unknown[][];
      const consumerPids = consumers.map((c) => String(c[c.indexOf('name') + 1])).map((name) => Number(name.split('-').at(-2)));
      for (const pid of consumerPids) expect(spawned).to.include(pid);
      const groups = (await redis.xinfo('GROUPS', enrichStream)) as unknown[][];
      const pending = Number(groups[0]![groups[0]!.indexOf('pending') + 1]);
      expect(pending).to.equal(0);

      // The orchestrators were the workers' (this process ran none), and left nothing pending.
      const flowsStream = `${prefix}:{weft.flows}:stream`;
      expect(stdout).to.match(new RegExp(`${escape(flowsStream)} \\d+`));
      const orchestrators = (await redis.xinfo('CONSUMERS', flowsStream, 'orchestrators')) as unknown[][];
      expect(orchestrators.length).to.be.within(1, 2);
      for (const c of orchestrators) expect(spawned).to.include(Number(String(c[c.indexOf('name') + 1]).split('-').at(-2)));
      const flowGroups = (await redis.xinfo('GROUPS', flowsStream)) as unknown[][];
      expect(Number(flowGroups[0]![flowGroups[0]!.indexOf('pending') + 1])).to.equal(0);
      // The flow's event stream is named, and kept.
      const executionId = /execution ([0-9a-f]+)/.exec(stdout)?.[1];
      const eventsKey = `${prefix}:events:{events.${executionId}}`;
      expect(stdout).to.contain(`XRANGE '${eventsKey}'`);
      expect(await redis.xlen(eventsKey)).to.be.greaterThan(6 * 2);
    });
  });

  describe('worker', () => {
    it('should refuse to start without REDIS_URL, saying what to set', async () => {
      const err = await run(process.execPath, ['-r', 'ts-node/register', 'sample-app/worker.ts'], {
        cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', WEFT_TRANSPORT: 'memory' }, timeout: 30_000,
      }).then(() => undefined, (e: unknown) => e as { code?: number; stderr?: string });
      expect(err?.code).to.equal(1);
      expect(err?.stderr).to.contain('set REDIS_URL');
    });
  });
});
