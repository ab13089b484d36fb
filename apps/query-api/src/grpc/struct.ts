/** google.protobuf.Value / Struct as @grpc/proto-loader serializes them from plain objects. */
export type WireValue =
  | { nullValue: 'NULL_VALUE' }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: WireStruct }
  | { listValue: { values: WireValue[] } };

export interface WireStruct {
  fields: Record<string, WireValue>;
}

/** A JSON object (a jsonb column) as a google.protobuf.Struct. */
export function toStruct(value: Record<string, unknown>): WireStruct {
  return { fields: Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toValue(item)])) };
}

function toValue(value: unknown): WireValue {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  if (typeof value === 'object') return { structValue: toStruct(value as Record<string, unknown>) };
  return { stringValue: String(value) };
}
