import { expect } from 'chai';
import { Field, Output, Run, Task, TaskClass } from '../../../decorators';
import { schemaOf } from '../../../core/schema/schema';
import { isTaskClass, taskDefinitionOf } from '../../../core/tasks/definition';
import { TaskDefinitionError, TaskErrorCode as E } from '../../../core/tasks/errors';

@Output('t.tasks.def.Req')
class Req {
  @Field(1) id!: string;
}

@Output('t.tasks.def.Res')
class Res {
  @Field(1, 'uint32') count!: number;
}

/** Deliberately not an @Output class. */
class Plain {
  id!: string;
}

/** Runs `fn` and checks it throws a TaskDefinitionError with this code, naming the task. */
function expectDefinitionError(fn: () => unknown, code: string, taskName: string): TaskDefinitionError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a TaskDefinitionError').to.be.instanceOf(TaskDefinitionError);
  const err = caught as TaskDefinitionError;
  expect(err.code, err.message).to.equal(code);
  expect(err.taskName).to.equal(taskName);
  expect(err.message).to.contain(taskName);
  return err;
}

describe('taskDefinitionOf', () => {
  describe('taskDefinitionOf', () => {
    it('should build name, version, ref, queue, schemas and options from @Task', () => {
      @Task('t.tasks.def.count', { version: 4, queue: 'counting', output: () => Res, retries: 1, timeoutMs: 250 })
      class Count {
        @Run()
        run(_input: Req): Res {
          return Object.assign(new Res(), { count: 1 });
        }
      }
      const def = taskDefinitionOf(Count);
      expect(def.name).to.equal('t.tasks.def.count');
      expect(def.version).to.equal(4);
      expect(def.ref).to.equal('t.tasks.def.count@4');
      expect(def.queue).to.equal('counting');
      expect(def.ctor).to.equal(Count);
      expect(def.input).to.equal(schemaOf(Req));
      expect(def.output).to.equal(schemaOf(Res));
      expect(def.options).to.deep.equal({ retries: 1, timeoutMs: 250 });
      const bytes = def.input.codec.encode(Object.assign(new Req(), { id: 'x' }));
      expect(def.input.codec.decode(bytes).id).to.equal('x');
    });

    it('should cache the definition', () => {
      @Task('t.tasks.def.cached', { input: () => Req, output: () => Res })
      class Cached {
        run(): Res {
          return new Res();
        }
      }
      expect(taskDefinitionOf(Cached)).to.equal(taskDefinitionOf(Cached));
      expect(Object.isFrozen(taskDefinitionOf(Cached))).to.equal(true);
      expect(taskDefinitionOf(Cached).options).to.deep.equal({});
    });

    it('should throw WEFT_TASK_NOT_DECORATED for a class without @Task', () => {
      class NoTask {
        run(): void {}
      }
      expectDefinitionError(() => taskDefinitionOf(NoTask), E.TASK_NOT_DECORATED, 'NoTask');
      expect(isTaskClass(NoTask)).to.equal(false);
    });

    it('should throw WEFT_TASK_INPUT_INVALID, naming the task and the class, when the input is not an @Output class', () => {
      @Task('t.tasks.def.badInput', { input: () => Plain, output: () => Res })
      class BadInput {
        run(): Res {
          return new Res();
        }
      }
      expect(isTaskClass(BadInput)).to.equal(true);
      const err = expectDefinitionError(() => taskDefinitionOf(BadInput), E.TASK_INPUT_INVALID, 't.tasks.def.badInput@1');
      expect(err.message).to.contain('Plain');
      expect(err.message).to.contain('@Output');
    });

    it('should throw WEFT_TASK_INPUT_INVALID when the inferred input is not an @Output class', () => {
      @Task('t.tasks.def.badInferred', { output: () => Res })
      class BadInferred {
        @Run()
        run(_input: Plain): Res {
          return new Res();
        }
      }
      expectDefinitionError(() => taskDefinitionOf(BadInferred), E.TASK_INPUT_INVALID, 't.tasks.def.badInferred@1');
    });

    it('should throw WEFT_TASK_OUTPUT_INVALID when the output is not an @Output class', () => {
      @Task('t.tasks.def.badOutput', { input: () => Req, output: () => Plain })
      class BadOutput {
        run(): Plain {
          return new Plain();
        }
      }
      const err = expectDefinitionError(() => taskDefinitionOf(BadOutput), E.TASK_OUTPUT_INVALID, 't.tasks.def.badOutput@1');
      expect(err.message).to.contain('Plain');
    });

    it('should throw WEFT_TASK_OUTPUT_INVALID with the cause when the output thunk throws or returns nothing', () => {
      @Task('t.tasks.def.throwingThunk', {
        input: () => Req,
        output: () => {
          throw new ReferenceError('Cannot access Later before initialization');
        },
      })
      class ThrowingThunk {
        run(): Res {
          return new Res();
        }
      }
      const err = expectDefinitionError(() => taskDefinitionOf(ThrowingThunk), E.TASK_OUTPUT_INVALID, 't.tasks.def.throwingThunk@1');
      expect(err.cause).to.be.instanceOf(ReferenceError);

      @Task('t.tasks.def.undefinedThunk', { input: () => Req, output: () => undefined as unknown as typeof Res })
      class UndefinedThunk {
        run(): Res {
          return new Res();
        }
      }
      expectDefinitionError(() => taskDefinitionOf(UndefinedThunk), E.TASK_OUTPUT_INVALID, 't.tasks.def.undefinedThunk@1');
    });

    it('should throw WEFT_TASK_NOT_DECORATED for something that is not a class at all', () => {
      expectDefinitionError(() => taskDefinitionOf({} as unknown as TaskClass), E.TASK_NOT_DECORATED, '[object Object]');
    });
  });
});
