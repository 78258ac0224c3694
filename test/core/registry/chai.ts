/**
 * Typed access to chai's `expect` for the registry and plugin suites. chai 6 has no bundled
 * declarations and `@types/chai` is not in devDependencies; once it is, import from 'chai' directly.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseAssertion = any;
/** chai's `expect`, loosely typed. */
export type Expect = (actual: unknown, message?: string) => LooseAssertion;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const expect: Expect = (require('chai') as { expect: Expect }).expect;
