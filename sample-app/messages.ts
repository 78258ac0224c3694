import { IsNotEmpty, Length, Max, Min } from 'class-validator';
import { Field, Output, registerEnum } from '../decorators';

/** How urgent an order is. Registered so every message that uses it shares one enum type. */
export enum Priority { Low = 0, Normal = 1, High = 2 }
registerEnum(Priority, 'demo.Priority');

/** One line of an order. */
@Output('demo.LineItem')
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
@Output('demo.Order')
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
@Output('demo.Invoice')
export class Invoice {
  @Field(1) orderId!: string;
  @Field(2, 'int64') totalCents!: bigint;
  @Field(3, 'uint32') lines!: number;
}

/*
 * The order pipeline's messages (`npm start`, the flow `orders` of sample-app/pipeline.ts):
 * ingestion produces an OrderBatch, enrichment turns each IncomingOrder into an EnrichedOrder,
 * aggregation turns them all into a Report. The flow passes outputs on as they are (the fan-in
 * fills only ReportRequest.orders), so what a later step needs of an earlier one travels inside
 * the messages: ingestion stamps a BatchRef on every order, and enrichment carries it on.
 */

/** A customer's tier, nested in Customer (not registered, so it becomes `orders.Customer.Tier`). */
export enum Tier { Standard = 0, Gold = 1, Platinum = 2 }

/** Where a customer lives: nested in Customer. */
@Output('orders.Address')
export class Address {
  @Field(1) city!: string;
  /** ISO 3166 alpha-2, e.g. `DE`. */
  @Field(2) @Length(2, 2) country!: string;
}

/** Who placed an order: a nested message holding another nested message. */
@Output('orders.Customer')
export class Customer {
  @Field(1) @IsNotEmpty() id!: string;
  @Field(2) name!: string;
  @Field(3, () => Address) address!: Address;
  @Field(4, () => Tier) tier!: Tier;
}

/** One line of an incoming order: a SKU and a quantity, no price yet. */
@Output('orders.OrderLine')
export class OrderLine {
  @Field(1) @IsNotEmpty() sku!: string;
  @Field(2, 'uint32') @Min(1) quantity!: number;
}

/** Which worker process handled a step. */
@Output('orders.WorkerRef')
export class WorkerRef {
  @Field(1) host!: string;
  @Field(2, 'uint32') pid!: number;
}

/** Which batch an order came in and who ingested it: stamped on every order by ingestion. */
@Output('orders.BatchRef')
export class BatchRef {
  @Field(1) @IsNotEmpty() batchId!: string;
  @Field(2, () => WorkerRef) ingestedBy!: WorkerRef;
  @Field(3) receivedAt!: Date;
}

/** An order as the feed delivers it (ingestion adds its `batch`). */
@Output('orders.IncomingOrder')
export class IncomingOrder {
  @Field(1) @IsNotEmpty() id!: string;
  @Field(2, () => Customer) customer!: Customer;
  @Field(3, () => [OrderLine]) lines!: OrderLine[];
  /** ISO 4217 code the customer pays in, e.g. `EUR`. */
  @Field(4) @Length(3, 3) currency!: string;
  @Field(5) placedAt!: Date;
  /** Free-form labels from the shop front (`channel`, `campaign`...): a map of strings. */
  @Field(6, { map: ['string', 'string'] }) tags!: Map<string, string>;
  @Field(7, () => Priority) priority!: Priority;
  /** Set by ingestion: the batch this order belongs to. */
  @Field(8, () => BatchRef) batch!: BatchRef;
}

/** What the ingestion step is asked to read: the flow's input. */
@Output('orders.IngestRequest')
export class IngestRequest {
  @Field(1) @IsNotEmpty() batchId!: string;
  @Field(2, 'uint32') @Min(1) @Max(1000) orderCount!: number;
  /** Seeds the demo feed, so that a batch id always yields the same orders. */
  @Field(3, 'uint32') seed!: number;
}

/** What ingestion produces: the batch's orders, a repeated nested message. */
@Output('orders.OrderBatch')
export class OrderBatch {
  @Field(1) batchId!: string;
  @Field(2, () => [IncomingOrder]) orders!: IncomingOrder[];
  @Field(3) receivedAt!: Date;
  @Field(4, () => WorkerRef) ingestedBy!: WorkerRef;
}

/** An order line with its catalog data and its price in the order's currency. */
@Output('orders.PricedLine')
export class PricedLine {
  @Field(1) sku!: string;
  @Field(2) title!: string;
  @Field(3) category!: string;
  @Field(4, 'uint32') quantity!: number;
  /** Unit price in the order's currency, in cents. */
  @Field(5, 'int64') unitCents!: bigint;
  /** quantity × unit price, in the order's currency, in cents. */
  @Field(6, 'int64') totalCents!: bigint;
  /** The same line total in EUR cents (the catalog's currency). */
  @Field(7, 'int64') totalEurCents!: bigint;
}

/** What enrichment produces for one order. */
@Output('orders.EnrichedOrder')
export class EnrichedOrder {
  @Field(1) orderId!: string;
  @Field(2, () => Customer) customer!: Customer;
  @Field(3) currency!: string;
  @Field(4, () => [PricedLine]) lines!: PricedLine[];
  /** The lines grouped by catalog category: a map of lists. */
  @Field(5, { map: ['string', () => [PricedLine]] }) linesByCategory!: Map<string, PricedLine[]>;
  @Field(6, 'int64') totalCents!: bigint;
  @Field(7, 'int64') totalEurCents!: bigint;
  /** The FX rate applied, EUR → currency, in millionths (1.08 → 1080000). */
  @Field(8, 'uint64') fxMicros!: bigint;
  @Field(9, () => WorkerRef) enrichedBy!: WorkerRef;
  /** The incoming order's batch, carried on for the report. */
  @Field(10, () => BatchRef) batch!: BatchRef;
}

/**
 * What aggregation is asked to summarise: every enriched order of a batch, which the flow's
 * fan-in fills in lineage order. (Field 1, a batch id, is gone: the fan-in sets only `orders`, and
 * each order carries its batch.)
 */
@Output('orders.ReportRequest')
export class ReportRequest {
  @Field(2, () => [EnrichedOrder]) orders!: EnrichedOrder[];
}

/** Sales of one SKU across a batch. */
@Output('orders.SkuStat')
export class SkuStat {
  @Field(1) sku!: string;
  @Field(2) title!: string;
  @Field(3, 'uint32') units!: number;
  @Field(4, 'int64') revenueEurCents!: bigint;
}

/** The batch report: what `npm start` prints at the end. */
@Output('orders.Report')
export class Report {
  @Field(1) batchId!: string;
  @Field(2, 'uint32') orderCount!: number;
  @Field(3, 'uint32') lineCount!: number;
  @Field(4, 'uint32') unitCount!: number;
  /** Revenue per currency the customers paid in, in that currency's cents. */
  @Field(5, { map: ['string', 'int64'] }) revenueByCurrency!: Map<string, bigint>;
  @Field(6, 'int64') revenueEurCents!: bigint;
  /** Best sellers by EUR revenue, at most five. */
  @Field(7, () => [SkuStat]) topSkus!: SkuStat[];
  /** Order ids per customer country: a map of lists of strings. */
  @Field(8, { map: ['string', ['string']] }) ordersByCountry!: Map<string, string[]>;
  /** How many orders each worker enriched, keyed `pid@host`. */
  @Field(9, { map: ['string', 'uint32'] }) enrichedByWorker!: Map<string, number>;
  @Field(10, () => WorkerRef) reportedBy!: WorkerRef;
  @Field(11) generatedAt!: Date;
  /** Who ingested the batch (from the orders' BatchRef). */
  @Field(12, () => WorkerRef) ingestedBy!: WorkerRef;
}
