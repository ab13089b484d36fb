import { ConfigError } from '../setting';
import { BROWSER_RECONNECTION_DELAY_MAX_MS, JWT_SECRET_ADVISED_LENGTH, loadRealtimeGatewayConfig, longestReconnectWindowMs, MAX_JWT_CLOCK_TOLERANCE_MS } from './realtime-gateway';

/** An allow-list, so that the only warning a case can get is the one it is about. */
const GATEWAY_ALLOWED_ORIGINS = 'https://app.example.com';

describe('realtime gateway configuration', () => {
  describe('a short JWT_SECRET', () => {
    it('loads a 20-character secret (at least the 16 it always took) with a warning that does not show it', () => {
      const secret = 'twenty-chars-secret!';
      expect(secret).toHaveLength(20);
      const warnings: string[] = [];
      const config = loadRealtimeGatewayConfig({ JWT_SECRET: secret, GATEWAY_ALLOWED_ORIGINS }, (message) => warnings.push(message));
      expect(config.jwtSecret).toBe(secret);
      expect(warnings).toEqual([expect.stringMatching(new RegExp(`^JWT_SECRET is shorter than ${JWT_SECRET_ADVISED_LENGTH} characters`))]);
      expect(warnings.join('\n')).not.toContain(secret);
    });

    it('loads a 32-character secret without a warning', () => {
      const secret = 'a-secret-of-thirty-two-character';
      expect(secret).toHaveLength(32);
      const warnings: string[] = [];
      expect(loadRealtimeGatewayConfig({ JWT_SECRET: secret, GATEWAY_ALLOWED_ORIGINS }, (message) => warnings.push(message)).jwtSecret).toBe(secret);
      expect(warnings).toEqual([]);
    });

    it('does not warn when only a public key is set', () => {
      const warnings: string[] = [];
      loadRealtimeGatewayConfig({ JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----', GATEWAY_ALLOWED_ORIGINS }, (message) => warnings.push(message));
      expect(warnings).toEqual([]);
    });

    it('warns on the process by default, as the app starts (its logger does not exist yet)', () => {
      const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      try {
        loadRealtimeGatewayConfig({ JWT_SECRET: 'twenty-chars-secret!', GATEWAY_ALLOWED_ORIGINS });
        expect(emitWarning).toHaveBeenCalledTimes(1);
        expect(emitWarning.mock.calls[0]![0]).toMatch(/^JWT_SECRET is shorter than 32 characters/);
        expect(JSON.stringify(emitWarning.mock.calls)).not.toContain('twenty-chars-secret!');
      } finally {
        emitWarning.mockRestore();
      }
    });
  });

  describe('the Origin allow-list', () => {
    const secret = 'a-secret-of-thirty-two-character';

    it('warns when it is empty: any web site may then connect', () => {
      const warnings: string[] = [];
      expect(loadRealtimeGatewayConfig({ JWT_SECRET: secret }, (message) => warnings.push(message)).allowedOrigins).toEqual([]);
      expect(warnings).toEqual([expect.stringMatching(/^GATEWAY_ALLOWED_ORIGINS is empty: a page on any web site may open a Socket\.IO connection/)]);
    });

    it('does not warn when it lists an origin', () => {
      const warnings: string[] = [];
      expect(loadRealtimeGatewayConfig({ JWT_SECRET: secret, GATEWAY_ALLOWED_ORIGINS }, (message) => warnings.push(message)).allowedOrigins).toEqual([GATEWAY_ALLOWED_ORIGINS]);
      expect(warnings).toEqual([]);
    });
  });

  describe('the clock tolerance of browser tokens (JWT_CLOCK_TOLERANCE_MS)', () => {
    const base = { JWT_SECRET: 'a-secret-of-thirty-two-character', GATEWAY_ALLOWED_ORIGINS };
    const tolerance = (value?: string): number => loadRealtimeGatewayConfig({ ...base, JWT_CLOCK_TOLERANCE_MS: value }, () => undefined).jwtClockToleranceMs;
    const problems = (value: string): string[] => {
      try {
        loadRealtimeGatewayConfig({ ...base, JWT_CLOCK_TOLERANCE_MS: value }, () => undefined);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };

    it('is 30 s by default, and takes 0 (none) up to 5 minutes', () => {
      expect(tolerance()).toBe(30_000);
      expect(tolerance('')).toBe(30_000);
      expect(tolerance('0')).toBe(0);
      expect(tolerance('1000')).toBe(1_000);
      expect(tolerance(String(MAX_JWT_CLOCK_TOLERANCE_MS))).toBe(300_000);
    });

    it('refuses a tolerance given in seconds, one over 5 minutes, a negative one and one that is not a number', () => {
      expect(problems('30')).toEqual(['JWT_CLOCK_TOLERANCE_MS: 0 (none) or at least 1000 ms (a value in seconds?) (got "30")']);
      expect(problems('300001')).toEqual(['JWT_CLOCK_TOLERANCE_MS: at most 300000 (5 minutes) (got "300001")']);
      expect(problems('-1000')).toEqual([expect.stringMatching(/^JWT_CLOCK_TOLERANCE_MS: .* \(got "-1000"\)$/)]);
      expect(problems('30s')).toEqual([expect.stringMatching(/^JWT_CLOCK_TOLERANCE_MS: .* \(got "30s"\)$/)]);
      expect(problems('1500.5')).toEqual([expect.stringMatching(/^JWT_CLOCK_TOLERANCE_MS: /)]);
    });
  });

  describe('the reconnect window (GATEWAY_RECONNECT_WINDOW_MS)', () => {
    const base = { JWT_SECRET: 'a-secret-of-thirty-two-character', GATEWAY_ALLOWED_ORIGINS };
    const problems = (env: NodeJS.ProcessEnv): string[] => {
      try {
        loadRealtimeGatewayConfig({ ...base, ...env }, () => undefined);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };

    it('is the browsers’ longest wait between reconnections plus a margin by default, and 0 turns it off', () => {
      const byDefault = loadRealtimeGatewayConfig(base, () => undefined).reconnectWindowMs;
      expect(byDefault).toBe(7_000);
      expect(byDefault).toBeGreaterThan(BROWSER_RECONNECTION_DELAY_MAX_MS);
      expect(loadRealtimeGatewayConfig({ ...base, GATEWAY_RECONNECT_WINDOW_MS: '0' }, () => undefined).reconnectWindowMs).toBe(0);
    });

    it('refuses a window given in seconds', () => {
      expect(problems({ GATEWAY_RECONNECT_WINDOW_MS: '7' })).toEqual(['GATEWAY_RECONNECT_WINDOW_MS: 0 (off) or at least 1000 ms (a value in seconds?) (got "7")']);
    });

    it('refuses a window an emit held for would outlast its claim’s lease with, and takes the longest that fits', () => {
      const timing = { GATEWAY_ACK_TIMEOUT_MS: '5000', GATEWAY_OUTCOME_GRACE_MS: '3000' };
      const longest = longestReconnectWindowMs({ ackTimeoutMs: 5_000, outcomeGraceMs: 3_000 });
      expect(longest).toBe(7_000);
      expect(loadRealtimeGatewayConfig({ ...base, ...timing, GATEWAY_RECONNECT_WINDOW_MS: String(longest) }, () => undefined).reconnectWindowMs).toBe(longest);
      expect(problems({ ...timing, GATEWAY_RECONNECT_WINDOW_MS: String(longest + 1) })).toEqual([
        expect.stringMatching(/^GATEWAY_RECONNECT_WINDOW_MS must be at most GATEWAY_ACK_TIMEOUT_MS \+ GATEWAY_OUTCOME_GRACE_MS - 1000 \(7000\): .*lease/),
      ]);
    });

    it('shortens the default window to the longest the lease allows, with a warning, so a short timeout and grace set before it still start', () => {
      // An installation from before the window, as this suite's gateway-crash test runs one: 4 s and 1 s.
      const warnings: string[] = [];
      const config = loadRealtimeGatewayConfig({ ...base, GATEWAY_ACK_TIMEOUT_MS: '4000', GATEWAY_OUTCOME_GRACE_MS: '1000' }, (warning) => void warnings.push(warning));
      expect(config.reconnectWindowMs).toBe(longestReconnectWindowMs({ ackTimeoutMs: 4_000, outcomeGraceMs: 1_000 }));
      expect(warnings).toEqual([expect.stringMatching(/^GATEWAY_RECONNECT_WINDOW_MS is not set and its default \(7000 ms\) does not fit .*: the window is 4000 ms/)]);
      // The same window set by hand is refused: it would not be the window asked for.
      expect(problems({ GATEWAY_ACK_TIMEOUT_MS: '4000', GATEWAY_OUTCOME_GRACE_MS: '1000', GATEWAY_RECONNECT_WINDOW_MS: '7000' })).toHaveLength(1);
    });
  });
});
