/**
 * A small semver range matcher for plugin dependencies. It covers the range forms plugin authors
 * write: `*`, `1`, `1.2`, `1.x`, `1.2.3`, `^1.2.3`, `~1.2.3`, `>=1.2.0`, `>1`, `<2`, `<=2.1`,
 * space-separated conjunctions (`>=1.2 <2`) and `||` alternatives. Pre-release tags are ignored
 * for matching (`1.2.3-beta` counts as `1.2.3`).
 *
 * @packageDocumentation
 */

type Triple = [number, number, number];

/** Parses `1.2.3` (missing parts are 0; a leading `v` and any pre-release or build tag are ignored). */
export function parseVersion(version: string): Triple | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?$/.exec(version.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

function compare(a: Triple, b: Triple): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * `true` when `version` satisfies `range`.
 *
 * @example
 * ```ts
 * satisfies('1.4.0', '^1.2.0');      // true
 * satisfies('2.0.0', '>=1.2 <2');    // false
 * satisfies('0.3.1', '0.3.x || 1');  // true
 * ```
 */
export function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  if (!v) return false;
  return range.split('||').some((alt) => {
    const parts = alt.trim().split(/\s+/).filter(Boolean);
    return parts.length === 0 || parts.every((p) => matchOne(v, p));
  });
}

/** `true` when `range` is a form {@link satisfies} understands. */
export function isValidRange(range: string): boolean {
  return range.split('||').every((alt) => alt.trim().split(/\s+/).filter(Boolean).every((p) => parseComparator(p) !== undefined));
}

interface Comparator { lo?: Triple; loInclusive?: boolean; hi?: Triple; hiInclusive?: boolean }

function matchOne(v: Triple, part: string): boolean {
  const c = parseComparator(part);
  if (!c) return false;
  if (c.lo && (c.loInclusive ? compare(v, c.lo) < 0 : compare(v, c.lo) <= 0)) return false;
  if (c.hi && (c.hiInclusive ? compare(v, c.hi) > 0 : compare(v, c.hi) >= 0)) return false;
  return true;
}

function parseComparator(part: string): Comparator | undefined {
  const m = /^(\^|~|>=|<=|>|<|=)?v?(\*|x|X|\d+)(?:\.(\*|x|X|\d+))?(?:\.(\*|x|X|\d+))?(?:[-+].*)?$/.exec(part);
  if (!m) return undefined;
  const op = m[1] ?? '';
  const raw = [m[2], m[3], m[4]];
  // How many leading parts are given as numbers (1.2.x -> 2).
  let given = 0;
  while (given < 3 && raw[given] !== undefined && /^\d+$/.test(raw[given] as string)) given++;
  const n: Triple = [0, 1, 2].map((i) => (i < given ? Number(raw[i]) : 0)) as Triple;
  const bump = (level: number): Triple => {
    const t: Triple = [...n];
    t[level] += 1;
    for (let i = level + 1; i < 3; i++) t[i] = 0;
    return t;
  };
  if (given === 0) return op === '' || op === '=' || op === '>=' || op === '<=' ? {} : undefined;
  switch (op) {
    case '':
    case '=':
      return given === 3 ? { lo: n, loInclusive: true, hi: n, hiInclusive: true } : { lo: n, loInclusive: true, hi: bump(given - 1) };
    case '^': {
      // The first non-zero part given stays fixed.
      const level = n[0] !== 0 || given === 1 ? 0 : n[1] !== 0 || given === 2 ? 1 : 2;
      return { lo: n, loInclusive: true, hi: bump(level) };
    }
    case '~':
      return { lo: n, loInclusive: true, hi: bump(given >= 2 ? 1 : 0) };
    case '>=':
      return { lo: n, loInclusive: true };
    case '>':
      return given === 3 ? { lo: n, loInclusive: false } : { lo: bump(given - 1), loInclusive: true };
    case '<':
      return { hi: n };
    case '<=':
      return given === 3 ? { hi: n, hiInclusive: true } : { hi: bump(given - 1) };
    default:
      return undefined;
  }
}
