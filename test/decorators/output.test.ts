import { expect } from 'chai';
import { DecoratorError, DecoratorErrorCode as C, Field, getMetadataStorage, Output, registerEnum, WeftError } from '../../decorators';
import { buildMessageModel } from '../../core/schema/build-model';
import { schemaOf } from '../../core/schema/schema';
import { expectDecoratorError, uniqueName } from './helpers';

describe('@Output', () => {
  it('records the full name, never constructor.name', () => {
    const name = uniqueName();
    @Output(name)
    class Whatever {
      @Field(1) a!: string;
    }
    expect(getMetadataStorage().message(Whatever)!.fullName).to.equal(name);
    expect(schemaOf(Whatever).fullName).to.equal(name);
  });

  for (const bad of ['', '.x', 'x.', 'a..b', '1abc', 'a.1b', 'has space', 'a-b', 'a/b']) {
    it(`rejects the invalid name ${JSON.stringify(bad)}`, () => {
      expectDecoratorError(() => {
        @Output(bad)
        class BadName {}
        return BadName;
      }, C.MESSAGE_NAME_INVALID, 'BadName');
    });
  }

  it('rejects a non-string name', () => {
    expectDecoratorError(() => {
      @Output(42 as unknown as string)
      class NumName {}
      return NumName;
    }, C.MESSAGE_NAME_INVALID, 'NumName');
  });

  it('rejects two classes with the same name, and names the first one', () => {
    const name = uniqueName();
    @Output(name)
    class First {}
    const err = expectDecoratorError(() => {
      @Output(name)
      class Second {}
      return Second;
    }, C.MESSAGE_NAME_CONFLICT, 'Second');
    expect(err.message).to.contain('First');
    expect(getMetadataStorage().messageByName(name)!.target).to.equal(First);
  });

  it('allows re-applying the same name to the same class', () => {
    const name = uniqueName();
    @Output(name)
    @Output(name)
    class Same {}
    expect(getMetadataStorage().message(Same)!.fullName).to.equal(name);
  });

  it('a message that is not decorated cannot be built', () => {
    class NotAMessage {
      @Field(1) a!: string;
    }
    expectDecoratorError(() => buildMessageModel(NotAMessage), C.MESSAGE_NOT_DECORATED, 'NotAMessage');
    expectDecoratorError(() => schemaOf(NotAMessage), C.MESSAGE_NOT_DECORATED, 'NotAMessage');
  });

  it('two types with the same full name in one graph (an enum named like a message) are refused', () => {
    const name = uniqueName();
    enum Clash { A = 0 }
    registerEnum(Clash, `${name}Enum`);
    @Output(`${name}Enum`)
    class EnumNamed {
      @Field(1) a!: string;
    }
    @Output(name)
    class Holder {
      @Field(1, () => Clash) e!: Clash;
      @Field(2, () => EnumNamed) m?: EnumNamed;
    }
    expectDecoratorError(() => schemaOf(Holder), C.MESSAGE_NAME_CONFLICT, `${name}Enum`);
  });

  it('registerEnum validates its arguments', () => {
    expectDecoratorError(() => registerEnum({ A: 0 }, 'bad name'), C.MESSAGE_NAME_INVALID, 'enum');
    expectDecoratorError(() => registerEnum(null as unknown as Record<string, number>, 't.dec.E'), C.ENUM_INVALID, 't.dec.E');
  });

  it('DecoratorError is a WeftError with a stable code', () => {
    const e = new DecoratorError(C.FIELD_NUMBER_INVALID, 'K', 'p', 'msg');
    expect(e).to.be.instanceOf(WeftError);
    expect(e).to.be.instanceOf(Error);
    expect(e.name).to.equal('DecoratorError');
    expect(e.message).to.equal('K.p: msg');
    expect(Object.values(C).every((c) => /^WEFT_[A-Z_]+$/.test(c))).to.equal(true);
  });
});
