/**
 * The services the sample's tasks get through their constructors (tsyringe).
 *
 * Two styles of injection are shown:
 * - by class: {@link ProductCatalog} and {@link OrderFeed} are `@singleton()` classes; a task
 *   declares a constructor parameter of that type and the container builds and shares one instance;
 * - by token: {@link FxRates} is an interface, so a task asks for it with `@inject(FX_RATES)`, and
 *   {@link sampleServicesPlugin} registers an implementation into each app's container.
 */
import { hostname } from 'node:os';
import { singleton } from 'tsyringe';
import type { Plugin } from '../core/app';
import { WeftError } from '../core';
import { Address, Customer, IncomingOrder, OrderLine, Priority, Tier, WorkerRef } from './messages';

/** One product of the catalog. Prices are in EUR cents. */
export interface Product {
  readonly sku: string;
  readonly title: string;
  readonly category: string;
  readonly priceEurCents: bigint;
}

const PRODUCTS: readonly Product[] = [
  { sku: 'KB-101', title: 'Mechanical keyboard', category: 'peripherals', priceEurCents: 4999n },
  { sku: 'MS-7', title: 'Wireless mouse', category: 'peripherals', priceEurCents: 2599n },
  { sku: 'MN-27', title: '27" monitor', category: 'displays', priceEurCents: 21900n },
  { sku: 'MN-32', title: '32" 4K monitor', category: 'displays', priceEurCents: 44900n },
  { sku: 'HB-4', title: 'USB-C hub', category: 'accessories', priceEurCents: 3450n },
  { sku: 'CB-2M', title: 'USB-C cable 2 m', category: 'accessories', priceEurCents: 990n },
  { sku: 'HS-9', title: 'Headset', category: 'audio', priceEurCents: 7900n },
  { sku: 'SP-2', title: 'Desk speakers', category: 'audio', priceEurCents: 5900n },
];

/** A SKU the catalog does not list: a final error (retrying cannot help). */
export class UnknownSkuError extends WeftError {
  /** Read by the worker's retry policy: this failure is final, it goes to the dead letters at once. */
  readonly retryable = false;

  constructor(readonly sku: string) {
    super('SAMPLE_UNKNOWN_SKU', `SKU ${JSON.stringify(sku)} is not in the catalog; fix the order or add the product to ProductCatalog`);
  }
}

/** The product catalog: titles, categories and EUR prices by SKU. Injected by class. */
@singleton()
export class ProductCatalog {
  private readonly bySku = new Map(PRODUCTS.map((p) => [p.sku, p]));

  /** Every SKU, in catalog order. */
  skus(): readonly string[] {
    return PRODUCTS.map((p) => p.sku);
  }

  /** The product of `sku`. @throws {@link UnknownSkuError} when the catalog has no such SKU. */
  product(sku: string): Product {
    const p = this.bySku.get(sku);
    if (!p) throw new UnknownSkuError(sku);
    return p;
  }
}

/** Exchange rates from EUR, as integers in millionths (1.08 → 1_080_000), so that money stays exact. */
export interface FxRates {
  /** How many millionths of `currency` one EUR buys. @throws {@link UnknownCurrencyError} for an unknown currency. */
  eurTo(currency: string): bigint;
}

/** DI token of {@link FxRates}. */
export const FX_RATES = Symbol.for('sample.FxRates');

/** A currency without a rate: a final error. */
export class UnknownCurrencyError extends WeftError {
  /** Read by the worker's retry policy: this failure is final. */
  readonly retryable = false;

  constructor(readonly currency: string, known: readonly string[]) {
    super('SAMPLE_UNKNOWN_CURRENCY', `no EUR rate for ${JSON.stringify(currency)} (known: ${known.join(', ')}); add it to the FX table`);
  }
}

/** An {@link FxRates} over a fixed table. */
export class StaticFxRates implements FxRates {
  constructor(private readonly micros: ReadonlyMap<string, bigint>) {}

  eurTo(currency: string): bigint {
    const rate = this.micros.get(currency);
    if (rate === undefined) throw new UnknownCurrencyError(currency, [...this.micros.keys()]);
    return rate;
  }
}

/** The demo's rates. */
export const DEMO_FX_MICROS: ReadonlyMap<string, bigint> = new Map([
  ['EUR', 1_000_000n], ['USD', 1_080_000n], ['GBP', 855_000n], ['CHF', 960_000n],
]);

/**
 * A plugin that fills no port and only registers the sample's {@link FxRates} into the app's
 * container: this is how a service reaches tasks that ask for it with `@inject(FX_RATES)`.
 */
export function sampleServicesPlugin(rates: FxRates = new StaticFxRates(DEMO_FX_MICROS)): Plugin {
  return {
    name: 'sample-services',
    provides: [],
    register(container) {
      container.registerInstance(FX_RATES, rates);
    },
  };
}

const CUSTOMERS: readonly { id: string; name: string; city: string; country: string; currency: string; tier: Tier }[] = [
  { id: 'c-ada', name: 'Ada Byron', city: 'London', country: 'GB', currency: 'GBP', tier: Tier.Platinum },
  { id: 'c-kurt', name: 'Kurt Gödel', city: 'Wien', country: 'AT', currency: 'EUR', tier: Tier.Gold },
  { id: 'c-emmy', name: 'Emmy Noether', city: 'Erlangen', country: 'DE', currency: 'EUR', tier: Tier.Standard },
  { id: 'c-grace', name: 'Grace Hopper', city: 'New York', country: 'US', currency: 'USD', tier: Tier.Gold },
  { id: 'c-alan', name: 'Alan Turing', city: 'Manchester', country: 'GB', currency: 'GBP', tier: Tier.Standard },
  { id: 'c-marie', name: 'Marie Curie', city: 'Paris', country: 'FR', currency: 'EUR', tier: Tier.Standard },
  { id: 'c-leon', name: 'Leonhard Euler', city: 'Basel', country: 'CH', currency: 'CHF', tier: Tier.Gold },
  { id: 'c-katherine', name: 'Katherine Johnson', city: 'Hampton', country: 'US', currency: 'USD', tier: Tier.Standard },
];

const CHANNELS = ['web', 'app', 'phone'] as const;

/**
 * The demo's order source: a deterministic generator (the same batch id and seed give the same
 * orders on every machine), standing in for a file drop, an API or a database. Injected by class.
 */
@singleton()
export class OrderFeed {
  constructor(private readonly catalog: ProductCatalog) {}

  /** `count` orders of batch `batchId`. */
  read(batchId: string, count: number, seed: number): IncomingOrder[] {
    const next = mulberry32(seed ^ hash(batchId));
    const skus = this.catalog.skus();
    const start = Date.UTC(2026, 10, 25, 8, 0, 0);
    return Array.from({ length: count }, (_, i) => {
      const c = CUSTOMERS[Math.floor(next() * CUSTOMERS.length)]!;
      const lineCount = 1 + Math.floor(next() * 3);
      const picked = new Set<string>();
      while (picked.size < lineCount) picked.add(skus[Math.floor(next() * skus.length)]!);
      const tags = new Map<string, string>([['channel', CHANNELS[Math.floor(next() * CHANNELS.length)]!]]);
      if (next() < 0.3) tags.set('campaign', 'black-friday');
      return Object.assign(new IncomingOrder(), {
        id: `${batchId}-${String(i + 1).padStart(3, '0')}`,
        customer: Object.assign(new Customer(), {
          id: c.id, name: c.name, tier: c.tier,
          address: Object.assign(new Address(), { city: c.city, country: c.country }),
        }),
        lines: [...picked].map((sku) => Object.assign(new OrderLine(), { sku, quantity: 1 + Math.floor(next() * 4) })),
        currency: c.currency,
        placedAt: new Date(start + i * 97_000),
        tags,
        priority: next() < 0.2 ? Priority.High : Priority.Normal,
      });
    });
  }
}

/** This process, as it appears in the pipeline's outputs. */
export function thisWorker(): WorkerRef {
  return Object.assign(new WorkerRef(), { host: hostname(), pid: process.pid });
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
