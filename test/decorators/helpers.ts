import { DecoratorError } from '../../decorators';
import { expect } from 'chai';

/** Runs `fn` and checks it throws a DecoratorError with this code, naming the class (and property). */
export function expectDecoratorError(fn: () => unknown, code: string, className: string, property?: string): DecoratorError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a DecoratorError').to.be.instanceOf(DecoratorError);
  const err = caught as DecoratorError;
  expect(err.code, err.message).to.equal(code);
  expect(err.className).to.equal(className);
  expect(err.message).to.contain(className);
  if (property !== undefined) {
    expect(err.property).to.equal(property);
    expect(err.message).to.contain(`${className}.${property}`);
  }
  return err;
}

let n = 0;
/** A fresh, process-unique message name. */
export const uniqueName = (): string => `t.dec.M${String(++n).padStart(3, '0')}`;
