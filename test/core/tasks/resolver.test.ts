import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Field, Output, Task } from '../../../decorators';
import { taskDefinitionOf } from '../../../core/tasks/definition';
import { WeftError } from '../../../core/errors';
import {
  DEFAULT_RESOLVER_ID, ModuleTaskResolver, RegistryTaskResolver, ResolverRegistry, SerializedTask,
} from '../../../core/tasks/resolver';
import { TaskErrorCode as E } from '../../../core/tasks/errors';
import { fromFields, TaskEnvelope, toFields } from '../../../core/tasks/wire';
import { LengthTask } from './fixtures/allowed/length-task';
import { UpperTask } from './fixtures/allowed/nested/upper-task';
import { Length, Text } from './fixtures/messages';

const FIXTURES = path.join(__dirname, 'fixtures');
const ALLOWED = path.join(FIXTURES, 'allowed');
const OUTSIDE = path.join(FIXTURES, 'outside');
const SIDE_EFFECT_FILE = path.join(OUTSIDE, 'side-effect.ts');
const MARKER_ENV = 'WEFT_TEST_SIDE_EFFECT_MARKER';

/** Runs `fn`, checks it throws a WeftError with this code, and returns the error. */
function expectCode(fn: () => unknown, code: string): WeftError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a WeftError ${code}`).to.be.instanceOf(WeftError);
  const err = caught as WeftError;
  expect(err.code, err.message).to.equal(code);
  return err;
}

const registryRef = (task: string): SerializedTask => ({ strategy: 'registry', task });
const moduleRef = (task: string): SerializedTask => ({ strategy: 'module', task });

@Output('t.tasks.res.Ping')
class Ping {
  @Field(1) text!: string;
}

@Task('t.tasks.res.echo', { queue: 'echo', input: () => Ping, output: () => Ping })
class Echo {
  run(input: Ping): Ping {
    return input;
  }
}

@Task('t.tasks.res.echo', { version: 2, queue: 'echo', input: () => Ping, output: () => Ping })
class EchoV2 {
  run(input: Ping): Ping {
    return input;
  }
}

describe('RegistryTaskResolver', () => {
  describe('serialize', () => {
    it('should write name@version with the registry strategy', () => {
      const resolver = new RegistryTaskResolver();
      expect(resolver.serialize(Echo)).to.deep.equal({ strategy: 'registry', task: 't.tasks.res.echo@1' });
      expect(resolver.serialize(taskDefinitionOf(EchoV2))).to.deep.equal({ strategy: 'registry', task: 't.tasks.res.echo@2' });
    });
  });

  describe('resolve', () => {
    it('should round-trip serialize -> resolve to the same definition', () => {
      const resolver = new RegistryTaskResolver({ tasks: [Echo, EchoV2] });
      const def = resolver.resolve(resolver.serialize(EchoV2));
      expect(def).to.equal(taskDefinitionOf(EchoV2));
      expect(def.ctor).to.equal(EchoV2);
      expect(def.ref).to.equal('t.tasks.res.echo@2');
    });

    it('should throw WEFT_TASK_UNKNOWN for a reference that is not registered, listing the known versions', () => {
      const resolver = new RegistryTaskResolver({ tasks: [Echo] });
      const err = expectCode(() => resolver.resolve(registryRef('t.tasks.res.echo@7')), E.TASK_UNKNOWN);
      expect(err.message).to.contain('t.tasks.res.echo@7');
      expect(err.message).to.contain('version 1');
      expectCode(() => resolver.resolve(registryRef('nobody@1')), E.TASK_UNKNOWN);
      expectCode(() => resolver.resolve(registryRef('__proto__')), E.TASK_UNKNOWN);
    });

    it('should not resolve a task that is decorated but not registered', () => {
      const resolver = new RegistryTaskResolver({ tasks: [Echo] });
      expectCode(() => resolver.resolve(resolver.serialize(EchoV2)), E.TASK_UNKNOWN);
    });

    it('should throw WEFT_STRATEGY_MISMATCH for a module reference', () => {
      const resolver = new RegistryTaskResolver({ tasks: [Echo] });
      expectCode(() => resolver.resolve(moduleRef('./x#Echo')), E.STRATEGY_MISMATCH);
    });

    it('should quote a hostile reference safely and briefly in the message', () => {
      const resolver = new RegistryTaskResolver();
      const err = expectCode(() => resolver.resolve(registryRef(`evil\nFAKE LOG LINE${'x'.repeat(5000)}`)), E.TASK_UNKNOWN);
      expect(err.message).to.not.contain('\n');
      expect(err.message.length).to.be.lessThan(600);
    });
  });

  describe('register', () => {
    it('should throw WEFT_TASK_NOT_DECORATED for a class without @Task', () => {
      class Plain {
        run(): void {}
      }
      expectCode(() => new RegistryTaskResolver({ tasks: [Plain] }), E.TASK_NOT_DECORATED);
    });

    it('should accept the same class twice', () => {
      const resolver = new RegistryTaskResolver().register(Echo, Echo);
      expect(resolver.definitions().map((d) => d.ref)).to.deep.equal(['t.tasks.res.echo@1']);
    });
  });

  describe('constructor', () => {
    it('should throw WEFT_RESOLVER_CONFIG_INVALID for an id that is not a plain name', () => {
      expectCode(() => new RegistryTaskResolver({ id: 'a b{c}' }), E.RESOLVER_CONFIG_INVALID);
    });
  });
});

describe('ResolverRegistry', () => {
  describe('resolve', () => {
    it('should round-trip a task through the wire envelope fields', () => {
      const resolvers = ResolverRegistry.of(Echo, EchoV2);
      const address = resolvers.serialize(Echo);
      expect(address).to.deep.equal({ resolverId: 'default', strategy: 'registry', task: 't.tasks.res.echo@1' });
      const def = taskDefinitionOf(Echo);
      const envelope: TaskEnvelope = {
        schemaId: def.input.id, type: def.input.fullName,
        payload: def.input.codec.encode(Object.assign(new Ping(), { text: 'hi' })),
        ...address,
        correlationId: 'c', executionId: 'e', idempotencyKey: 'k', retryAttempt: 0, dispatchTsMs: 1,
        parentItemId: '', traceparent: '', stepId: '', replyTo: '',
      };
      const received = fromFields(toFields(envelope));
      expect(resolvers.resolve(received).ctor).to.equal(Echo);
    });

    it('should use the default resolver when the envelope names none', () => {
      const resolvers = ResolverRegistry.of(Echo);
      expect(resolvers.resolve({ resolverId: '', strategy: 'registry', task: 't.tasks.res.echo@1' }).ctor).to.equal(Echo);
      expect(resolvers.resolve(registryRef('t.tasks.res.echo@1')).ctor).to.equal(Echo);
    });

    it('should pick the resolver by resolver id', () => {
      const resolvers = new ResolverRegistry([
        new RegistryTaskResolver({ tasks: [Echo] }),
        new RegistryTaskResolver({ id: 'v2', tasks: [EchoV2] }),
      ]);
      expect(resolvers.resolve({ ...resolvers.serialize(EchoV2, 'v2') }).ctor).to.equal(EchoV2);
      expectCode(() => resolvers.resolve({ resolverId: 'v2', ...registryRef('t.tasks.res.echo@1') }), E.TASK_UNKNOWN);
    });

    it('should throw WEFT_TASK_UNKNOWN for an unknown task', () => {
      expectCode(() => ResolverRegistry.of(Echo).resolve(registryRef('t.tasks.res.missing@1')), E.TASK_UNKNOWN);
    });

    it('should throw WEFT_RESOLVER_UNKNOWN for an unknown resolver id, naming the registered ones', () => {
      const err = expectCode(
        () => ResolverRegistry.of(Echo).resolve({ resolverId: 'nope', ...registryRef('t.tasks.res.echo@1') }),
        E.RESOLVER_UNKNOWN,
      );
      expect(err.message).to.contain('"nope"');
      expect(err.message).to.contain("'default'");
      expectCode(() => new ResolverRegistry().resolve(registryRef('t.tasks.res.echo@1')), E.RESOLVER_UNKNOWN);
    });

    it('should throw WEFT_STRATEGY_MISMATCH when the resolver reads another strategy', () => {
      const resolvers = new ResolverRegistry([
        new RegistryTaskResolver({ tasks: [Echo] }),
        new ModuleTaskResolver({ roots: [ALLOWED] }),
      ]);
      expectCode(() => resolvers.resolve({ resolverId: DEFAULT_RESOLVER_ID, ...moduleRef('./length-task#LengthTask') }),
        E.STRATEGY_MISMATCH);
      expectCode(() => resolvers.resolve({ resolverId: 'module', ...registryRef('t.tasks.res.echo@1') }), E.STRATEGY_MISMATCH);
      expectCode(() => resolvers.resolve({ resolverId: 'module', strategy: 'pickle' as 'module', task: 'x' }), E.STRATEGY_MISMATCH);
    });
  });

  describe('register', () => {
    it('should throw WEFT_RESOLVER_DUPLICATE for two resolvers under one id', () => {
      expectCode(() => new ResolverRegistry([new RegistryTaskResolver(), new RegistryTaskResolver()]), E.RESOLVER_DUPLICATE);
    });

    it('should list the ids in registration order', () => {
      const resolvers = new ResolverRegistry([new RegistryTaskResolver(), new ModuleTaskResolver({ roots: [ALLOWED] })]);
      expect(resolvers.ids()).to.deep.equal(['default', 'module']);
      expect(resolvers.has('module')).to.equal(true);
    });
  });

  describe('serialize', () => {
    it('should throw WEFT_RESOLVER_UNKNOWN for an unknown resolver id', () => {
      expectCode(() => ResolverRegistry.of(Echo).serialize(Echo, 'elsewhere'), E.RESOLVER_UNKNOWN);
    });
  });
});

describe('ModuleTaskResolver', () => {
  let tmp: string;
  let marker: string;
  let previousMarkerEnv: string | undefined;

  /** True once the side-effect module has been loaded by anyone in this process. */
  const sideEffectLoaded = (): boolean => fs.existsSync(marker);

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-module-resolver-'));
    marker = path.join(tmp, 'side-effect.marker');
    previousMarkerEnv = process.env[MARKER_ENV];
    process.env[MARKER_ENV] = marker;
    expect(require.cache[require.resolve(SIDE_EFFECT_FILE)], 'side-effect fixture loaded too early').to.equal(undefined);
    // A second root, built at run time, full of ways out.
    const root2 = path.join(tmp, 'root2');
    fs.mkdirSync(root2);
    fs.symlinkSync(SIDE_EFFECT_FILE, path.join(root2, 'escape.ts'));
    fs.symlinkSync(OUTSIDE, path.join(root2, 'linked-dir'), 'dir');
    fs.mkdirSync(path.join(root2, 'pkgdir'));
    fs.writeFileSync(path.join(root2, 'pkgdir', 'package.json'), JSON.stringify({ main: SIDE_EFFECT_FILE }));
    // A symlink that stays inside the allowlist is fine.
    fs.symlinkSync(path.join(ALLOWED, 'length-task.ts'), path.join(root2, 'inside-link.ts'));
    // A root that is itself a symlink to the allowed directory.
    fs.symlinkSync(ALLOWED, path.join(tmp, 'allowed-link'), 'dir');
  });

  after(() => {
    if (previousMarkerEnv === undefined) delete process.env[MARKER_ENV];
    else process.env[MARKER_ENV] = previousMarkerEnv;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const make = (): ModuleTaskResolver => new ModuleTaskResolver({ roots: [ALLOWED, path.join(tmp, 'root2')] });

  describe('resolve', () => {
    it('should load a @Task export from a module under an allowlisted root', () => {
      const def = make().resolve(moduleRef('./length-task#LengthTask'));
      expect(def.ctor).to.equal(LengthTask);
      expect(def.ref).to.equal('t.tasks.fix.length@1');
      expect(def.queue).to.equal('fixtures');
      expect(def.input.fullName).to.equal('t.tasks.fix.Text');
    });

    it('should accept an explicit extension, a nested path and an absolute path inside a root', () => {
      const resolver = make();
      expect(resolver.resolve(moduleRef('./length-task.ts#LengthTask')).ctor).to.equal(LengthTask);
      expect(resolver.resolve(moduleRef('./nested/upper-task#UpperTask')).ref).to.equal('t.tasks.fix.upper@2');
      expect(resolver.resolve(moduleRef(`${path.join(ALLOWED, 'nested', 'upper-task')}#UpperTask`)).ctor).to.equal(UpperTask);
    });

    it('should follow a symlink that stays inside the allowlist, and accept a root that is a symlink', () => {
      expect(make().resolve(moduleRef('./inside-link#LengthTask')).ctor).to.equal(LengthTask);
      const viaLink = new ModuleTaskResolver({ roots: [path.join(tmp, 'allowed-link')] });
      expect(viaLink.roots).to.deep.equal([fs.realpathSync(ALLOWED)]);
      expect(viaLink.resolve(moduleRef('./length-task#LengthTask')).ctor).to.equal(LengthTask);
    });

    const refused: ReadonlyArray<readonly [string, () => string]> = [
      ["a '..' escape", () => '../outside/side-effect#SideEffectTask'],
      ["a '..' escape in the middle", () => './nested/../../outside/side-effect#SideEffectTask'],
      ['an absolute path outside the roots', () => `${SIDE_EFFECT_FILE}#SideEffectTask`],
      ['an absolute path that climbs out of a root', () => `${ALLOWED}/../outside/side-effect#SideEffectTask`],
      ['a symlinked file that points outside the roots', () => './escape#SideEffectTask'],
      ['a path through a symlinked directory that points outside', () => './linked-dir/side-effect#SideEffectTask'],
      ['a directory whose package.json main points outside', () => './pkgdir#SideEffectTask'],
      ['a specifier without ./', () => 'outside/side-effect#SideEffectTask'],
      ['a dot-relative specifier', () => '.#SideEffectTask'],
      ['a backslash path', () => '.\\..\\outside\\side-effect#SideEffectTask'],
      ['a NUL byte', () => './length-task\0#LengthTask'],
      ['a node: builtin', () => 'node:child_process#exec'],
      ['a file: URL', () => `file://${SIDE_EFFECT_FILE}#SideEffectTask`],
      ['a bare package that is not allowlisted', () => 'chai#expect'],
      ['a builtin by bare name', () => 'child_process#exec'],
      ['a scoped package that is not allowlisted', () => '@types/node#x'],
    ];
    for (const [what, ref] of refused) {
      it(`should refuse ${what} with WEFT_MODULE_NOT_ALLOWED and load nothing`, () => {
        const err = expectCode(() => make().resolve(moduleRef(ref())), E.MODULE_NOT_ALLOWED);
        expect(err.message).to.contain('Nothing was loaded');
        expect(sideEffectLoaded(), 'the refused module was loaded').to.equal(false);
        expect(require.cache[fs.realpathSync(SIDE_EFFECT_FILE)]).to.equal(undefined);
      });
    }

    it('should throw WEFT_MODULE_EXPORT_INVALID when the export is not a @Task class', () => {
      const resolver = make();
      expectCode(() => resolver.resolve(moduleRef('./not-a-task#NotATask')), E.MODULE_EXPORT_INVALID);
      expectCode(() => resolver.resolve(moduleRef('./not-a-task#value')), E.MODULE_EXPORT_INVALID);
      expectCode(() => resolver.resolve(moduleRef('./length-task#helper')), E.MODULE_EXPORT_INVALID);
      expectCode(() => resolver.resolve(moduleRef('./length-task#Missing')), E.MODULE_EXPORT_INVALID);
      expectCode(() => resolver.resolve(moduleRef('./length-task#constructor')), E.MODULE_EXPORT_INVALID);
      expectCode(() => resolver.resolve(moduleRef('./length-task#__proto__')), E.MODULE_EXPORT_INVALID);
    });

    it('should throw WEFT_MODULE_NOT_FOUND for a module that does not exist under the roots', () => {
      expectCode(() => make().resolve(moduleRef('./no-such-module#X')), E.MODULE_NOT_FOUND);
    });

    it('should throw WEFT_MODULE_LOAD_FAILED, with the cause, when an allowed module throws while loading', () => {
      const err = expectCode(() => make().resolve(moduleRef('./throws-on-load#X')), E.MODULE_LOAD_FAILED);
      expect((err.cause as Error).message).to.contain('on purpose');
    });

    for (const bad of ['./length-task', './length-task#', '#LengthTask', './a#b#c', './length-task#1x', `./${'a'.repeat(2000)}#X`]) {
      it(`should throw WEFT_TASK_REF_INVALID for the malformed reference ${JSON.stringify(bad.slice(0, 30))}`, () => {
        expectCode(() => make().resolve(moduleRef(bad)), E.TASK_REF_INVALID);
      });
    }

    it('should load an allowlisted package, and still require the export to be a @Task', () => {
      const resolver = new ModuleTaskResolver({ roots: [ALLOWED], packages: ['chai'] });
      expectCode(() => resolver.resolve(moduleRef('chai#expect')), E.MODULE_EXPORT_INVALID);
      expectCode(() => resolver.resolve(moduleRef('chai/../../etc#x')), E.MODULE_NOT_ALLOWED);
      expectCode(() => resolver.resolve(moduleRef('chaii#expect')), E.MODULE_NOT_ALLOWED);
    });

    it('should throw WEFT_STRATEGY_MISMATCH for a registry reference', () => {
      expectCode(() => make().resolve(registryRef('t.tasks.fix.length@1')), E.STRATEGY_MISMATCH);
    });

    it('should prove the marker works: loading the side-effect module directly leaves it behind', () => {
      expect(sideEffectLoaded()).to.equal(false);
      const outsideRoot = new ModuleTaskResolver({ roots: [OUTSIDE] });
      const def = outsideRoot.resolve(moduleRef('./side-effect#SideEffectTask'));
      expect(def.ref).to.equal('t.tasks.fix.sideEffect@1');
      expect(sideEffectLoaded()).to.equal(true);
    });
  });

  describe('serialize', () => {
    it('should write a root-relative specifier without extension, which resolves back to the class', () => {
      const resolver = make();
      const wire = resolver.serialize(UpperTask);
      expect(wire).to.deep.equal({ strategy: 'module', task: './nested/upper-task#UpperTask' });
      expect(make().resolve(wire).ctor).to.equal(UpperTask);
    });

    it('should throw WEFT_MODULE_NOT_ALLOWED for a task not exported from under the roots', () => {
      expectCode(() => make().serialize(Echo), E.MODULE_NOT_ALLOWED);
    });
  });

  describe('reference', () => {
    it('should build a reference by hand and check its shape', () => {
      expect(ModuleTaskResolver.reference('@acme/tasks/etl', 'Extract'))
        .to.deep.equal({ strategy: 'module', task: '@acme/tasks/etl#Extract' });
      expectCode(() => ModuleTaskResolver.reference('x#y', 'Z'), E.TASK_REF_INVALID);
    });
  });

  describe('constructor', () => {
    it('should throw WEFT_RESOLVER_CONFIG_INVALID without roots, with a missing root, a file root or a bad package', () => {
      expectCode(() => new ModuleTaskResolver({ roots: [] }), E.RESOLVER_CONFIG_INVALID);
      expectCode(() => new ModuleTaskResolver({ roots: [path.join(tmp, 'nope')] }), E.RESOLVER_CONFIG_INVALID);
      expectCode(() => new ModuleTaskResolver({ roots: [path.join(ALLOWED, 'length-task.ts')] }), E.RESOLVER_CONFIG_INVALID);
      expectCode(() => new ModuleTaskResolver({ roots: [ALLOWED], packages: ['../evil'] }), E.RESOLVER_CONFIG_INVALID);
    });
  });
});

// Keep the message fixtures referenced so that an unused-import check never drops them.
void [Text, Length];
