import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { ChannelSchema, type Channel } from '@notify/contracts';

const RouteSchema = z.strictObject({
  channels: z.array(ChannelSchema).min(1),
});
export type Route = z.infer<typeof RouteSchema>;

const RouteFileSchema = z.strictObject({
  version: z.literal(1),
  routes: z.record(z.string().min(1), RouteSchema),
});

export class RouteTableError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`route table ${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'RouteTableError';
  }
}

/** Routes by notification type; `default` catches every type not listed. */
export class RouteTable {
  private constructor(private readonly routes: ReadonlyMap<string, Route>) {}

  static load(file: string): RouteTable {
    let document: unknown;
    try {
      document = parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new RouteTableError(file, [error instanceof Error ? error.message : String(error)]);
    }
    return RouteTable.from(document, file);
  }

  static from(document: unknown, source = 'route table'): RouteTable {
    const parsed = RouteFileSchema.safeParse(document);
    if (!parsed.success) {
      throw new RouteTableError(
        source,
        parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
      );
    }
    return new RouteTable(new Map(Object.entries(parsed.data.routes)));
  }

  /** The route of a type, or undefined when neither the type nor `default` is listed. */
  resolve(type: string): Route | undefined {
    return this.routes.get(type) ?? this.routes.get('default');
  }

  /** The request's own channel list overrides the route's (contract section 1). */
  channelsFor(route: Route, requested: readonly Channel[] | undefined): Channel[] {
    return [...new Set(requested ?? route.channels)];
  }
}
