import type { App } from "cdktf";

/** Typed reads of an example's `<prefix>.*` cdktf context values (every value may be a string). */
export interface ExampleContext {
  text(key: string): string | undefined;
  integer(key: string, fallback: number): number;
  /** "true" / "false"; `fallback` when unset. */
  flag(key: string, fallback: boolean): boolean;
  /** A JSON list or a comma-separated string. */
  list(key: string): string[] | undefined;
}

export function exampleContext(app: App, prefix: string): ExampleContext {
  const raw = (key: string): unknown => app.node.tryGetContext(`${prefix}.${key}`);
  const fail = (key: string, what: string, value: unknown): never => {
    throw new Error(`${prefix} example: context ${prefix}.${key} must be ${what}, got ${JSON.stringify(value)}`);
  };
  const text = (key: string): string | undefined => {
    const value = raw(key);
    return value === undefined || value === null || value === "" ? undefined : String(value);
  };
  return {
    text,
    integer(key, fallback) {
      const given = text(key);
      if (given === undefined) return fallback;
      const n = Number(given);
      return Number.isInteger(n) ? n : fail(key, "a whole number", raw(key));
    },
    flag(key, fallback) {
      const given = text(key);
      if (given === undefined) return fallback;
      return given === "true" || given === "false" ? given === "true" : fail(key, "true or false", raw(key));
    },
    list(key) {
      const value = raw(key);
      if (Array.isArray(value)) return value.map(String);
      const given = text(key);
      if (given === undefined) return undefined;
      if (given.trim().startsWith("[")) return (JSON.parse(given) as unknown[]).map(String);
      return given.split(",").map((s) => s.trim()).filter((s) => s !== "");
    },
  };
}
