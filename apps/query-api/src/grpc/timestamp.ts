/** google.protobuf.Timestamp as @grpc/proto-loader hands it over (64-bit seconds as a string). */
export interface WireTimestamp {
  seconds?: string | number;
  nanos?: number;
}

/** RFC 3339's range, which google.protobuf.Timestamp is limited to. */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

/** Seconds as a number: protobufjs encodes it directly, where a string would be parsed into a Long first. */
export function toTimestamp(at: Date): WireTimestamp {
  const ms = at.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

export function toOptionalTimestamp(at: Date | null | undefined): WireTimestamp | undefined {
  return at ? toTimestamp(at) : undefined;
}

/** The instant, to the millisecond; undefined when the timestamp is out of range. */
export function fromTimestamp(value: WireTimestamp): Date | undefined {
  const seconds = Number(value.seconds ?? 0);
  const nanos = value.nanos ?? 0;
  if (!Number.isInteger(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS) return undefined;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) return undefined;
  return new Date(seconds * 1000 + Math.floor(nanos / 1_000_000));
}
