import { Run, Task } from '../decorators';
import type { TaskContext } from '../core';
import { Invoice, Order } from './messages';

/** Prices an order: a task that any worker with this module can run. */
@Task('shop.priceOrder', { queue: 'shop', output: () => Invoice })
export class PriceOrder {
  @Run()
  async run(order: Order, ctx: TaskContext): Promise<Invoice> {
    await ctx.progress({ pricing: order.items.length });
    const totalCents = order.items.reduce((sum, item) => sum + item.totalCents, 0n);
    return Object.assign(new Invoice(), { orderId: order.id, totalCents, lines: order.items.length });
  }
}
