import { performance } from 'node:perf_hooks';
import { pickLocale } from '../../apps/message-center/src/routing/locale';

/**
 * `npm run bench:locale`: the message center picks a locale for every delivery it plans, so a
 * broadcast to 40,000 users over three channels picks 120,000 times, with the same templates each
 * time. Prints the time of `BENCH_PICKS` picks (120,000) among a route's ten template locales, with
 * the candidates of requests, profiles and devices, in three rounds (the first warms up).
 */
const PICKS = Number(process.env.BENCH_PICKS ?? 120_000);
const say = (line: string): void => void process.stdout.write(`${line}\n`);

const templates = ['en', 'en-GB', 'zh-CN', 'zh-TW', 'de', 'fr', 'es', 'ja', 'ko', 'pt-BR'];
const candidates: (string | null)[][] = [
  ['de-AT', 'en-US'],
  ['zh-HK', null],
  ['pt_PT', 'en'],
  ['xx', 'fr-CA'],
  [null, 'zh-Hans-CN'],
];

for (let round = 1; round <= 3; round++) {
  // The planner's list of template locales is made once per request, as here once per round.
  const available = [...templates];
  const started = performance.now();
  let picked = 0;
  for (let i = 0; i < PICKS; i++) picked += pickLocale(candidates[i % candidates.length]!, available, 'en').length;
  const ms = performance.now() - started;
  say(`round ${round}: ${PICKS.toLocaleString('en')} picks in ${ms.toFixed(0)} ms, ${((ms * 1000) / PICKS).toFixed(2)} µs a pick (${picked} characters picked)`);
}
