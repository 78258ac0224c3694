import { Ctor, EnumObject, EnumRecord, FieldRecord, MessageRecord, TaskRecord } from './types';

/** The registry key of a task: `name@version`. */
export function taskRef(name: string, version: number): string {
  return `${name}@${version}`;
}

/**
 * The one place decorator records live.
 *
 * @remarks
 * Decorators only push plain records here; the schema builder in `core/schema` reads them,
 * validates them and turns them into schemas. Records are keyed by class so that a subclass never
 * sees its parent's fields by accident (inheritance is resolved by the builder, explicitly).
 */
export class MetadataStorage {
  private readonly messages = new Map<Ctor, MessageRecord>();
  private readonly messagesByName = new Map<string, MessageRecord>();
  private readonly fields = new Map<Ctor, FieldRecord[]>();
  private readonly enums = new Map<EnumObject, EnumRecord>();
  private readonly tasks = new Map<Ctor, TaskRecord>();
  private readonly tasksByRef = new Map<string, TaskRecord>();

  /** Records a class marked with `@Output`. */
  collectMessage(record: MessageRecord): void {
    this.messages.set(record.target, record);
    this.messagesByName.set(record.fullName, record);
  }

  /** Records a property marked with `@Field`. */
  collectField(record: FieldRecord): void {
    const list = this.fields.get(record.target);
    if (list) list.push(record);
    else this.fields.set(record.target, [record]);
  }

  /** Records an enum registered with `registerEnum`. */
  collectEnum(record: EnumRecord): void {
    this.enums.set(record.enumObject, record);
  }

  /** Records a class marked with `@Task`. */
  collectTask(record: TaskRecord): void {
    const previous = this.tasks.get(record.target);
    if (previous) this.tasksByRef.delete(taskRef(previous.name, previous.version));
    this.tasks.set(record.target, record);
    this.tasksByRef.set(taskRef(record.name, record.version), record);
  }

  /** The `@Task` record of a class, if it has one (not inherited). */
  task(target: Ctor): TaskRecord | undefined {
    return this.tasks.get(target);
  }

  /** The `@Task` record holding `name` at `version`, if any. */
  taskByName(name: string, version: number): TaskRecord | undefined {
    return this.tasksByRef.get(taskRef(name, version));
  }

  /** Every `@Task` record, in decoration order. */
  allTasks(): readonly TaskRecord[] {
    return [...this.tasks.values()];
  }

  /** The `@Output` record of a class, if it has one. */
  message(target: Ctor): MessageRecord | undefined {
    return this.messages.get(target);
  }

  /** The `@Output` record holding a full name, if any. */
  messageByName(fullName: string): MessageRecord | undefined {
    return this.messagesByName.get(fullName);
  }

  /** The fields declared directly on a class (not inherited), in declaration order. */
  ownFields(target: Ctor): readonly FieldRecord[] {
    return this.fields.get(target) ?? [];
  }

  /** The registration of an enum object, if any. */
  enumRecord(enumObject: EnumObject): EnumRecord | undefined {
    return this.enums.get(enumObject);
  }

  /** Forgets everything. For tests only. */
  clear(): void {
    this.messages.clear();
    this.messagesByName.clear();
    this.fields.clear();
    this.enums.clear();
    this.tasks.clear();
    this.tasksByRef.clear();
  }
}

const GLOBAL_KEY = Symbol.for('weft.metadata-storage');

/**
 * The process-wide storage. It sits on `globalThis` under a registered symbol so that two copies
 * of the package in one process (a common npm accident) still share one registry.
 */
export function getMetadataStorage(): MetadataStorage {
  const g = globalThis as unknown as Record<symbol, MetadataStorage | undefined>;
  return (g[GLOBAL_KEY] ??= new MetadataStorage());
}
