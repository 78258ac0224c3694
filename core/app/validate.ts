import {
  PluginDependencyCycleError, PluginDependencyMissingError, PluginDuplicateError, PluginInvalidError,
  PluginVersionMismatchError, PortConflictError, PortMissingError,
} from './errors';
import { PLUGIN_API_VERSION, type Plugin, type PluginDependency } from './plugin';
import { PORTS, RUNTIME_PORTS, isPortName, type PortName } from './tokens';
import { isValidRange, parseVersion, satisfies } from './version';

/** Options of {@link validatePlugins}. */
export interface ValidateOptions {
  /**
   * Ports that must be filled. Default {@link RUNTIME_PORTS} (`transport`, `schemaStore`, `dispatchStore`). `logger`
   * is always filled (the bootstrap provides a default), so listing it changes nothing.
   */
  readonly requiredPorts?: readonly PortName[];
}

/** A plugin set that passed {@link validatePlugins}. */
export interface ValidatedPlugins {
  /** The plugins in initialisation order (dependencies first; otherwise as given). */
  readonly ordered: readonly Plugin[];
  /** For each provided port, the names of the plugins providing it. */
  readonly providers: ReadonlyMap<PortName, readonly string[]>;
}

const EMBEDDED_HINT =
  'Pass memoryPlugin() to run embedded, redisPlugin({ url }) to run distributed, or ' +
  'pluginsFromEnv(process.env, defaultCatalog()) to choose by WEFT_TRANSPORT / REDIS_URL.';

/**
 * Checks a plugin set without running any of it, and returns it in initialisation order.
 *
 * Checks, each a coded error whose message says how to fix it:
 * - each plugin has the contract's shape (`WEFT_PLUGIN_INVALID`);
 * - names are unique (`WEFT_PLUGIN_DUPLICATE`);
 * - `apiVersion`, when set, is {@link PLUGIN_API_VERSION} (`WEFT_PLUGIN_VERSION_MISMATCH`);
 * - a single-provider port has at most one provider (`WEFT_PORT_CONFLICT`);
 * - required ports and every plugin's `requires` are provided (`WEFT_PORT_MISSING`);
 * - every `dependsOn` is present (`WEFT_PLUGIN_DEPENDENCY_MISSING`) and its version is in range
 *   (`WEFT_PLUGIN_VERSION_MISMATCH`);
 * - dependencies do not form a cycle (`WEFT_PLUGIN_DEPENDENCY_CYCLE`).
 *
 * @example
 * ```ts
 * const { ordered } = validatePlugins([redisPlugin({ url }), auditPlugin()]);
 * ordered.map((p) => p.name); // ['redis', 'audit']
 * ```
 */
export function validatePlugins(plugins: readonly Plugin[], options: ValidateOptions = {}): ValidatedPlugins {
  plugins.forEach(checkShape);

  const byName = new Map<string, Plugin>();
  const positions = new Map<string, number[]>();
  plugins.forEach((p, i) => positions.set(p.name, [...(positions.get(p.name) ?? []), i]));
  for (const [name, at] of positions) if (at.length > 1) throw new PluginDuplicateError(name, at);
  for (const p of plugins) byName.set(p.name, p);

  for (const p of plugins) {
    if (p.apiVersion !== undefined && p.apiVersion !== PLUGIN_API_VERSION) {
      throw new PluginVersionMismatchError(p.name, 'the Weft plugin API version', String(p.apiVersion), String(PLUGIN_API_VERSION));
    }
  }

  const providers = new Map<PortName, string[]>();
  for (const p of plugins) {
    for (const port of new Set(p.provides)) providers.set(port, [...(providers.get(port) ?? []), p.name]);
  }
  for (const [port, names] of providers) {
    if (!PORTS[port].multiple && names.length > 1) throw new PortConflictError(port, names);
  }

  for (const port of options.requiredPorts ?? RUNTIME_PORTS) {
    if (port !== 'logger' && !providers.has(port)) {
      throw new PortMissingError(port, 'the Weft runtime', port === 'transport' || port === 'schemaStore' || port === 'dispatchStore'
        ? EMBEDDED_HINT
        : `Add a plugin that provides "${port}" (${PORTS[port].description}).`);
    }
  }
  for (const p of plugins) {
    for (const port of p.requires ?? []) {
      if (port !== 'logger' && !providers.has(port)) {
        throw new PortMissingError(port, `plugin "${p.name}"`,
          `Add a plugin that provides "${port}" (${PORTS[port].description}), or remove "${p.name}".`);
      }
    }
  }

  const edges = new Map<string, string[]>();
  for (const p of plugins) {
    const before = new Set<string>();
    for (const d of p.dependsOn ?? []) {
      const dep = normalizeDependency(p.name, d);
      const target = byName.get(dep.name);
      if (!target) throw new PluginDependencyMissingError(p.name, dep.name, plugins.map((x) => x.name));
      if (dep.version !== undefined) {
        if (target.version === undefined) {
          throw new PluginVersionMismatchError(p.name, `plugin "${dep.name}"`, dep.version, 'a plugin that declares no version');
        }
        if (!satisfies(target.version, dep.version)) {
          throw new PluginVersionMismatchError(p.name, `plugin "${dep.name}"`, dep.version, target.version);
        }
      }
      before.add(dep.name);
    }
    for (const port of p.requires ?? []) for (const provider of providers.get(port) ?? []) before.add(provider);
    before.delete(p.name);
    edges.set(p.name, [...before]);
  }

  return { ordered: order(plugins, edges), providers };
}

function checkShape(p: Plugin, index: number): void {
  const label = typeof p?.name === 'string' && p.name ? `"${p.name}"` : `#${index}`;
  if (p === null || typeof p !== 'object') throw new PluginInvalidError(label, `expected an object, got ${p === null ? 'null' : typeof p}`);
  if (typeof p.name !== 'string' || p.name.trim() === '') throw new PluginInvalidError(label, 'name must be a non-empty string');
  if (!Array.isArray(p.provides)) throw new PluginInvalidError(label, 'provides must be an array of port names (it may be empty)');
  for (const list of [p.provides, p.requires ?? []]) {
    if (!Array.isArray(list)) throw new PluginInvalidError(label, 'requires must be an array of port names');
    for (const port of list) {
      if (!isPortName(port)) {
        throw new PluginInvalidError(label, `unknown port ${JSON.stringify(port)}; ports are ${Object.keys(PORTS).join(', ')}`);
      }
    }
  }
  if (typeof p.register !== 'function') throw new PluginInvalidError(label, 'register must be a function');
  for (const hook of ['init', 'close'] as const) {
    if (p[hook] !== undefined && typeof p[hook] !== 'function') throw new PluginInvalidError(label, `${hook} must be a function when present`);
  }
  if (p.version !== undefined && (typeof p.version !== 'string' || !parseVersion(p.version))) {
    throw new PluginInvalidError(label, `version ${JSON.stringify(p.version)} is not a semver version such as 1.2.3`);
  }
  if (p.dependsOn !== undefined && !Array.isArray(p.dependsOn)) throw new PluginInvalidError(label, 'dependsOn must be an array');
  for (const d of p.dependsOn ?? []) normalizeDependency(label, d);
}

function normalizeDependency(plugin: string, d: string | PluginDependency): PluginDependency {
  const dep = typeof d === 'string' ? { name: d } : d;
  if (dep === null || typeof dep !== 'object' || typeof dep.name !== 'string' || dep.name === '') {
    throw new PluginInvalidError(plugin, `dependsOn entry ${JSON.stringify(d)} is neither a plugin name nor { name, version? }`);
  }
  if (dep.version !== undefined && (typeof dep.version !== 'string' || !isValidRange(dep.version))) {
    throw new PluginInvalidError(plugin, `dependsOn ${dep.name}: ${JSON.stringify(dep.version)} is not a version range`);
  }
  return dep;
}

/** Stable topological order: repeatedly take the earliest plugin whose predecessors are placed. */
function order(plugins: readonly Plugin[], edges: ReadonlyMap<string, readonly string[]>): Plugin[] {
  const placed = new Set<string>();
  const out: Plugin[] = [];
  while (out.length < plugins.length) {
    const next = plugins.find((p) => !placed.has(p.name) && (edges.get(p.name) ?? []).every((d) => placed.has(d)));
    if (!next) throw new PluginDependencyCycleError(findCycle(plugins.filter((p) => !placed.has(p.name)), edges));
    placed.add(next.name);
    out.push(next);
  }
  return out;
}

function findCycle(remaining: readonly Plugin[], edges: ReadonlyMap<string, readonly string[]>): string[] {
  const names = new Set(remaining.map((p) => p.name));
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    const at = path.indexOf(n);
    if (at >= 0) return [...path.slice(at), n];
    path.push(n);
    for (const d of edges.get(n) ?? []) {
      if (names.has(d)) {
        const c = visit(d);
        if (c) return c;
      }
    }
    path.pop();
    return undefined;
  };
  // Every remaining plugin waits on another remaining one, so a walk from any of them loops.
  return visit(remaining[0].name) ?? remaining.map((p) => p.name);
}
