/**
 * Formatting helpers for the sample's console output.
 */
import type { Report, WorkerRef } from './messages';

/** `123456n, 'EUR'` → `EUR 1,234.56`. */
export function money(cents: bigint, currency: string): string {
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  const units = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${currency} ${units}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/** `pid 1234@host`. */
export function workerLabel(w: WorkerRef | undefined): string {
  return w ? `pid ${w.pid}@${w.host}` : 'an unknown worker';
}

/** The final summary, one line per fact. */
export function summaryLines(report: Report): string[] {
  const byWorker = [...report.enrichedByWorker].sort(([a], [b]) => a.localeCompare(b));
  return [
    `== report for batch ${report.batchId} ==`,
    `orders: ${report.orderCount}, lines: ${report.lineCount}, units: ${report.unitCount}`,
    `revenue by currency: ${[...report.revenueByCurrency].map(([c, v]) => money(v, c)).join(' | ')}`,
    `revenue in EUR: ${money(report.revenueEurCents, 'EUR')}`,
    `top SKUs: ${report.topSkus.map((s, i) => `${i + 1}. ${s.sku} ${s.title} x${s.units} (${money(s.revenueEurCents, 'EUR')})`).join(', ')}`,
    `orders by country: ${[...report.ordersByCountry].map(([c, ids]) => `${c} ${ids.length}`).join(', ')}`,
    `ingested by ${workerLabel(report.ingestedBy)}`,
    `enriched by: ${byWorker.map(([w, n]) => `pid ${w} (${n} orders)`).join(', ')}`,
    `report built by ${workerLabel(report.reportedBy)} at ${report.generatedAt.toISOString()}`,
  ];
}
