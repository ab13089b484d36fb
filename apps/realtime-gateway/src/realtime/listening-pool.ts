import type { Pool, PoolClient } from 'pg';
import type { AppLogger } from '@notify/observability';

/**
 * The pool as the cluster adapter uses it, but its LISTEN connection is watched: the adapter keeps
 * that connection out of the pool with no `error` listener, so a database restart (or a terminated
 * backend) threw an unhandled 'error' and stopped the gateway. Failed or ended, the connection is
 * given back to be destroyed, and the adapter, told by its `end`, takes a new one.
 *
 * And one at a time: a connection that dies while the adapter sets up its LISTEN makes the adapter
 * schedule two reconnections (one for the `end`, one for the failed query), and two LISTEN
 * connections emitted every message from the other gateways twice and answered their counts of
 * clients twice. A checkout waits until the connection before it has been given back.
 *
 * `close`, before the adapters close, ends the handing out: a checkout waiting for the connection
 * the adapter then gives back would take one that nobody gives back.
 *
 * `listening` tells since when the LISTEN connection has listened, `lostOne` whether one was lost
 * before (its connection failed or ended, or its LISTEN was refused), and `onListening` hears each
 * time it listens again: a gateway deaf for over the adapter's heartbeat timeout (10 s) has dropped the other
 * gateways from its cluster, and the adapter does not announce itself again when it hears again, so
 * until their next heartbeat (up to 5 s) every emit for a user connected elsewhere was judged
 * `offline` though that gateway delivered it, and the fallback pushed it too.
 *
 * `drained` waits for the adapter's queries still under way. It publishes without waiting (its
 * counts of clients, the acknowledgements it relays for the other gateways' emits, its goodbye),
 * and once the pool's `end` is called, pg-pool neither serves nor fails a query still waiting for a
 * connection: a gateway shutting down behind a queue of them lost an acknowledgement the browser
 * had given, and the emitting gateway took the message for unanswered.
 */
export function listeningPool(pool: Pool, logger: AppLogger, onListening: () => void = () => undefined): ListeningPool {
  let previous: Promise<void> = Promise.resolve();
  let closed = false;
  let listeningSince: number | undefined;
  /** Since when the pool has had no LISTEN in place: from its start until the first one. */
  let silentSince: number | undefined = Date.now();
  let lost = false;
  const connect = async (): Promise<PoolClient> => {
    const before = previous;
    let givenBack!: () => void;
    previous = new Promise((resolve) => (givenBack = resolve));
    await before;
    if (closed) return never();
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      givenBack();
      throw error;
    }
    if (closed) {
      client.release();
      return never();
    }
    const release = client.release;
    const clientQuery = client.query;
    let givenBackOnce = false;
    // The adapter's LISTEN on this connection: once it is in place, the connection hears the cluster.
    // Refused on a connection that stays up (a server in recovery, after a failover, refuses LISTEN),
    // the connection is given back here: the adapter schedules a new one but never gives that one back,
    // and every later checkout waited for it, so the gateway never heard the cluster again.
    client.query = ((...args: unknown[]) => {
      const sent = (clientQuery as (...queryArgs: unknown[]) => unknown).apply(client, args);
      if (typeof args[0] === 'string' && args[0].startsWith('LISTEN') && sent instanceof Promise) {
        sent.then(
          () => {
            listeningSince = Date.now();
            silentSince = undefined;
            onListening();
          },
          (err: unknown) => {
            if (givenBackOnce) return;
            logger.warn({ err }, 'socket.io adapter LISTEN refused; its connection is given back and it reconnects');
            // The adapter schedules its reconnection for the refusal; its `end` listener would schedule
            // another as the connection closes, and each refusal would double the checkouts waiting.
            client.removeAllListeners('end');
            lost = true;
            giveBack(err instanceof Error ? err : new Error(String(err)));
          },
        );
      }
      return sent;
    }) as typeof client.query;
    const onError = (err: Error): void => {
      logger.warn({ err }, 'socket.io adapter LISTEN connection lost; it reconnects');
      lost = true;
      giveBack(err);
    };
    const onEnd = (): void => {
      lost = true;
      giveBack(new Error('socket.io adapter LISTEN connection ended'));
    };
    // Once given back (by the adapter as it closes, or here), the client may serve another checkout.
    const giveBack = (err?: Error | boolean): void => {
      if (givenBackOnce) return;
      givenBackOnce = true;
      client.removeListener('error', onError);
      client.removeListener('end', onEnd);
      client.release = release;
      client.query = clientQuery;
      if (listeningSince !== undefined) silentSince = Date.now();
      listeningSince = undefined;
      release(err);
      givenBack();
    };
    client.release = giveBack;
    client.on('error', onError);
    client.on('end', onEnd);
    return client;
  };
  const close = (): void => void (closed = true);
  const underWay = new Set<Promise<unknown>>();
  const query = (...args: unknown[]): Promise<unknown> => {
    const sent = (pool.query as (...queryArgs: unknown[]) => Promise<unknown>)(...args);
    underWay.add(sent);
    const done = (): void => void underWay.delete(sent);
    sent.then(done, done);
    return sent;
  };
  const drained = async (withinMs: number): Promise<void> => {
    const deadline = Date.now() + withinMs;
    // Again while any remain: a query can start while the others are waited for.
    while (underWay.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...underWay]), new Promise((late) => (timer = setTimeout(late, deadline - Date.now())))]);
      clearTimeout(timer);
    }
  };
  const listening = (now: number): number | undefined => (listeningSince === undefined ? undefined : now - listeningSince);
  const silentFor = (now: number): number | undefined => (silentSince === undefined ? undefined : now - silentSince);
  return Object.assign({ query, connect } as unknown as Pool, { close, drained, listening, silentFor, lostOne: () => lost });
}

/**
 * The adapter's pool; `close`: from then on no connection is handed out; `drained`: resolves once
 * no query of the adapter is under way, or after `withinMs`; `listening`: for how long the LISTEN
 * connection has listened, undefined while it does not; `silentFor`: for how long it has had no LISTEN
 * in place (since its start, or since it lost one), undefined while it has; `lostOne`: whether a
 * LISTEN connection was lost.
 */
export type ListeningPool = Pool & {
  close(): void;
  drained(withinMs: number): Promise<void>;
  listening(now: number): number | undefined;
  silentFor(now: number): number | undefined;
  lostOne(): boolean;
};

/**
 * A checkout after `close` waits for ever: a connection handed out then was never given back (the
 * adapter keeps it on a client it has closed), so the pool's `end` never finished and the gateway
 * never exited; refused, the adapter would try again every few seconds, a timer that kept it alive.
 */
function never(): Promise<PoolClient> {
  return new Promise(() => undefined);
}
