import 'reflect-metadata';
import { expect } from 'chai';
import { bootstrap } from '../../core/app/bootstrap';
import { pluginsFromConfig, pluginsFromEnv, transportNameFromEnv } from '../../core/app/catalog';
import { AppErrorCode } from '../../core/app/errors';
import { WeftError } from '../../core/errors';
import { defaultCatalog } from '../../plugins/catalog';
import { MemoryTransport } from '../../plugins/memory/transport';
import { RedisStreamsTransport } from '../../plugins/redis/streams-transport';
import { RedisDispatchStore } from '../../plugins/redis/dispatch-store';
import { DISPATCH_STORE } from '../../core/app/tokens';
import { REDIS_URL, connectTestRedis, deletePrefix, uniquePrefix } from '../helpers/redis';

describe('defaultCatalog', () => {
  describe('pluginsFromEnv', () => {
    it('should choose the memory plugin when nothing is configured', () => {
      const plugins = pluginsFromEnv({}, defaultCatalog());
      expect(plugins.map((p) => p.name)).to.deep.equal(['memory']);
      expect(plugins[0].provides).to.have.members(['transport', 'schemaStore', 'dispatchStore', 'eventLog', 'workflowStore']);
    });

    it('should choose redis for WEFT_TRANSPORT=redis with REDIS_URL, and run on it', async () => {
      const prefix = uniquePrefix('catalog');
      const env = { WEFT_TRANSPORT: 'redis', REDIS_URL, WEFT_PREFIX: prefix };
      const plugins = pluginsFromEnv(env, defaultCatalog());
      expect(plugins.map((p) => p.name)).to.deep.equal(['redis']);
      const app = await bootstrap({ plugins, config: { logLevel: 'silent', env } });
      const transport = app.transport as RedisStreamsTransport;
      expect(transport).to.be.instanceOf(RedisStreamsTransport);
      expect(transport.prefix).to.equal(prefix);
      const dispatch = app.container.resolve<RedisDispatchStore>(DISPATCH_STORE);
      expect(dispatch).to.be.instanceOf(RedisDispatchStore);
      expect(dispatch.prefix).to.equal(prefix);
      expect(dispatch.client, 'the dispatch store shares the plugin\'s connection').to.equal(transport.client);
      await transport.publish('q', [{ a: '1' }]);
      await app.close();
      const admin = await connectTestRedis();
      try {
        expect(await admin.xlen(transport.keys('q').stream)).to.equal(1);
        await deletePrefix(admin, prefix);
      } finally {
        await admin.quit();
      }
    });

    it('should choose redis when only REDIS_URL is set, and memory when WEFT_TRANSPORT=memory says so', () => {
      expect(pluginsFromEnv({ REDIS_URL }, defaultCatalog())[0].name).to.equal('redis');
      expect(pluginsFromEnv({ REDIS_URL, WEFT_TRANSPORT: 'memory' }, defaultCatalog())[0].name).to.equal('memory');
      expect(transportNameFromEnv({ WEFT_TRANSPORT: ' Redis ' }, defaultCatalog())).to.deep.equal({ name: 'redis', source: 'WEFT_TRANSPORT' });
    });

    it('should refuse an unknown name with WEFT_PLUGIN_UNKNOWN listing the known names', () => {
      let caught: unknown;
      try {
        pluginsFromEnv({ WEFT_TRANSPORT: 'kafka' }, defaultCatalog());
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(WeftError);
      const e = caught as WeftError;
      expect(e.code).to.equal(AppErrorCode.PLUGIN_UNKNOWN);
      expect(e.message).to.include('"kafka"').and.include('WEFT_TRANSPORT').and.include('memory, redis');
    });

    it('should bootstrap the memory default through bootstrap({ catalog })', async () => {
      const app = await bootstrap({ catalog: defaultCatalog(), config: { logLevel: 'silent', env: {} } });
      expect(app.transport).to.be.instanceOf(MemoryTransport);
      await app.close();
    });
  });

  describe('pluginsFromConfig', () => {
    it('should pass file options to the entry', () => {
      const [redis] = pluginsFromConfig({ transport: 'redis', options: { url: REDIS_URL, prefix: 'x' }, env: {} }, defaultCatalog());
      expect(redis.name).to.equal('redis');
    });

    it('should refuse an unknown name naming where it came from', () => {
      expect(() => pluginsFromConfig({ transport: 'nope' }, defaultCatalog(), 'weft.json'))
        .to.throw(WeftError, /"nope" \(from weft\.json\)/);
    });
  });
});
