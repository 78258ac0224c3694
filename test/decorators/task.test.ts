import { expect } from 'chai';
import {
  DecoratorErrorCode, Field, getMetadataStorage, Output, Run, Task, TaskClass, TaskDecoratorErrorCode as C, TaskOptions,
} from '../../decorators';
import { expectDecoratorError } from './helpers';

@Output('t.task.In')
class In {
  @Field(1) text!: string;
}

/** A richer input: compatible with `In`, so `run(input: In)` accepts it. */
@Output('t.task.InPlus')
class InPlus extends In {
  @Field(2) extra!: string;
}

@Output('t.task.Out')
class Out {
  @Field(1) length!: number;
}

let n = 0;
/** A fresh, process-unique task name. */
const uniqueTask = (): string => `t.task.dec${String(++n).padStart(3, '0')}`;

/** Applies @Task to a class by hand, bypassing the compile-time checks that misuse tests defeat on purpose. */
function apply(name: unknown, options: unknown, target: unknown): void {
  Task(name as string, options as TaskOptions)(target as TaskClass);
}

describe('Task', () => {
  describe('@Task', () => {
    it('should record the explicit name, version, queue and runtime options', () => {
      const name = uniqueTask();
      @Task(name, { version: 3, queue: 'etl', output: () => Out, input: () => In, retries: 2, timeoutMs: 5000 })
      class Count {
        async run(input: In): Promise<Out> {
          return Object.assign(new Out(), { length: input.text.length });
        }
      }
      const record = getMetadataStorage().task(Count)!;
      expect(record.name).to.equal(name);
      expect(record.version).to.equal(3);
      expect(record.queue).to.equal('etl');
      expect(record.retries).to.equal(2);
      expect(record.timeoutMs).to.equal(5000);
      expect(record.input!()).to.equal(In);
      expect(record.output()).to.equal(Out);
      expect(getMetadataStorage().taskByName(name, 3)).to.equal(record);
      expect(getMetadataStorage().taskByName(name, 1)).to.equal(undefined);
    });

    it('should default the version to 1 and the queue to "default"', () => {
      const name = uniqueTask();
      @Task(name, { input: () => In, output: () => Out })
      class Defaults {
        run(): Out {
          return new Out();
        }
      }
      const record = getMetadataStorage().task(Defaults)!;
      expect(record.version).to.equal(1);
      expect(record.queue).to.equal('default');
      expect(record.retries).to.equal(undefined);
      expect(record.timeoutMs).to.equal(undefined);
    });

    it('should infer the input class from the type of run\'s first parameter when run carries @Run()', () => {
      @Task(uniqueTask(), { output: () => Out })
      class Inferred {
        @Run()
        async run(input: In, _ctx: unknown): Promise<Out> {
          return Object.assign(new Out(), { length: input.text.length });
        }
      }
      const record = getMetadataStorage().task(Inferred)!;
      expect(record.input).to.equal(undefined);
      expect(record.inputDesignType).to.equal(In);
    });

    it('should prefer the explicit input option over run\'s parameter type', () => {
      @Task(uniqueTask(), { input: () => InPlus, output: () => Out })
      class Explicit {
        @Run()
        async run(_input: In): Promise<Out> {
          return new Out();
        }
      }
      const record = getMetadataStorage().task(Explicit)!;
      expect(record.input!()).to.equal(InPlus);
      expect(record.inputDesignType).to.equal(undefined);
    });

    it('should throw WEFT_TASK_OUTPUT_MISSING, explaining that Promise<T> erases T, when output is missing', () => {
      const err = expectDecoratorError(() => {
        class NoOutput {
          async run(input: In): Promise<Out> {
            return Object.assign(new Out(), { length: input.text.length });
          }
        }
        apply(uniqueTask(), { input: () => In }, NoOutput);
      }, C.TASK_OUTPUT_MISSING, 'NoOutput');
      expect(err.message).to.contain('Promise<T>');
      expect(err.message).to.contain('output: () =>');
    });

    it('should throw WEFT_TASK_OUTPUT_MISSING when no options are given at all', () => {
      expectDecoratorError(() => {
        class NoOptions {
          run(): Out {
            return new Out();
          }
        }
        apply(uniqueTask(), undefined, NoOptions);
      }, C.TASK_OUTPUT_MISSING, 'NoOptions');
    });

    for (const bad of ['', 'etl-extract', 'etl..extract', '.etl', 'etl.', '1etl', 'etl extract', 'etl@1', 'etl#x', 'etl/x', 42]) {
      it(`should throw WEFT_TASK_NAME_INVALID for the name ${JSON.stringify(bad)}`, () => {
        expectDecoratorError(() => {
          class BadName {
            run(): Out {
            return new Out();
          }
          }
          apply(bad, { input: () => In, output: () => Out }, BadName);
        }, C.TASK_NAME_INVALID, 'BadName');
      });
    }

    for (const bad of [0, -1, 1.5, '2', Number.NaN, Infinity, null]) {
      it(`should throw WEFT_TASK_VERSION_INVALID for the version ${String(bad)}`, () => {
        expectDecoratorError(() => {
          class BadVersion {
            run(): Out {
            return new Out();
          }
          }
          apply(uniqueTask(), { version: bad, input: () => In, output: () => Out }, BadVersion);
        }, C.TASK_VERSION_INVALID, 'BadVersion');
      });
    }

    for (const bad of ['', 'etl{1}', '{etl}', 'a b', 'a:b', 'a/b', 'x'.repeat(201), 7]) {
      it(`should throw WEFT_TASK_QUEUE_INVALID for the queue ${JSON.stringify(bad).slice(0, 20)}`, () => {
        const err = expectDecoratorError(() => {
          class BadQueue {
            run(): Out {
            return new Out();
          }
          }
          apply(uniqueTask(), { queue: bad, input: () => In, output: () => Out }, BadQueue);
        }, C.TASK_QUEUE_INVALID, 'BadQueue');
        expect(err.message).to.contain('hash tag');
      });
    }

    it('should accept queue names made of letters, digits, "_", "." and "-"', () => {
      @Task(uniqueTask(), { queue: 'etl_v2.high-prio', input: () => In, output: () => Out })
      class GoodQueue {
        run(): Out {
            return new Out();
          }
      }
      expect(getMetadataStorage().task(GoodQueue)!.queue).to.equal('etl_v2.high-prio');
    });

    it('should throw WEFT_TASK_RUN_MISSING when the class has no run method', () => {
      expectDecoratorError(() => {
        class NoRun {
          execute(): void {}
        }
        apply(uniqueTask(), { input: () => In, output: () => Out }, NoRun);
      }, C.TASK_RUN_MISSING, 'NoRun');
    });

    it('should throw WEFT_TASK_RUN_MISSING when run is a property rather than a method', () => {
      expectDecoratorError(() => {
        class RunProperty {
          run = (): void => {};
        }
        apply(uniqueTask(), { input: () => In, output: () => Out }, RunProperty);
      }, C.TASK_RUN_MISSING, 'RunProperty');
    });

    it('should accept a run method inherited from a base class', () => {
      class Base {
        run(): Out {
          return new Out();
        }
      }
      @Task(uniqueTask(), { input: () => In, output: () => Out })
      class Derived extends Base {}
      expect(getMetadataStorage().task(Derived)).to.not.equal(undefined);
      expect(getMetadataStorage().task(Base)).to.equal(undefined);
    });

    it('should throw WEFT_TASK_INPUT_UNINFERRABLE, pointing at @Run() and input, when run is not decorated', () => {
      const err = expectDecoratorError(() => {
        @Task(uniqueTask(), { output: () => Out })
        class NotInferrable {
          async run(_input: In): Promise<Out> {
            return new Out();
          }
        }
        return NotInferrable;
      }, C.TASK_INPUT_UNINFERRABLE, 'NotInferrable');
      expect(err.message).to.contain('@Run()');
      expect(err.message).to.contain('input: () =>');
    });

    it('should throw WEFT_TASK_INPUT_UNINFERRABLE when run\'s parameter is an interface or a primitive', () => {
      interface Shape { text: string }
      expectDecoratorError(() => {
        @Task(uniqueTask(), { output: () => Out })
        class InterfaceInput {
          @Run()
          async run(_input: Shape): Promise<Out> {
            return new Out();
          }
        }
        return InterfaceInput;
      }, C.TASK_INPUT_UNINFERRABLE, 'InterfaceInput');
      expectDecoratorError(() => {
        @Task(uniqueTask(), { output: () => Out })
        class StringInput {
          @Run()
          async run(_input: string): Promise<Out> {
            return new Out();
          }
        }
        return StringInput;
      }, C.TASK_INPUT_UNINFERRABLE, 'StringInput');
    });

    it('should throw WEFT_TASK_OPTIONS_INVALID when input is not a function', () => {
      expectDecoratorError(() => {
        class BadInput {
          run(): Out {
            return new Out();
          }
        }
        apply(uniqueTask(), { input: In.name, output: () => Out }, BadInput);
      }, C.TASK_OPTIONS_INVALID, 'BadInput');
    });

    for (const [option, bad] of [['retries', -1], ['retries', 1.5], ['timeoutMs', 0], ['timeoutMs', '100']] as const) {
      it(`should throw WEFT_TASK_OPTIONS_INVALID for ${option} = ${JSON.stringify(bad)}`, () => {
        expectDecoratorError(() => {
          class BadOption {
            run(): Out {
            return new Out();
          }
          }
          apply(uniqueTask(), { [option]: bad, input: () => In, output: () => Out }, BadOption);
        }, C.TASK_OPTIONS_INVALID, 'BadOption');
      });
    }

    it('should throw WEFT_TASK_NAME_CONFLICT when two classes claim one name and version, naming the first', () => {
      const name = uniqueTask();
      @Task(name, { input: () => In, output: () => Out })
      class FirstTask {
        run(): Out {
            return new Out();
          }
      }
      const err = expectDecoratorError(() => {
        @Task(name, { input: () => In, output: () => Out })
        class SecondTask {
          run(): Out {
            return new Out();
          }
        }
        return SecondTask;
      }, C.TASK_NAME_CONFLICT, 'SecondTask');
      expect(err.message).to.contain('FirstTask');
      expect(getMetadataStorage().taskByName(name, 1)!.target).to.equal(FirstTask);
    });

    it('should allow one name under two versions', () => {
      const name = uniqueTask();
      @Task(name, { input: () => In, output: () => Out })
      class V1 {
        run(): Out {
            return new Out();
          }
      }
      @Task(name, { version: 2, input: () => In, output: () => Out })
      class V2 {
        run(): Out {
            return new Out();
          }
      }
      expect(getMetadataStorage().taskByName(name, 1)!.target).to.equal(V1);
      expect(getMetadataStorage().taskByName(name, 2)!.target).to.equal(V2);
    });

    it('should never read the wire name from constructor.name', () => {
      const name = uniqueTask();
      const Anon = (() => class {
        run(): Out {
            return new Out();
          }
      })();
      apply(name, { input: () => In, output: () => Out }, Anon);
      expect(getMetadataStorage().task(Anon)!.name).to.equal(name);
    });
  });

  describe('@Run', () => {
    it('should throw WEFT_RUN_DECORATOR_MISPLACED on a method other than run', () => {
      expectDecoratorError(() => {
        class Misplaced {
          @Run()
          execute(_input: In): void {}
        }
        return Misplaced;
      }, C.RUN_DECORATOR_MISPLACED, 'Misplaced');
    });
  });

  describe('MetadataStorage', () => {
    describe('allTasks', () => {
      it('should list task records without disturbing messages', () => {
        expect(getMetadataStorage().allTasks().length).to.be.greaterThan(0);
        expect(getMetadataStorage().message(In)!.fullName).to.equal('t.task.In');
        expect(DecoratorErrorCode.MESSAGE_NOT_DECORATED).to.equal('WEFT_MESSAGE_NOT_DECORATED');
      });
    });
  });
});
