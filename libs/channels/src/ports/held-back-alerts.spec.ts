import { HeldBackAlerts } from './held-back-alerts';

describe('held-back alerts', () => {
  it('lets one line of a kind through per interval, with the count held back since, each kind on its own', () => {
    const alerts = new HeldBackAlerts(60_000);
    expect(alerts.take('smtp', 0)).toBe(0);
    expect(alerts.take('smtp', 10_000, 3)).toBeUndefined();
    expect(alerts.take('hms', 10_000)).toBe(0);
    expect(alerts.take('smtp', 59_999)).toBeUndefined();
    expect(alerts.take('smtp', 60_000)).toBe(4);
    expect(alerts.take('smtp', 60_001)).toBeUndefined();
  });

  it('takes a clock stepped back for the interval passed, rather than staying silent until it catches up', () => {
    const alerts = new HeldBackAlerts(60_000);
    expect(alerts.take('smtp', 600_000)).toBe(0);
    expect(alerts.take('smtp', 1_000)).toBe(0);
  });
});
