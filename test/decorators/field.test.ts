import { expect } from 'chai';
import { DecoratorErrorCode as C, Field, MAX_FIELD_NUMBER, Output } from '../../decorators';
import { buildMessageModel } from '../../core/schema/build-model';
import { schemaOf } from '../../core/schema/schema';
import { expectDecoratorError, uniqueName } from './helpers';

describe('@Field misuse', () => {
  describe('field numbers (at decoration time)', () => {
    for (const bad of [0, -1, 1.5, NaN, 19000, 19500, 19999, MAX_FIELD_NUMBER + 1, 2 ** 29, 2 ** 31]) {
      it(`rejects ${bad}`, () => {
        expectDecoratorError(() => {
          class BadNumber {
            @Field(bad) x!: string;
          }
          return BadNumber;
        }, C.FIELD_NUMBER_INVALID, 'BadNumber', 'x');
      });
    }

    it('accepts the edges 1, 18999, 20000 and 2^29-1', () => {
      @Output(uniqueName())
      class Edges {
        @Field(1) a!: string;
        @Field(18999) b!: string;
        @Field(20000) c!: string;
        @Field(MAX_FIELD_NUMBER) d!: string;
      }
      expect(buildMessageModel(Edges).fields.map((f) => f.number)).to.deep.equal([1, 18999, 20000, 536870911]);
      const c = schemaOf(Edges).codec;
      const v = Object.assign(new Edges(), { a: 'a', b: 'b', c: 'c', d: 'd' });
      expect(c.decode(c.encode(v))).to.deep.equal(v);
    });

    it('rejects a duplicate number in the same class', () => {
      const err = expectDecoratorError(() => {
        class Dup {
          @Field(1) a!: string;
          @Field(1) b!: string;
        }
        return Dup;
      }, C.FIELD_NUMBER_DUPLICATE, 'Dup', 'b');
      expect(err.message).to.contain("'a'");
    });

    it('rejects the same property decorated twice', () => {
      expectDecoratorError(() => {
        class Twice {
          @Field(1) @Field(2) a!: string;
        }
        return Twice;
      }, C.FIELD_NUMBER_DUPLICATE, 'Twice', 'a');
    });

    it('rejects a number reused between a parent and a child class, at build time', () => {
      @Output(uniqueName())
      class Parent {
        @Field(1) a!: string;
      }
      @Output(uniqueName())
      class Child extends Parent {
        @Field(1) b!: string;
      }
      expect(buildMessageModel(Parent).fields).to.have.length(1);
      expectDecoratorError(() => buildMessageModel(Child), C.FIELD_NUMBER_DUPLICATE, 'Child', 'b');
      expectDecoratorError(() => schemaOf(Child), C.FIELD_NUMBER_DUPLICATE, 'Child', 'b'); // not cached as half-built
    });

    it('inherits parent fields when the numbers differ', () => {
      @Output(uniqueName())
      class Base {
        @Field(1) a!: string;
      }
      @Output(uniqueName())
      class Derived extends Base {
        @Field(2) b!: string;
      }
      expect(buildMessageModel(Derived).fields.map((f) => f.property)).to.deep.equal(['a', 'b']);
    });
  });

  describe('types that cannot be inferred', () => {
    it('an array without a thunk', () => {
      @Output(uniqueName())
      class NoThunk {
        @Field(1) list!: string[];
      }
      expectDecoratorError(() => buildMessageModel(NoThunk), C.FIELD_TYPE_UNINFERRABLE, 'NoThunk', 'list');
    });

    it('a Map without the map option', () => {
      @Output(uniqueName())
      class NoMap {
        @Field(1) m!: Map<string, number>;
      }
      expectDecoratorError(() => buildMessageModel(NoMap), C.FIELD_TYPE_UNINFERRABLE, 'NoMap', 'm');
    });

    it('a union and an interface (design:type Object)', () => {
      interface Shape { x: number }
      @Output(uniqueName())
      class Union {
        @Field(1) u!: string | number;
      }
      @Output(uniqueName())
      class Iface {
        @Field(1) s!: Shape;
      }
      expectDecoratorError(() => buildMessageModel(Union), C.FIELD_TYPE_UNINFERRABLE, 'Union', 'u');
      expectDecoratorError(() => buildMessageModel(Iface), C.FIELD_TYPE_UNINFERRABLE, 'Iface', 's');
    });

    it('a class compiled without metadata, or not yet loaded (thunk returning undefined)', () => {
      @Output(uniqueName())
      class Late {
        @Field(1, () => undefined as unknown as 'string') x!: string;
      }
      const err = expectDecoratorError(() => buildMessageModel(Late), C.FIELD_TYPE_UNINFERRABLE, 'Late', 'x');
      expect(err.message).to.contain('circular import');
    });

    it('a thunk that throws', () => {
      @Output(uniqueName())
      class Throws {
        @Field(1, () => { throw new Error('boom'); }) x!: string;
      }
      expectDecoratorError(() => buildMessageModel(Throws), C.FIELD_TYPE_UNINFERRABLE, 'Throws', 'x');
    });

    it('a property with no design:type at all', () => {
      // What a compiler without emitDecoratorMetadata (esbuild, tsx) produces.
      const decorate = Field(1);
      class NoMeta { x!: string }
      expectDecoratorError(() => decorate(NoMeta.prototype, 'never_declared'), C.FIELD_TYPE_UNINFERRABLE, 'NoMeta', 'never_declared');
    });
  });

  describe('unsupported types', () => {
    it('a class that is not decorated with @Output', () => {
      class Plain { a = 1; }
      @Output(uniqueName())
      class UsesPlain {
        @Field(1, () => Plain) p!: Plain;
      }
      @Output(uniqueName())
      class InfersPlain {
        @Field(1) p!: Plain;
      }
      expectDecoratorError(() => buildMessageModel(UsesPlain), C.FIELD_TYPE_UNSUPPORTED, 'UsesPlain', 'p');
      expectDecoratorError(() => buildMessageModel(InfersPlain), C.FIELD_TYPE_UNSUPPORTED, 'InfersPlain', 'p');
    });

    it("an unknown scalar name such as 'int128'", () => {
      @Output(uniqueName())
      class Int128 {
        @Field(1, 'int128' as 'int64') x!: bigint;
      }
      expectDecoratorError(() => buildMessageModel(Int128), C.FIELD_TYPE_UNSUPPORTED, 'Int128', 'x');
    });

    it('a list of lists', () => {
      @Output(uniqueName())
      class Lol {
        @Field(1, () => [['string']] as unknown as ['string']) x!: string[][];
      }
      @Output(uniqueName())
      class Lol2 {
        @Field(1, [['int32']] as unknown as ['int32']) x!: number[][];
      }
      expectDecoratorError(() => buildMessageModel(Lol), C.FIELD_TYPE_UNSUPPORTED, 'Lol', 'x');
      expectDecoratorError(() => buildMessageModel(Lol2), C.FIELD_TYPE_UNSUPPORTED, 'Lol2', 'x');
    });

    it('a list type with zero or two elements', () => {
      @Output(uniqueName())
      class Two {
        @Field(1, ['int32', 'string'] as unknown as ['int32']) x!: number[];
      }
      expectDecoratorError(() => buildMessageModel(Two), C.FIELD_TYPE_UNSUPPORTED, 'Two', 'x');
    });

    it('an optional repeated field, and an optional map', () => {
      @Output(uniqueName())
      class OptList {
        @Field(1, ['string'], { optional: true }) x?: string[];
      }
      @Output(uniqueName())
      class OptMap {
        @Field(1, { map: ['string', 'string'], optional: true }) x?: Map<string, string>;
      }
      expectDecoratorError(() => buildMessageModel(OptList), C.FIELD_TYPE_UNSUPPORTED, 'OptList', 'x');
      expectDecoratorError(() => buildMessageModel(OptMap), C.FIELD_TYPE_UNSUPPORTED, 'OptMap', 'x');
    });

    for (const key of ['double', 'float', 'bytes', 'int128']) {
      it(`a map key of type '${key}'`, () => {
        @Output(uniqueName())
        class BadKey {
          @Field(1, { map: [key as 'string', 'string'] }) m!: Map<number, string>;
        }
        expectDecoratorError(() => buildMessageModel(BadKey), C.FIELD_TYPE_UNSUPPORTED, 'BadKey', 'm');
      });
    }

    it('a map value that is a list of lists or not a type', () => {
      @Output(uniqueName())
      class BadValue {
        @Field(1, { map: ['string', () => [['string']] as unknown as ['string']] }) m!: Map<string, string[][]>;
      }
      expectDecoratorError(() => buildMessageModel(BadValue), C.FIELD_TYPE_UNSUPPORTED, 'BadValue', 'm');
    });

    it('an enum mixing strings and numbers, and an empty enum', () => {
      enum Mixed { A = 1, B = 'b' }
      const Empty = {};
      @Output(uniqueName())
      class MixedUser {
        @Field(1, () => Mixed) e!: Mixed;
      }
      @Output(uniqueName())
      class EmptyUser {
        @Field(1, () => Empty) e!: never;
      }
      expectDecoratorError(() => buildMessageModel(MixedUser), C.ENUM_INVALID, 'MixedUser', 'e');
      expectDecoratorError(() => buildMessageModel(EmptyUser), C.ENUM_INVALID, 'EmptyUser', 'e');
    });

    it('accepts a numeric enum with negative members', () => {
      enum Neg { Minus = -1, Zero = 0, Plus = 1 }
      @Output(uniqueName())
      class NegUser {
        @Field(1, () => Neg) e!: Neg;
      }
      const m = buildMessageModel(NegUser);
      const f = m.fields[0].element;
      expect(f.kind === 'enum' && f.enum.values.map((v) => v.number)).to.deep.equal([0, -1, 1]);
    });
  });

  describe('names and keys', () => {
    it('rejects two properties with the same snake_case name (fooBar + foo_bar)', () => {
      @Output(uniqueName())
      class Snake {
        @Field(1) fooBar!: string;
        @Field(2) foo_bar!: string;
      }
      const err = expectDecoratorError(() => buildMessageModel(Snake), C.FIELD_NAME_CONFLICT, 'Snake', 'foo_bar');
      expect(err.message).to.contain("'fooBar'");
    });

    it('rejects a name conflict between a parent and a child property', () => {
      @Output(uniqueName())
      class P1 {
        @Field(1) placedAt!: string;
      }
      @Output(uniqueName())
      class C1 extends P1 {
        @Field(2) placed_at!: string;
      }
      expectDecoratorError(() => buildMessageModel(C1), C.FIELD_NAME_CONFLICT, 'C1', 'placed_at');
    });

    it('rejects a symbol-keyed property', () => {
      const sym = Symbol('s');
      expectDecoratorError(() => {
        class Sym {
          @Field(1, 'string') [sym]!: string;
        }
        return Sym;
      }, C.FIELD_KEY_INVALID, 'Sym');
    });

    it('rejects a static property', () => {
      expectDecoratorError(() => {
        class Static {
          @Field(1, 'string') static s: string;
        }
        return Static;
      }, C.FIELD_KEY_INVALID, 'Static', 's');
    });
  });

  describe('well-formed declarations', () => {
    it('infers string, number, boolean, bigint, Date, Uint8Array and @Output classes', () => {
      @Output(uniqueName())
      class Inner {
        @Field(1) s!: string;
      }
      @Output(uniqueName())
      class Inferred {
        @Field(1) s!: string;
        @Field(2) n!: number;
        @Field(3) b!: boolean;
        @Field(4) big!: bigint;
        @Field(5) d!: Date;
        @Field(6) u!: Uint8Array;
        @Field(7) inner?: Inner;
      }
      const kinds = buildMessageModel(Inferred).fields.map((f) => (f.element.kind === 'scalar' ? f.element.scalar : f.element.kind));
      expect(kinds).to.deep.equal(['string', 'double', 'bool', 'int64', 'timestamp', 'bytes', 'message']);
    });

    it('uses snake_case .proto names and sorts fields by number', () => {
      @Output(uniqueName())
      class Names {
        @Field(3) HTTPCode!: string;
        @Field(1) placedAt!: string;
        @Field(2) a1B!: string;
      }
      expect(buildMessageModel(Names).fields.map((f) => [f.number, f.name])).to.deep.equal([[1, 'placed_at'], [2, 'a1_b'], [3, 'http_code']]);
    });
  });
});
