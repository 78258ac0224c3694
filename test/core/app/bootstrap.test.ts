import 'reflect-metadata';
import { expect } from 'chai';
import type Redis from 'ioredis';
import { container as rootContainer, inject, injectAll } from 'tsyringe';
import type { Logger } from 'pino';
import { bootstrap, WeftApp } from '../../../core/app/bootstrap';
import type { WeftConfig } from '../../../core/app/config';
import { AppErrorCode } from '../../../core/app/errors';
import type { Plugin, PluginContext } from '../../../core/app/plugin';
import {
  LOGGER, PORTS, SCHEMA_STORE, TASK_CONTEXT, TASK_RESOLVERS, TRANSPORT, WEFT_CONFIG, type PortName,
} from '../../../core/app/tokens';
import { validatePlugins } from '../../../core/app/validate';
import { createLogger } from '../../../core/observability/logger';
import { WeftError } from '../../../core/errors';
import type { Transport } from '../../../core/runtime/transport';
import { MemorySchemaStore } from '../../../plugins/memory/schema-store';
import { MemoryTransport } from '../../../plugins/memory/transport';
import { MemoryDispatchStore } from '../../../plugins/memory/dispatch-store';
import { memoryPlugin } from '../../../plugins/memory/plugin';
import { RedisSchemaStore } from '../../../plugins/redis/schema-store';
import { RedisStreamsTransport } from '../../../plugins/redis/streams-transport';
import { redisPlugin } from '../../../plugins/redis/plugin';
import { REDIS_URL, connectTestRedis, deletePrefix, uniquePrefix } from '../../helpers/redis';

const quiet: WeftConfig = { logLevel: 'silent' };

/** A plugin that registers a placeholder object for each port it provides and records its lifecycle. */
function fake(name: string, provides: PortName[], extra: Partial<Plugin> = {}, events?: string[]): Plugin {
  return {
    name,
    provides,
    register(c) {
      events?.push(`register ${name}`);
      for (const port of provides) {
        if (port === 'logger') c.registerInstance(LOGGER, createLogger({ level: 'silent' }));
        else c.registerInstance(PORTS[port].token, { name: `${name}:${port}` });
      }
    },
    async init() { events?.push(`init ${name}`); },
    async close() { events?.push(`close ${name}`); },
    ...extra,
  };
}

const both: PortName[] = ['transport', 'schemaStore', 'dispatchStore'];

async function rejection(p: Promise<unknown>): Promise<WeftError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(WeftError);
    return e as WeftError;
  }
  throw new Error('expected a rejection');
}

describe('bootstrap', () => {
  describe('validation', () => {
    it('should refuse two plugins with one name (WEFT_PLUGIN_DUPLICATE) before registering anything', async () => {
      const events: string[] = [];
      const e = await rejection(bootstrap({ plugins: [fake('a', both, {}, events), fake('a', [], {}, events)], config: quiet }));
      expect(e.code).to.equal(AppErrorCode.PLUGIN_DUPLICATE);
      expect(e.message).to.match(/"a" is passed 2 times/).and.match(/Pass each plugin once/);
      expect(events).to.deep.equal([]);
    });

    it('should refuse a set that leaves a runtime port empty (WEFT_PORT_MISSING) and say how to fix it', async () => {
      const e = await rejection(bootstrap({ plugins: [fake('t', ['transport'])], config: quiet }));
      expect(e.code).to.equal(AppErrorCode.PORT_MISSING);
      expect(e.message).to.include('schemaStore').and.include('memoryPlugin()').and.include('redisPlugin');
    });

    it('should refuse an empty plugin list with WEFT_PORT_MISSING', async () => {
      const e = await rejection(bootstrap({ config: quiet }));
      expect(e.code).to.equal(AppErrorCode.PORT_MISSING);
      expect(e.message).to.include('transport');
    });

    it('should refuse a plugin whose required port nobody provides (WEFT_PORT_MISSING)', async () => {
      const e = await rejection(bootstrap({
        plugins: [fake('m', both), fake('results', [], { requires: ['resultStore'] })], config: quiet,
      }));
      expect(e.code).to.equal(AppErrorCode.PORT_MISSING);
      expect(e.message).to.include('resultStore').and.include('plugin "results"');
    });

    it('should refuse a port provided twice (WEFT_PORT_CONFLICT) naming both providers', async () => {
      const events: string[] = [];
      const e = await rejection(bootstrap({ plugins: [fake('a', both, {}, events), fake('b', ['transport'], {}, events)], config: quiet }));
      expect(e.code).to.equal(AppErrorCode.PORT_CONFLICT);
      expect(e.message).to.include('transport').and.include('"a"').and.include('"b"');
      expect(events).to.deep.equal([]);
    });

    it('should accept several providers of taskResolvers (injectAll)', async () => {
      const r = (name: string): Plugin => ({
        name, provides: ['taskResolvers'], register: (c) => { c.registerInstance(TASK_RESOLVERS, { id: name }); },
      });
      const app = await bootstrap({ plugins: [fake('m', both), r('r1'), r('r2')], config: quiet });
      class Worker { constructor(@injectAll(TASK_RESOLVERS) readonly resolvers: { id: string }[]) {} }
      expect(app.resolveTask(Worker).resolvers.map((x) => x.id)).to.deep.equal(['r1', 'r2']);
      expect(app.resolveAll(TASK_RESOLVERS)).to.have.length(2);
      await app.close();
    });

    it('should refuse a missing dependency (WEFT_PLUGIN_DEPENDENCY_MISSING)', async () => {
      const e = await rejection(bootstrap({ plugins: [fake('m', both), fake('audit', [], { dependsOn: ['db'] })], config: quiet }));
      expect(e.code).to.equal(AppErrorCode.PLUGIN_DEPENDENCY_MISSING);
      expect(e.message).to.include('"audit" depends on plugin "db"').and.include('Add the "db" plugin');
    });

    it('should refuse a dependency outside the wanted version range (WEFT_PLUGIN_VERSION_MISMATCH)', async () => {
      const e = await rejection(bootstrap({
        plugins: [fake('m', both, { version: '2.1.0' }), fake('audit', [], { dependsOn: [{ name: 'm', version: '^1.4.0' }] })],
        config: quiet,
      }));
      expect(e.code).to.equal(AppErrorCode.PLUGIN_VERSION_MISMATCH);
      expect(e.message).to.include('^1.4.0').and.include('2.1.0');
    });

    it('should accept a dependency inside the range', async () => {
      const app = await bootstrap({
        plugins: [fake('audit', [], { dependsOn: [{ name: 'm', version: '>=1.4 <3' }] }), fake('m', both, { version: '2.1.0' })],
        config: quiet,
      });
      expect(app.plugins.map((p) => p.name)).to.deep.equal(['m', 'audit']);
      await app.close();
    });

    it('should refuse a plugin written for another plugin API version (WEFT_PLUGIN_VERSION_MISMATCH)', async () => {
      const e = await rejection(bootstrap({ plugins: [fake('m', both, { apiVersion: 2 })], config: quiet }));
      expect(e.code).to.equal(AppErrorCode.PLUGIN_VERSION_MISMATCH);
    });

    it('should refuse a dependency cycle (WEFT_PLUGIN_DEPENDENCY_CYCLE) naming it', async () => {
      const e = await rejection(bootstrap({
        plugins: [fake('m', both), fake('a', [], { dependsOn: ['b'] }), fake('b', [], { dependsOn: ['a'] })], config: quiet,
      }));
      expect(e.code).to.equal(AppErrorCode.PLUGIN_DEPENDENCY_CYCLE);
      expect(e.message).to.include('a -> b -> a');
    });

    it('should refuse a malformed plugin (WEFT_PLUGIN_INVALID)', async () => {
      const bad = { name: 'x', provides: ['queue'], register() { /* */ } } as unknown as Plugin;
      const e = await rejection(bootstrap({ plugins: [fake('m', both), bad], config: quiet }));
      expect(e.code).to.equal(AppErrorCode.PLUGIN_INVALID);
      expect(e.message).to.include('unknown port "queue"');
    });

    it('should refuse a declared port that register() did not register (WEFT_PORT_NOT_REGISTERED)', async () => {
      const e = await rejection(bootstrap({ plugins: [fake('m', both, { register() { /* forgot */ } })], config: quiet }));
      expect(e.code).to.equal(AppErrorCode.PORT_NOT_REGISTERED);
    });

    it('should refuse a port registered without being declared (WEFT_PORT_UNDECLARED)', async () => {
      const sneaky = fake('sneaky', [], { register: (c) => { c.registerInstance(SCHEMA_STORE, {}); } });
      const e = await rejection(bootstrap({ plugins: [fake('t', ['transport']), sneaky], config: quiet, requiredPorts: ['transport'] }));
      expect(e.code).to.equal(AppErrorCode.PORT_UNDECLARED);
    });

    it('should refuse an unknown log level (WEFT_CONFIG_INVALID) before any plugin registers', async () => {
      const events: string[] = [];
      const e = await rejection(bootstrap({ plugins: [fake('m', both, {}, events)], config: { logLevel: 'loud' } }));
      expect(e.code).to.equal(AppErrorCode.CONFIG_INVALID);
      expect(e.message).to.include('trace');
      expect(events).to.deep.equal([]);
    });

    it('should be available on its own as validatePlugins, returning the init order', () => {
      const { ordered } = validatePlugins([fake('late', [], { requires: ['transport'] }), fake('m', both)]);
      expect(ordered.map((p) => p.name)).to.deep.equal(['m', 'late']);
    });
  });

  describe('lifecycle', () => {
    it('should register, then init in dependency order, and close in reverse', async () => {
      const events: string[] = [];
      const app = await bootstrap({
        plugins: [
          fake('metrics', [], { dependsOn: ['store'] }, events),
          fake('store', ['schemaStore', 'dispatchStore'], {}, events),
          fake('bus', ['transport'], { requires: ['schemaStore'] }, events),
        ],
        config: quiet,
      });
      expect(events).to.deep.equal([
        'register store', 'register metrics', 'register bus', 'init store', 'init metrics', 'init bus',
      ]);
      events.length = 0;
      await app.close();
      expect(events).to.deep.equal(['close bus', 'close metrics', 'close store']);
    });

    it('should close the plugins already started when an init fails (WEFT_PLUGIN_INIT_FAILED)', async () => {
      const events: string[] = [];
      const boom = new Error('connection refused');
      const e = await rejection(bootstrap({
        plugins: [
          fake('a', both, {}, events),
          fake('b', [], { async init() { events.push('init b'); throw boom; } }, events),
          fake('c', [], {}, events),
        ],
        config: quiet,
      }));
      expect(e.code).to.equal(AppErrorCode.PLUGIN_INIT_FAILED);
      expect(e.message).to.include('"b"').and.include('connection refused');
      expect(e.cause).to.equal(boom);
      expect(events).to.deep.equal(['register a', 'register b', 'register c', 'init a', 'init b', 'close a']);
    });

    it('should report a failing register() as WEFT_PLUGIN_INIT_FAILED', async () => {
      const e = await rejection(bootstrap({ plugins: [fake('a', both, { register() { throw new Error('bad'); } })], config: quiet }));
      expect(e.code).to.equal(AppErrorCode.PLUGIN_INIT_FAILED);
      expect(e.message).to.include('register()');
    });

    it('should close every plugin even when one close fails, then report it (WEFT_PLUGIN_CLOSE_FAILED)', async () => {
      const events: string[] = [];
      const app = await bootstrap({
        plugins: [fake('a', both, {}, events), fake('b', [], { async close() { throw new Error('stuck'); } }, events), fake('c', [], {}, events)],
        config: quiet,
      });
      const e = await rejection(app.close());
      expect(e.code).to.equal(AppErrorCode.PLUGIN_CLOSE_FAILED);
      expect(e.message).to.include('"b"').and.include('stuck');
      expect(events.filter((x) => x.startsWith('close'))).to.deep.equal(['close c', 'close a']);
    });

    it('should close once, and refuse use after close (WEFT_APP_CLOSED)', async () => {
      const events: string[] = [];
      const app = await bootstrap({ plugins: [fake('a', both, {}, events)], config: quiet });
      await Promise.all([app.close(), app.close()]);
      await app.close();
      expect(events.filter((x) => x.startsWith('close'))).to.deep.equal(['close a']);
      expect(app.closed).to.equal(true);
      expect(() => app.transport).to.throw(WeftError).with.property('code', AppErrorCode.APP_CLOSED);
    });

    it('should pass init and close the app container, config and a logger bound to the plugin', async () => {
      const seen: PluginContext[] = [];
      const app = await bootstrap({
        plugins: [fake('a', both, { async init(ctx) { seen.push(ctx); } })],
        config: { ...quiet, name: 'etl', settings: { region: 'eu' } },
      });
      expect(seen[0].container).to.equal(app.container);
      expect(seen[0].config.settings).to.deep.equal({ region: 'eu' });
      expect(seen[0].logger.bindings()).to.include({ plugin: 'a' });
      expect(app.resolve(WEFT_CONFIG)).to.equal(app.config);
      expect(Object.isFrozen(app.config)).to.equal(true);
      await app.close();
    });

    it('should accept plugin factories and plugin classes, called with the config', async () => {
      let got: Readonly<WeftConfig> | undefined;
      class Extra implements Plugin {
        readonly name = 'extra';
        readonly provides: PortName[] = [];
        register(): void { /* nothing */ }
      }
      const app = await bootstrap({
        plugins: [(config) => { got = config; return fake('m', both); }, Extra as never],
        config: { ...quiet, name: 'x' },
      });
      expect(got?.name).to.equal('x');
      expect(app.plugins.map((p) => p.name)).to.deep.equal(['m', 'extra']);
      await app.close();
    });

    it('should choose plugins from the catalog when no plugin list is given', async () => {
      const app = await bootstrap({ catalog: { memory: () => memoryPlugin() }, config: { ...quiet, env: {} } });
      expect(app.transport).to.be.instanceOf(MemoryTransport);
      await app.close();
    });

    it('should register a default logger, or the one a plugin provides', async () => {
      const a = await bootstrap({ plugins: [fake('m', both)], config: quiet });
      expect(a.logger.level).to.equal('silent');
      expect(a.has('logger')).to.equal(true);
      const custom = createLogger({ level: 'silent', name: 'custom' });
      const b = await bootstrap({
        plugins: [fake('m', both), { name: 'log', provides: ['logger'], register: (c) => { c.registerInstance(LOGGER, custom); } }],
      });
      expect(b.logger).to.equal(custom);
      await Promise.all([a.close(), b.close()]);
    });
  });
});

class Db {
  constructor(readonly url: string) {}
}
const DB = Symbol('test.db');

describe('WeftApp', () => {
  describe('resolveTask', () => {
    let app: WeftApp;
    beforeEach(async () => {
      app = await bootstrap({
        plugins: [memoryPlugin(), { name: 'db', provides: [], register: (c) => { c.registerInstance(DB, new Db('postgres://a')); } }],
        config: quiet,
      });
    });
    afterEach(() => app.close());

    it('should build a class with @inject dependencies from the app container', () => {
      class Extract {
        constructor(
          @inject(DB) readonly db: Db,
          @inject(TRANSPORT) readonly transport: Transport,
          @inject(LOGGER) readonly log: Logger,
        ) {}
      }
      const task = app.resolveTask(Extract);
      expect(task.db.url).to.equal('postgres://a');
      expect(task.transport).to.equal(app.transport);
      expect(task.log).to.equal(app.logger);
      expect(app.resolveTask(Extract)).to.not.equal(task);
    });

    it('should build a decorated class by its emitted parameter types, without @injectable', () => {
      // TypeScript emits design:paramtypes only for classes that carry a decorator (a task's @Task).
      const Marked = (): ClassDecorator => () => undefined;
      class Helper { readonly id = Math.random(); }
      @Marked()
      class Load { constructor(readonly helper: Helper) {} }
      app.container.registerSingleton(Helper);
      expect(app.resolveTask(Load).helper).to.equal(app.resolveTask(Load).helper);
    });

    it('should make per-task values visible to that instance only', () => {
      class Step { constructor(@inject(TASK_CONTEXT) readonly ctx: { id: string }) {} }
      const one = app.resolveTask(Step, (scope) => scope.registerInstance(TASK_CONTEXT, { id: 'one' }));
      const two = app.resolveTask(Step, (scope) => scope.registerInstance(TASK_CONTEXT, { id: 'two' }));
      expect([one.ctx.id, two.ctx.id]).to.deep.equal(['one', 'two']);
      expect(app.container.isRegistered(TASK_CONTEXT, true)).to.equal(false);
    });

    it('should refuse an interface-typed parameter without @inject (WEFT_TASK_RESOLVE_FAILED)', () => {
      class Bad { constructor(readonly db: { query(): void }) {} }
      expect(() => app.resolveTask(Bad)).to.throw(WeftError)
        .with.property('code', AppErrorCode.TASK_RESOLVE_FAILED);
      expect(() => app.resolveTask(Bad)).to.throw(/Bad.*parameter #0.*@inject/);
    });

    it('should refuse an unregistered token (WEFT_TASK_RESOLVE_FAILED)', () => {
      const MISSING = Symbol('missing');
      class Needy { constructor(@inject(MISSING) readonly x: unknown) {} }
      expect(() => app.resolveTask(Needy)).to.throw(WeftError).with.property('code', AppErrorCode.TASK_RESOLVE_FAILED);
    });
  });

  describe('container', () => {
    it('should keep each app\'s registrations to itself and leave the global container untouched', async () => {
      const withDb = (url: string): Plugin => ({ name: 'db', provides: [], register: (c) => { c.registerInstance(DB, new Db(url)); } });
      const a = await bootstrap({ plugins: [memoryPlugin(), withDb('a')], config: quiet });
      const b = await bootstrap({ plugins: [memoryPlugin()], config: quiet });
      class Uses { constructor(@inject(DB) readonly db: Db) {} }
      expect(a.resolveTask(Uses).db.url).to.equal('a');
      expect(() => b.resolveTask(Uses)).to.throw(WeftError);
      expect(a.transport).to.not.equal(b.transport);
      expect(a.container).to.not.equal(b.container);
      for (const token of [TRANSPORT, SCHEMA_STORE, LOGGER, WEFT_CONFIG, DB]) {
        expect(rootContainer.isRegistered(token, true)).to.equal(false);
      }
      await Promise.all([a.close(), b.close()]);
    });

    it('should read through to a given parent without writing to it', async () => {
      const parent = rootContainer.createChildContainer();
      parent.registerInstance(DB, new Db('shared'));
      const app = await bootstrap({ plugins: [memoryPlugin()], config: quiet, parent });
      class Uses { constructor(@inject(DB) readonly db: Db) {} }
      expect(app.resolveTask(Uses).db.url).to.equal('shared');
      expect(parent.isRegistered(TRANSPORT)).to.equal(false);
      await app.close();
    });
  });
});

describe('memoryPlugin', () => {
  describe('register', () => {
    it('should provide a MemoryTransport and a MemorySchemaStore per app, closed with the app', async () => {
      const app = await bootstrap({ plugins: [memoryPlugin()], config: quiet });
      expect(app.transport).to.be.instanceOf(MemoryTransport);
      expect(app.schemaStore).to.be.instanceOf(MemorySchemaStore);
      const transport = app.transport;
      await transport.publish('q', [{ a: 'b' }]);
      await app.close();
      await rejection(transport.publish('q', [{ a: 'b' }]));
    });

    it('should share instances passed in between apps and never close them', async () => {
      const transport = new MemoryTransport();
      const schemaStore = new MemorySchemaStore();
      const a = await bootstrap({ plugins: [memoryPlugin({ transport, schemaStore })], config: quiet });
      const b = await bootstrap({ plugins: [memoryPlugin({ transport, schemaStore })], config: quiet });
      await a.transport.publish('q', [{ n: '1' }]);
      await a.close();
      expect(await b.transport.backlog('q', 'g')).to.equal(1);
      await b.close();
      expect(await transport.publish('q', [{ n: '2' }])).to.have.length(1);
      await transport.close();
    });

    it('should give apps that share a transport the same schema and dispatch stores, unless given their own', async () => {
      const transport = new MemoryTransport();
      const a = await bootstrap({ plugins: [memoryPlugin({ transport })], config: quiet });
      const b = await bootstrap({ plugins: [memoryPlugin({ transport })], config: quiet });
      const own = new MemoryDispatchStore();
      const c = await bootstrap({ plugins: [memoryPlugin({ transport, dispatchStore: own })], config: quiet });
      const d = await bootstrap({ plugins: [memoryPlugin()], config: quiet });
      expect(b.schemaStore).to.equal(a.schemaStore);
      expect(b.dispatchStore).to.equal(a.dispatchStore);
      expect(c.dispatchStore).to.equal(own);
      expect(d.dispatchStore).to.not.equal(a.dispatchStore);
      for (const app of [a, b, c, d]) await app.close();
      await transport.close();
    });
  });
});

describe('redisPlugin', () => {
  let client: Redis;
  let prefix: string;
  before(async () => { client = await connectTestRedis(); });
  beforeEach(() => { prefix = uniquePrefix('app'); });
  afterEach(() => deletePrefix(client, prefix));
  after(() => client.quit());

  describe('close', () => {
    it('should never close a client the user passed in', async () => {
      const app = await bootstrap({ plugins: [redisPlugin({ redis: client, prefix })], config: quiet });
      expect(app.transport).to.be.instanceOf(RedisStreamsTransport);
      expect(app.schemaStore).to.be.instanceOf(RedisSchemaStore);
      const transport = app.transport as RedisStreamsTransport;
      expect(transport.client).to.equal(client);
      await transport.publish('q', [{ hello: 'world' }]);
      expect(await app.schemaStore.putSchema('abc', new Uint8Array([1]))).to.equal(true);
      await app.close();
      expect(client.status).to.equal('ready');
      expect(await client.ping()).to.equal('PONG');
      expect(await client.xlen(transport.keys('q').stream)).to.equal(1);
    });

    it('should connect and then close a client it created from a URL', async () => {
      const app = await bootstrap({ plugins: [redisPlugin({ url: REDIS_URL, prefix })], config: quiet });
      const own = (app.transport as RedisStreamsTransport).client;
      expect(own).to.not.equal(client);
      expect(own.status).to.equal('ready');
      expect((app.schemaStore as RedisSchemaStore).client).to.equal(own);
      await app.transport.publish('q', [{ hello: 'world' }]);
      await app.close();
      expect(own.status).to.equal('end');
    });
  });

  describe('init', () => {
    it('should fail start-up with WEFT_PLUGIN_INIT_FAILED and release its client when Redis is unreachable', async () => {
      const plugin = redisPlugin({ url: 'redis://127.0.0.1:1', prefix, redisOptions: { retryStrategy: () => null } });
      const e = await rejection(bootstrap({ plugins: [plugin], config: quiet }));
      expect(e.code).to.equal(AppErrorCode.PLUGIN_INIT_FAILED);
      expect(e.message).to.include('"redis"');
    });
  });

  describe('redisPlugin', () => {
    it('should refuse url and redis together (WEFT_PLUGIN_INVALID)', () => {
      expect(() => redisPlugin({ url: REDIS_URL, redis: client })).to.throw(WeftError)
        .with.property('code', AppErrorCode.PLUGIN_INVALID);
    });
  });
});
