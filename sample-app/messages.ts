import { IsNotEmpty, Min } from 'class-validator';
import { Field, Output, registerEnum } from '../decorators';

/** How urgent an order is. Registered so every message that uses it shares one enum type. */
export enum Priority { Low = 0, Normal = 1, High = 2 }
registerEnum(Priority, 'shop.Priority');

/** One line of an order. */
@Output('shop.LineItem')
export class LineItem {
  @Field(1) @IsNotEmpty() sku!: string;
  @Field(2, 'uint32') @Min(1) quantity!: number;
  @Field(3, 'int64') priceCents!: bigint;

  /** Derived, never sent: works on decoded values because they are real LineItem instances. */
  get totalCents(): bigint {
    return this.priceCents * BigInt(this.quantity);
  }
}

/** An order, as the example writes it. */
@Output('shop.Order')
export class Order {
  @Field(1) id!: string;
  @Field(2, 'int64') total!: bigint;
  @Field(3, () => [LineItem]) items!: LineItem[];
  @Field(4, { map: ['string', () => [LineItem]] }) byWarehouse!: Map<string, LineItem[]>;
  @Field(5) placedAt!: Date;
  @Field(6, { optional: true }) note?: string;
  @Field(7, () => Priority) priority!: Priority;
}

/** Builds a LineItem. */
export function lineItem(sku: string, quantity: number, priceCents: bigint): LineItem {
  return Object.assign(new LineItem(), { sku, quantity, priceCents });
}

/** What pricing an order produces. */
@Output('shop.Invoice')
export class Invoice {
  @Field(1) orderId!: string;
  @Field(2, 'int64') totalCents!: bigint;
  @Field(3, 'uint32') lines!: number;
}
