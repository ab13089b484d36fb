/** Decoding of what @grpc/proto-loader hands over: timestamps, structs, and proto3's empty-means-absent. */

export interface WireTimestamp {
  seconds?: string;
  nanos?: number;
}

export function toTimestamp(at: Date): WireTimestamp {
  const ms = at.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

export function fromTimestamp(value: WireTimestamp): Date;
export function fromTimestamp(value: WireTimestamp | undefined | null): Date | undefined;
export function fromTimestamp(value: WireTimestamp | undefined | null): Date | undefined {
  if (!value) return undefined;
  return new Date(Number(value.seconds ?? 0) * 1000 + Math.floor((value.nanos ?? 0) / 1_000_000));
}

interface WireValue {
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: WireStruct;
  listValue?: { values?: WireValue[] };
}

export interface WireStruct {
  fields?: Record<string, WireValue>;
}

export function fromStruct(value: WireStruct | undefined | null): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value?.fields ?? {}).map(([key, item]) => [key, fromValue(item)]));
}

function fromValue(value: WireValue): unknown {
  if (value.numberValue !== undefined) return value.numberValue;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.structValue !== undefined) return fromStruct(value.structValue);
  if (value.listValue !== undefined) return (value.listValue.values ?? []).map(fromValue);
  return null;
}

/** proto3 sends no empty strings: an absent field is undefined here, which the typed results keep. */
export function present(value: string | undefined | null): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : value;
}
